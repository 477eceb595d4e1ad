//! Times packing and unpacking, for comparing with `tar | zstd`:
//! `archive_bench pack ROOT OUT [--sync [--write-behind]]`, `archive_bench unpack FILE DEST [--sync]`,
//! `archive_bench verify FILE`.

use std::fs::File;
use std::io::BufWriter;
use std::path::Path;
use std::time::Instant;

use bale_archive::{unpack, verify, Limits, PackMeta, PackageTree, UnpackOptions, WriteBehind};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let start = Instant::now();
    match args.get(1).map(String::as_str) {
        Some("pack") => {
            let tree = PackageTree::scan(Path::new(&args[2]))?;
            let scanned = start.elapsed();
            let meta = PackMeta {
                arch: None,
                coordinate: "org.example:bench:1.0.0".parse()?,
                stack: Default::default(),
                dependencies: Default::default(),
                source: Default::default(),
                mtime: 0,
            };
            // `--sync` makes the package durable as `bale pack` does;
            // `--write-behind` starts its writeback while packing.
            let sync = args.iter().any(|a| a == "--sync");
            let behind = args.iter().any(|a| a == "--write-behind");
            let file = File::create(&args[3])?;
            let (written, file) = if behind {
                let mut out = BufWriter::with_capacity(1 << 20, WriteBehind::new(file));
                let written = tree.write(&meta, b"", &mut out)?;
                (
                    written,
                    out.into_inner().map_err(|e| e.into_error())?.into_inner(),
                )
            } else {
                let mut out = BufWriter::with_capacity(1 << 20, file);
                let written = tree.write(&meta, b"", &mut out)?;
                (written, out.into_inner().map_err(|e| e.into_error())?)
            };
            let packed = start.elapsed();
            if sync {
                file.sync_all()?;
            }
            eprintln!(
                "pack: scan {:.3}s, write {:.3}s, sync {:.3}s, total {:.3}s, {} bytes",
                scanned.as_secs_f64(),
                (packed - scanned).as_secs_f64(),
                (start.elapsed() - packed).as_secs_f64(),
                start.elapsed().as_secs_f64(),
                written.size
            );
        }
        Some("unpack") => {
            let sync = args.get(4).is_some_and(|a| a == "--sync");
            let opts = UnpackOptions {
                sync,
                ..UnpackOptions::default()
            };
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
            eprintln!(
                "sha256 {:.0} MB/s {:x}",
                data.len() as f64 / secs / 1e6,
                digest[0]
            );
        }
        Some("verify") => {
            verify(File::open(&args[2])?, &Limits::default())?;
            eprintln!("verify: {:.3}s", start.elapsed().as_secs_f64());
        }
        _ => {
            return Err(
                "usage: archive_bench pack ROOT OUT | unpack FILE DEST [--sync] | verify FILE"
                    .into(),
            )
        }
    }
    Ok(())
}
