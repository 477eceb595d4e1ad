//! Times packing and unpacking, for comparing with `tar | zstd`:
//! `archive_bench pack ROOT OUT`, `archive_bench unpack FILE DEST [--sync]`,
//! `archive_bench verify FILE`.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::Instant;

use bale_archive::{unpack, verify, Limits, PackMeta, PackageTree, UnpackOptions};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let start = Instant::now();
    match args.get(1).map(String::as_str) {
        Some("pack") => {
            let tree = PackageTree::scan(Path::new(&args[2]))?;
            let scanned = start.elapsed();
            let meta = PackMeta {
                coordinate: "org.example:bench:1.0.0".parse()?,
                stack: Default::default(),
                dependencies: Default::default(),
                source: Default::default(),
                mtime: 0,
            };
            let mut out = BufWriter::with_capacity(1 << 20, File::create(&args[3])?);
            let written = tree.write(&meta, b"", &mut out)?;
            out.flush()?;
            eprintln!(
                "pack: scan {:.3}s, total {:.3}s, {} bytes",
                scanned.as_secs_f64(),
                start.elapsed().as_secs_f64(),
                written.size
            );
        }
        Some("unpack") => {
            let sync = args.get(4).is_some_and(|a| a == "--sync");
            let opts = UnpackOptions { sync, ..UnpackOptions::default() };
            unpack(File::open(&args[2])?, Path::new(&args[3]), &opts)?;
            eprintln!("unpack: {:.3}s", start.elapsed().as_secs_f64());
        }
        Some("compress") => {
            let workers: u32 = args[2].parse()?;
            let stdin = std::io::stdin().lock();
            let stdout = BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
            bale_archive::compress_with_workers(stdin, stdout, workers)?;
            eprintln!("compress: {:.3}s", start.elapsed().as_secs_f64());
        }
        Some("hash") => {
            use sha2::Digest;
            let data = std::fs::read(&args[2])?;
            let start = Instant::now();
            let digest = sha2::Sha256::digest(&data);
            let secs = start.elapsed().as_secs_f64();
            eprintln!("sha256 {:.0} MB/s {:x}", data.len() as f64 / secs / 1e6, digest[0]);
        }
        Some("verify") => {
            verify(File::open(&args[2])?, &Limits::default())?;
            eprintln!("verify: {:.3}s", start.elapsed().as_secs_f64());
        }
        _ => return Err("usage: archive_bench pack ROOT OUT | unpack FILE DEST [--sync] | verify FILE".into()),
    }
    Ok(())
}
