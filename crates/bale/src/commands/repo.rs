//! The repository's commands: `publish`, `fetch`, and installing by
//! coordinate (`serve` is in serve.rs, `token` in token.rs).

use std::path::{Path, PathBuf};

use anyhow::Context;
use bale_coordinate::Coordinate;
use bale_repo::{FetchOptions, PublishOptions, PublishStatus};

use crate::cli::{FetchArgs, PublishArgs};
use crate::exit::{Failure, Internal};
use crate::machine::Machine;
use crate::printer::Printer;

pub fn publish(args: PublishArgs, machine: &Machine, printer: &Printer) -> Result<(), Failure> {
    let options = PublishOptions {
        repo: machine.repo_url(args.repo),
        file: args.file.clone(),
        signature: None,
        token: machine.token(),
    };
    let size = std::fs::metadata(&args.file).map(|m| m.len()).unwrap_or(0);
    let bar = printer.bytes_bar("Publishing", size);
    let progress = |done: u64, _total: Option<u64>| bar.set_position(done);
    let published = machine
        .runtime()?
        .block_on(bale_repo::publish(&options, &progress));
    bar.finish_and_clear();
    let published = published?;
    if printer.json() {
        return printer.print_json(&serde_json::json!({
            "coordinate": published.coordinate.to_string(), "digest": published.digest, "url": published.url,
            "unchanged": published.status == PublishStatus::Unchanged, "signed_by": published.signed_by,
        }));
    }
    let verb = if published.status == PublishStatus::Unchanged {
        "Unchanged"
    } else {
        "Published"
    };
    printer.status(
        verb,
        format!("{} at {}", published.coordinate, published.url),
    );
    Ok(())
}

pub fn fetch(args: FetchArgs, machine: &Machine, printer: &Printer) -> Result<(), Failure> {
    let coordinate: Coordinate = args.coordinate.parse()?;
    let fetched = download(
        machine,
        &coordinate,
        machine.repo_url(args.repo),
        &args.output,
        None,
        printer,
    )?;
    if printer.json() {
        return printer.print_json(&serde_json::json!({
            "coordinate": coordinate.to_string(), "archive": fetched.archive, "signature": fetched.signature,
            "attestations": fetched.attestations, "digest": fetched.digest,
        }));
    }
    printer.status(
        "Fetched",
        format!("{coordinate} → {}", fetched.archive.display()),
    );
    Ok(())
}

/// Downloads a coordinate into a scratch directory, verifying signature and
/// hashes, for `bale install COORDINATE`. The caller installs the archive.
pub fn fetch_for_install(
    machine: &Machine,
    coordinate: &Coordinate,
    repo: Option<String>,
    printer: &Printer,
) -> Result<(tempfile::TempDir, PathBuf), Failure> {
    let tmp = machine.home()?.tmp_dir();
    std::fs::create_dir_all(&tmp)
        .with_context(|| format!("creating {}", tmp.display()))
        .internal()?;
    let scratch = tempfile::Builder::new()
        .prefix("fetch-")
        .tempdir_in(&tmp)
        .internal()?;
    // The store checks the signature (fetched beside the archive) when it
    // installs, so the download checks only the hashes.
    let fetched = download(
        machine,
        coordinate,
        machine.repo_url(repo),
        scratch.path(),
        None,
        printer,
    )?;
    Ok((scratch, fetched.archive))
}

fn download(
    machine: &Machine,
    coordinate: &Coordinate,
    repo: String,
    out_dir: &Path,
    trusted_keys_dir: Option<PathBuf>,
    printer: &Printer,
) -> Result<bale_repo::Fetched, Failure> {
    std::fs::create_dir_all(out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let options = FetchOptions {
        arch: None,
        repo,
        coordinate: coordinate.clone(),
        out_dir: out_dir.to_path_buf(),
        trusted_keys_dir,
        allow_unsigned: false,
        token: machine.token(),
    };
    let bar = printer.bytes_bar("Downloading", 0);
    let progress = |done: u64, total: Option<u64>| {
        if let Some(total) = total {
            bar.set_length(total);
        }
        bar.set_position(done);
    };
    let fetched = machine
        .runtime()?
        .block_on(bale_repo::fetch(&options, &progress));
    bar.finish_and_clear();
    Ok(fetched?)
}
