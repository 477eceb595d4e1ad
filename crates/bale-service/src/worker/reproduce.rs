//! Reproducibility checks (docs/service.md, "Proving reproducibility"): the
//! first build of a checked build keeps its package in the object store and
//! puts the build back in the queue; the second build, in a fresh
//! environment and on another worker when one is live, compares its package
//! with the first byte for byte. Only a package that reproduced is published.

use std::io::Read;
use std::path::{Path, PathBuf};

use bale_api::{CheckOutcome, Difference, Reproducibility};
use bale_db::builds::{BuildRecord, StepRecord};
use bale_db::queue::{self, BuildStart, Claimed, Rebuild};
use sha2::{Digest, Sha256};

use super::Context;
use crate::ServiceError;

/// How many differences a build's error names; the record lists them all.
const NAMED_IN_ERROR: usize = 10;

/// The object-store key of a checked build's first package.
pub(crate) fn first_key(build: i64) -> String {
    format!("checks/builds/{build}/first.bale")
}

/// The object-store key of the second package of a build that did not reproduce.
pub(crate) fn second_key(build: i64) -> String {
    format!("checks/builds/{build}/second.bale")
}

/// `sha256:<hex>` of a file.
async fn digest_of(path: &Path) -> Result<String, ServiceError> {
    let file = path.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let mut input = std::fs::File::open(&file).map_err(|e| ServiceError::io(&file, e))?;
        let mut hasher = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = input
                .read(&mut buf)
                .map_err(|e| ServiceError::io(&file, e))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
        }
        Ok(format!("sha256:{}", hex::encode(hasher.finalize())))
    })
    .await
    .map_err(|e| ServiceError::Internal(e.to_string()))?
}

/// The ref the second build checks out: the commit the first one built,
/// when the source is git; a plain directory is used as it is again.
pub(crate) fn rebuild_ref(record: &BuildRecord) -> Option<&str> {
    let git = record.git_ref.is_some() || super::source::is_git_url(&record.source);
    if record.is_rebuild() && git {
        record.commit.as_deref().or(record.git_ref.as_deref())
    } else {
        record.git_ref.as_deref()
    }
}

/// How the first build of a check ended.
pub(crate) enum HandOver {
    /// The package is kept and the build waits for its second build.
    Queued,
    /// The package could not be kept: the build fails with this error.
    Failed(ServiceError),
    /// The worker no longer held the build.
    Lost,
}

/// Keeps the first package in the object store and queues the second build.
pub(crate) async fn hand_over(
    ctx: &Context,
    claimed: &Claimed,
    package: &Path,
    steps: Vec<StepRecord>,
    start: BuildStart,
) -> (HandOver, String) {
    let id = claimed.build.id;
    let digest = match digest_of(package).await {
        Ok(digest) => digest,
        Err(error) => return (HandOver::Failed(error), String::new()),
    };
    if let Err(error) = ctx.storage.put_file(&first_key(id), package).await {
        return (HandOver::Failed(error.into()), digest);
    }
    let record = Reproducibility {
        outcome: CheckOutcome::Pending,
        first_worker: ctx.options.name.clone(),
        first_digest: digest.clone(),
        second_worker: None,
        second_digest: None,
        differences: Vec::new(),
        kept: Vec::new(),
    };
    let json = match serde_json::to_string(&record) {
        Ok(json) => json,
        Err(e) => {
            return (
                HandOver::Failed(ServiceError::Internal(e.to_string())),
                digest,
            )
        }
    };
    let rebuild = Rebuild {
        first_worker: ctx.options.name.clone(),
        reproducibility: json,
        steps,
        start,
    };
    match queue::queue_rebuild(&ctx.db, id, claimed.attempt, &rebuild).await {
        Ok(true) => (HandOver::Queued, digest),
        Ok(false) => (HandOver::Lost, digest),
        Err(error) => (HandOver::Failed(error.into()), digest),
    }
}

/// What the second build found.
pub(crate) struct Compared {
    /// The check's record, complete.
    pub record: Reproducibility,
    /// Whether the two packages are the same bytes.
    pub identical: bool,
}

/// Compares the second package with the first one kept in the object store;
/// keeps the second too when they differ. `work` is the attempt's own directory.
pub(crate) async fn compare(
    ctx: &Context,
    build: &BuildRecord,
    package: &Path,
    work: &Path,
) -> Result<Compared, ServiceError> {
    let mut record: Reproducibility = build
        .reproducibility
        .as_deref()
        .and_then(|json| serde_json::from_str(json).ok())
        .ok_or_else(|| {
            ServiceError::Internal(format!(
                "build {} has no record of its first build to compare with",
                build.id
            ))
        })?;
    let digest = digest_of(package).await?;
    record.second_worker = Some(ctx.options.name.clone());
    record.second_digest = Some(digest.clone());
    if digest == record.first_digest {
        record.outcome = CheckOutcome::Reproducible;
        return Ok(Compared {
            record,
            identical: true,
        });
    }
    let first: PathBuf = work.join("first.bale");
    if !ctx.storage.download(&first_key(build.id), &first).await? {
        return Err(ServiceError::Internal(format!(
            "the first package of build {} is gone from the object store ({})",
            build.id,
            first_key(build.id)
        )));
    }
    let name = package
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "the package".into());
    let second = package.to_path_buf();
    let differences = tokio::task::spawn_blocking(move || {
        let read = |path: &Path| {
            std::fs::File::open(path)
                .map_err(|e| ServiceError::io(path, e))
                .and_then(|file| {
                    bale_archive::read_index(std::io::BufReader::new(file)).map_err(|e| {
                        ServiceError::Internal(format!("reading {}: {e}", path.display()))
                    })
                })
                .map(|(index, _)| index)
        };
        Ok::<_, ServiceError>(super::compare::differences(
            &read(&first)?,
            &read(&second)?,
            &name,
        ))
    })
    .await
    .map_err(|e| ServiceError::Internal(e.to_string()))??;
    ctx.storage.put_file(&second_key(build.id), package).await?;
    record.outcome = CheckOutcome::NotReproducible;
    record.differences = differences;
    record.kept = vec![first_key(build.id), second_key(build.id)];
    Ok(Compared {
        record,
        identical: false,
    })
}

/// The error of a build that did not reproduce: both workers and the first differences.
pub(crate) fn not_reproducible_error(record: &Reproducibility) -> String {
    let mut named: Vec<String> = record
        .differences
        .iter()
        .take(NAMED_IN_ERROR)
        .map(Difference::to_string)
        .collect();
    if record.differences.len() > NAMED_IN_ERROR {
        named.push(format!(
            "and {} more",
            record.differences.len() - NAMED_IN_ERROR
        ));
    }
    format!(
        "not reproducible: the packages built by {} and {} differ: {}",
        record.first_worker,
        record
            .second_worker
            .as_deref()
            .unwrap_or("the second worker"),
        named.join("; ")
    )
}
