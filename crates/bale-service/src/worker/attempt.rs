//! One attempt at one build: source, `bale build` in a child process with
//! its lease renewed meanwhile, signing and publishing, the stored log and
//! the record.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bale_db::builds::{BuildRecord, BuildStatus, StepRecord};
use bale_db::queue::{self, BuildEnd, BuildStart, Claimed, Renewal};
use bale_db::{build_log, Database};
use bale_manifest::{Catalog, Kinds, Manifest, ParseOptions};
use bale_stack::Stacks;
use tokio::sync::{mpsc, watch};

use super::child::{self, BuildChild, ChildExit};
use super::log::LiveLog;
use super::publish::publish;
use super::reproduce::{self, HandOver};
use super::source;
use super::Context;
use crate::ServiceError;

/// The object-store key of a build's stored log.
pub fn log_key(build: i64) -> String {
    format!("logs/builds/{build}.log")
}

/// How an attempt ended, before it is recorded.
struct Ended {
    status: BuildStatus,
    error: Option<String>,
    steps: Vec<StepRecord>,
    start: BuildStart,
    installed_size: Option<i64>,
    package_digest: Option<String>,
    /// The reproducibility check's record, once the second build compared.
    reproducibility: Option<bale_api::Reproducibility>,
}

impl Ended {
    fn failed(error: &ServiceError, start: BuildStart) -> Ended {
        Ended {
            status: BuildStatus::Failed,
            error: Some(bale_api::error::with_causes(error)),
            steps: Vec::new(),
            start,
            installed_size: None,
            package_digest: None,
            reproducibility: None,
        }
    }
}

/// How an attempt's steps came out.
enum Finish {
    /// The build ended: record it.
    Ended(Box<Ended>),
    /// The first build of a check: the build is queued again for its second build.
    Rebuild,
}

/// Why the worker stopped holding the build before it ended by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    Cancel,
    Lost,
    /// The worker is stopping: the build goes back to the queue.
    Shutdown,
}

/// Runs one claimed build to its end and records it (unless the lease was
/// lost); when `shutdown` turns true first, kills the build and puts it
/// back in the queue.
pub(super) async fn run(
    ctx: Arc<Context>,
    claimed: Claimed,
    work_base: &Path,
    shutdown: watch::Receiver<bool>,
) {
    let id = claimed.build.id;
    let attempt = claimed.attempt;
    let db = ctx.db.clone();
    let log = match LiveLog::start(&db, id, ctx.scrubber.clone()).await {
        Ok(log) => log,
        Err(error) => {
            tracing::error!(build = id, %error, "cannot start the build's log; the lease will run out and the build will be retried");
            return;
        }
    };
    log.line(format!(
        "worker {}: build {id}, attempt {attempt}",
        ctx.options.name
    ));

    let (stop_tx, stop_rx) = watch::channel(None::<Stop>);
    let why = stop_rx.clone();
    let renewer = tokio::spawn(renew(
        db.clone(),
        id,
        attempt,
        ctx.options.lease,
        stop_tx,
        shutdown,
    ));
    let mut maintainer = None;
    let finished = build(&ctx, &claimed, work_base, &log, stop_rx, &mut maintainer).await;
    renewer.abort();
    let ended = match finished {
        Some(Finish::Rebuild) => {
            log.close().await;
            tracing::info!(
                build = id,
                attempt,
                "first package kept; queued again for its reproducibility check"
            );
            return;
        }
        Some(Finish::Ended(ended)) => Some(*ended),
        None => None,
    };

    if ended.is_none() && *why.borrow() == Some(Stop::Shutdown) {
        release(&db, id, attempt, log).await;
        return;
    }
    let Some(mut ended) = ended.map(|mut ended| {
        ended.error = ended.error.map(|e| ctx.scrubber.scrub(&e));
        ended
    }) else {
        log.line("the lease was lost: another worker has the build now");
        log.close().await;
        tracing::warn!(
            build = id,
            attempt,
            "lease lost; the build was left to another worker"
        );
        return;
    };
    if claimed.build.is_rebuild() && ended.reproducibility.is_none() {
        // A second build that failed before comparing says it was the second.
        ended.error = ended
            .error
            .map(|e| format!("the second build of the reproducibility check failed: {e}"));
    }
    if let Some(error) = &ended.error {
        log.line(format!("error: {error}"));
    }
    log.line(format!("build {id} {}", ended.status));
    log.close().await;

    let (log_key, text) = store_log(&ctx, id, &mut ended).await;
    let differences: Vec<String> = ended
        .reproducibility
        .iter()
        .flat_map(|r| r.differences.iter().map(ToString::to_string))
        .collect();
    let end = BuildEnd {
        status: ended.status,
        error: ended.error,
        steps: ended.steps,
        start: ended.start,
        installed_size: ended.installed_size,
        package_digest: ended.package_digest,
        log_key,
        reproducibility: ended
            .reproducibility
            .as_ref()
            .and_then(|r| serde_json::to_string(r).ok()),
    };
    record_end(&ctx, &claimed, &end, text, maintainer, differences).await;
}

/// Puts a build the stopping worker was running back in the queue.
async fn release(db: &Database, id: i64, attempt: i64, log: LiveLog) {
    log.line("the worker stopped: the build goes back to the queue");
    log.close().await;
    match queue::release(db, id, attempt).await {
        Ok(_) => tracing::info!(build = id, attempt, "released: the worker is stopping"),
        Err(error) => {
            tracing::error!(build = id, %error, "cannot release the build; its lease will run out")
        }
    }
}

/// Copies the build's live log to the object store; returns its key when
/// stored, and the text for a failure notice. A successful build whose log
/// is lost says so in its error.
async fn store_log(ctx: &Context, id: i64, ended: &mut Ended) -> (Option<String>, String) {
    let key = log_key(id);
    let mut text = String::new();
    let stored = match build_log::read(&ctx.db, id, 0, i64::MAX).await {
        Ok(lines) => {
            text = lines.into_iter().map(|l| l.line + "\n").collect();
            ctx.storage
                .put_bytes(&key, bytes::Bytes::from(text.clone()))
                .await
                .map_err(ServiceError::from)
        }
        Err(error) => Err(error.into()),
    };
    if let Err(error) = &stored {
        tracing::error!(build = id, %error, "cannot store the build's log");
        if ended.error.is_none() && ended.status == BuildStatus::Succeeded {
            ended.error = Some(format!("the log could not be stored: {error}"));
        }
    }
    (stored.is_ok().then_some(key), text)
}

/// Records the build's end, and sends a failure notice when the worker
/// has one configured.
async fn record_end(
    ctx: &Context,
    claimed: &Claimed,
    end: &BuildEnd,
    log: String,
    maintainer: Option<String>,
    differences: Vec<String>,
) {
    let (id, attempt) = (claimed.build.id, claimed.attempt);
    match queue::finish(&ctx.db, id, attempt, end).await {
        Ok(true) => {
            tracing::info!(build = id, status = %end.status, "build ended");
            let failed = matches!(
                end.status,
                BuildStatus::Failed | BuildStatus::TimedOut | BuildStatus::NotReproducible
            );
            if let (true, Some(config)) = (failed, &ctx.options.notice) {
                let failure = crate::notify::Failure {
                    build: id,
                    coordinate: end
                        .start
                        .coordinate
                        .clone()
                        .unwrap_or_else(|| claimed.build.source.clone()),
                    status: end.status.to_string(),
                    reason: end.error.clone().unwrap_or_default(),
                    log,
                    maintainer,
                    differences,
                };
                crate::notify::tell(config, &ctx.options.public_url, failure);
            }
        }
        Ok(false) => tracing::warn!(
            build = id,
            attempt,
            "the build was taken over before it could be recorded"
        ),
        Err(error) => {
            tracing::error!(build = id, %error, "cannot record the build's end; its lease will run out")
        }
    }
}

/// Renews the lease a few times per lease period (at least every 2 s, which
/// is also how soon a cancel is noticed), telling the build when to stop,
/// and at once when the worker is `shutdown`.
async fn renew(
    db: Database,
    id: i64,
    attempt: i64,
    lease: std::time::Duration,
    stop: watch::Sender<Option<Stop>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let every = (lease / 3).clamp(
        std::time::Duration::from_millis(50),
        std::time::Duration::from_secs(2),
    );
    let lease_ms = lease.as_millis() as i64;
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            Ok(_) = shutdown.wait_for(|stopping| *stopping) => {
                let _ = stop.send(Some(Stop::Shutdown));
                return;
            }
        }
        match queue::renew(&db, id, attempt, lease_ms).await {
            Ok(Renewal::Held) => {}
            Ok(Renewal::CancelRequested) => {
                let _ = stop.send(Some(Stop::Cancel));
            }
            Ok(Renewal::Lost) => {
                let _ = stop.send(Some(Stop::Lost));
                return;
            }
            Err(error) => {
                tracing::warn!(build = id, %error, "cannot renew the lease; trying again")
            }
        }
    }
}

/// Waits until the renewer says to stop.
async fn stopped(stop: &mut watch::Receiver<Option<Stop>>) -> Stop {
    loop {
        if let Some(reason) = *stop.borrow_and_update() {
            return reason;
        }
        if stop.changed().await.is_err() {
            // The renewer is gone without a reason: keep building.
            std::future::pending::<()>().await;
        }
    }
}

/// How a step ends the attempt before its last: with an end to record, or
/// `None` when the lease was lost (or the worker is stopping).
type Early = Option<Box<Ended>>;

/// An early end with a record.
fn end(ended: Ended) -> Early {
    Some(Box::new(ended))
}

/// Builds and publishes (or hands over to a check's second build); `None` when the lease was lost.
async fn build(
    ctx: &Context,
    claimed: &Claimed,
    work_base: &Path,
    log: &LiveLog,
    stop: watch::Receiver<Option<Stop>>,
    maintainer: &mut Option<String>,
) -> Option<Finish> {
    attempt_steps(ctx, claimed, work_base, log, stop, maintainer)
        .await
        .map_or_else(|early| early.map(Finish::Ended), Some)
}

/// The attempt's steps: work directory, source, `bale build`, its output, publishing.
async fn attempt_steps(
    ctx: &Context,
    claimed: &Claimed,
    work_base: &Path,
    log: &LiveLog,
    mut stop: watch::Receiver<Option<Stop>>,
    maintainer: &mut Option<String>,
) -> Result<Finish, Early> {
    let record = &claimed.build;
    let work = work_dir(work_base, record.id)?;
    if record.is_rebuild() {
        log.line(format!(
            "reproducibility check: building again in a fresh environment, to compare with the package of {}",
            record.first_worker.as_deref().unwrap_or("the first build")
        ));
    }
    let prepared = fetch_source(
        record,
        work.path(),
        log,
        &mut stop,
        ctx.options.allow_local_sources,
    )
    .await?;
    let (start, named) = describe(ctx, &prepared, record.arch.as_deref()).await;
    *maintainer = named;
    if record.is_rebuild() && record.commit.is_some() && prepared.commit != record.commit {
        let error = ServiceError::Source(format!(
            "the source changed between the two builds of the reproducibility check: the first built {}, the second found {}",
            record.commit.as_deref().unwrap_or("-"),
            prepared.commit.as_deref().unwrap_or("no commit")
        ));
        return Err(end(Ended::failed(&error, start)));
    }
    let _ = queue::record_start(&ctx.db, record.id, claimed.attempt, &start).await;

    let (args, envs) = child::build_command(ctx, record, &prepared, &work.path().join("out"));
    let (exit, seen_steps) = run_build(ctx, args, envs, log, &mut stop, &start).await?;
    let (package, steps, start) = read_output(exit, seen_steps, start)?;
    if ctx.options.key.is_none() && !ctx.options.allow_unsigned {
        let error = ServiceError::Publish(
            "this worker has no signing key and the repository takes only signed packages: \
             start it with --key (see `bale key generate`) or --allow-unsigned"
                .into(),
        );
        return Err(end(Ended {
            steps,
            ..Ended::failed(&error, start)
        }));
    }
    if record.is_rebuild() {
        return Ok(Finish::Ended(Box::new(
            compare_and_publish(ctx, record, &package, work.path(), log, steps, start).await,
        )));
    }
    if record.check {
        return hand_over(ctx, claimed, &package, log, steps, start).await;
    }
    Ok(Finish::Ended(Box::new(
        publish_package(ctx, &package, log, steps, start).await,
    )))
}

/// The first build of a check: keeps its package and queues the second build.
async fn hand_over(
    ctx: &Context,
    claimed: &Claimed,
    package: &Path,
    log: &LiveLog,
    steps: Vec<StepRecord>,
    start: BuildStart,
) -> Result<Finish, Early> {
    let (outcome, digest) =
        reproduce::hand_over(ctx, claimed, package, steps.clone(), start.clone()).await;
    match outcome {
        HandOver::Queued => {
            log.line(format!(
                "reproducibility check: first package {digest} kept; the build is queued again for a second build in a fresh environment, on another worker when one is live"
            ));
            Ok(Finish::Rebuild)
        }
        HandOver::Lost => Err(None),
        HandOver::Failed(error) => Err(end(Ended {
            steps,
            ..Ended::failed(&error, start)
        })),
    }
}

/// The second build of a check: publishes the package when it is the first
/// one's bytes, else ends as not reproducible, naming what differs.
async fn compare_and_publish(
    ctx: &Context,
    record: &BuildRecord,
    package: &Path,
    work: &Path,
    log: &LiveLog,
    steps: Vec<StepRecord>,
    start: BuildStart,
) -> Ended {
    let compared = match reproduce::compare(ctx, record, package, work).await {
        Ok(compared) => compared,
        Err(error) => {
            return Ended {
                steps,
                ..Ended::failed(&error, start)
            }
        }
    };
    let workers = format!(
        "{} and {}",
        compared.record.first_worker,
        compared.record.second_worker.as_deref().unwrap_or("-")
    );
    if compared.identical {
        log.line(format!(
            "reproducibility check: the packages built by {workers} are identical ({})",
            compared.record.first_digest
        ));
        let mut ended = publish_package(ctx, package, log, steps, start).await;
        // The first package was kept only to compare: the published one is the same bytes.
        if ended.status == BuildStatus::Succeeded {
            let first = reproduce::first_key(record.id);
            if let Err(error) = ctx.storage.delete(&first).await {
                tracing::warn!(%error, key = %first, "cannot delete a checked build's first package");
            }
        }
        ended.reproducibility = Some(compared.record);
        return ended;
    }
    log.line(format!(
        "reproducibility check: the packages built by {workers} differ; not published"
    ));
    for difference in &compared.record.differences {
        log.line(format!("  differs: {difference}"));
    }
    Ended {
        status: BuildStatus::NotReproducible,
        error: Some(reproduce::not_reproducible_error(&compared.record)),
        steps,
        start,
        installed_size: None,
        package_digest: compared.record.second_digest.clone(),
        reproducibility: Some(compared.record),
    }
}

/// The attempt's own directory in the worker's scratch, removed when dropped.
fn work_dir(scratch: &Path, id: i64) -> Result<tempfile::TempDir, Early> {
    std::fs::create_dir_all(scratch)
        .and_then(|()| {
            tempfile::Builder::new()
                .prefix(&format!("build-{id}-"))
                .tempdir_in(scratch)
        })
        .map_err(|e| {
            end(Ended::failed(
                &ServiceError::io(scratch, e),
                BuildStart::default(),
            ))
        })
}

/// The build's source in `work`, at the version its ref names, unless a stop comes first.
async fn fetch_source(
    record: &BuildRecord,
    work: &Path,
    log: &LiveLog,
    stop: &mut watch::Receiver<Option<Stop>>,
    allow_local_sources: bool,
) -> Result<source::Prepared, Early> {
    log.line(format!(
        "source: {}{}",
        record.source,
        record
            .git_ref
            .as_deref()
            .map(|r| format!(" at {r}"))
            .unwrap_or_default()
    ));
    let prepared = tokio::select! {
        prepared = source::prepare(&record.source, reproduce::rebuild_ref(record), work, allow_local_sources) => prepared,
        reason = stopped(stop) => return Err(stopped_early(reason).map(Box::new)),
    };
    let prepared = prepared.map_err(|error| end(Ended::failed(&error, BuildStart::default())))?;
    match source::apply_version_ref(&prepared, &record.source, record.git_ref.as_deref()) {
        Ok(Some(version)) => log.line(format!("building version {version}, as the ref names")),
        Ok(None) => {}
        Err(error) => {
            return Err(end(Ended::failed(
                &error,
                BuildStart {
                    commit: prepared.commit.clone(),
                    ..BuildStart::default()
                },
            )))
        }
    }
    if let Err(error) = source::check_manifest_source(&prepared.dir, allow_local_sources) {
        return Err(end(Ended::failed(
            &error,
            BuildStart {
                commit: prepared.commit.clone(),
                ..BuildStart::default()
            },
        )));
    }
    Ok(prepared)
}

/// Runs `bale build`, its lines going to the log, killing it when told to
/// stop; returns how it exited and the steps its lines named.
async fn run_build(
    ctx: &Context,
    args: Vec<String>,
    envs: Vec<(String, String)>,
    log: &LiveLog,
    stop: &mut watch::Receiver<Option<Stop>>,
    start: &BuildStart,
) -> Result<(ChildExit, Vec<StepRecord>), Early> {
    let (lines_tx, lines_rx) = mpsc::unbounded_channel();
    let steps = tokio::spawn(child::follow_steps(lines_rx, log.sender()));
    let mut child = BuildChild::spawn(&ctx.options.bale_exe, args, envs, lines_tx)
        .map_err(|error| end(Ended::failed(&error, start.clone())))?;
    let killer = child.killer();
    let mut stopped_by = None;
    let exit = loop {
        tokio::select! {
            exit = child.wait() => break exit,
            reason = stopped(stop), if stopped_by.is_none() => {
                log.line(match reason {
                    Stop::Cancel => "cancel requested: killing the build's processes",
                    Stop::Lost => "lease lost: killing the build's processes",
                    Stop::Shutdown => "the worker is stopping: killing the build's processes",
                });
                killer.kill();
                stopped_by = Some(reason);
            }
        }
    };
    let seen_steps = steps.await.unwrap_or_default();
    match stopped_by {
        Some(Stop::Lost | Stop::Shutdown) => return Err(None),
        Some(Stop::Cancel) => {
            return Err(end(Ended {
                status: BuildStatus::Canceled,
                error: Some("canceled by request".into()),
                steps: seen_steps,
                start: start.clone(),
                installed_size: None,
                package_digest: None,
                reproducibility: None,
            }))
        }
        None => {}
    }
    let exit = exit.map_err(|error| end(Ended::failed(&error, start.clone())))?;
    Ok((exit, seen_steps))
}

/// What `bale build --json` printed: the package's path, the build's steps
/// and the facts it adds to `start`; a failed build's error as its end.
fn read_output(
    exit: ChildExit,
    seen_steps: Vec<StepRecord>,
    start: BuildStart,
) -> Result<(PathBuf, Vec<StepRecord>, BuildStart), Early> {
    if exit.code != Some(0) {
        let message = serde_json::from_slice::<bale_api::ErrorEnvelope>(&exit.stdout)
            .map(|envelope| envelope.error.message)
            .unwrap_or_else(|_| match exit.code {
                Some(code) => format!("bale build exited with code {code}"),
                None => "bale build was killed by a signal".to_owned(),
            });
        let status = if message.contains("timed out") {
            BuildStatus::TimedOut
        } else {
            BuildStatus::Failed
        };
        return Err(end(Ended {
            status,
            error: Some(message),
            steps: seen_steps,
            start,
            installed_size: None,
            package_digest: None,
            reproducibility: None,
        }));
    }
    let output = match serde_json::from_slice::<bale_api::BuildOutput>(&exit.stdout) {
        Ok(output) => output,
        Err(e) => {
            let error = ServiceError::Internal(format!(
                "bale build printed no build output that this worker reads: {e}"
            ));
            return Err(end(Ended {
                steps: seen_steps,
                ..Ended::failed(&error, start)
            }));
        }
    };
    let steps = output.build.steps.iter().map(child::step_record).collect();
    let start = BuildStart {
        coordinate: Some(output.build.coordinate),
        stack_digest: Some(output.build.stack_digest),
        ..start
    };
    let package = output.path;
    Ok((package, steps, start))
}

/// Signs (with the worker's key) and publishes the package; the attempt's end either way.
async fn publish_package(
    ctx: &Context,
    package: &Path,
    log: &LiveLog,
    steps: Vec<StepRecord>,
    start: BuildStart,
) -> Ended {
    log.line(format!("publishing {}", package.display()));
    match publish(&ctx.db, &ctx.storage, package, ctx.options.key.as_deref()).await {
        Ok(published) => {
            log.line(format!(
                "{} {} ({}{})",
                if published.new {
                    "published"
                } else {
                    "already published"
                },
                published.coordinate,
                published.digest,
                published
                    .key_id
                    .as_deref()
                    .map(|k| format!(", signed by {k}"))
                    .unwrap_or_default()
            ));
            if !published.attestations.is_empty() {
                log.line(format!(
                    "published beside it: {}",
                    published.attestations.join(", ")
                ));
            }
            Ended {
                status: BuildStatus::Succeeded,
                error: None,
                steps,
                start,
                installed_size: Some(published.installed_size as i64),
                package_digest: Some(published.digest),
                reproducibility: None,
            }
        }
        Err(error) => Ended {
            steps,
            ..Ended::failed(&error, start)
        },
    }
}

fn stopped_early(reason: Stop) -> Option<Ended> {
    match reason {
        Stop::Lost | Stop::Shutdown => None,
        Stop::Cancel => Some(Ended {
            status: BuildStatus::Canceled,
            error: Some("canceled by request".into()),
            steps: Vec::new(),
            start: BuildStart::default(),
            installed_size: None,
            package_digest: None,
            reproducibility: None,
        }),
    }
}

/// Coordinate and stack facts from the manifest and the record of the
/// stack's image for `arch` (the machine's when `None`), and the maintainer.
async fn describe(
    ctx: &Context,
    prepared: &source::Prepared,
    arch: Option<&str>,
) -> (BuildStart, Option<String>) {
    let home = ctx.options.home.clone();
    let arch = arch.map(str::to_owned);
    let manifest_path = prepared.dir.join("bale.toml");
    let commit = prepared.commit.clone();
    tokio::task::spawn_blocking(move || {
        let mut start = BuildStart {
            commit,
            ..BuildStart::default()
        };
        let stacks = Stacks::load(&home, None)
            .and_then(|s| match &arch {
                Some(arch) => s.with_arch(arch),
                None => Ok(s),
            })
            .ok();
        // What `bale build` will accept here: this machine's stacks and kinds.
        let catalog = Catalog::new(
            stacks
                .as_ref()
                .map_or_else(|| Catalog::default().stacks, Stacks::names),
            Kinds::load_if_present(&home.kinds_path()).unwrap_or_else(|_| Kinds::builtin()),
        );
        let Ok(manifest) = Manifest::from_path(&manifest_path, &catalog, &ParseOptions::default())
        else {
            // `bale build` reports the manifest's errors in the log.
            return (start, None);
        };
        if let Ok(coordinate) = manifest.coordinate() {
            start.package = Some(coordinate.name().to_owned());
            start.coordinate = Some(coordinate.to_string());
        }
        start.stack = Some(manifest.stack.name.clone());
        if let Some(stacks) = stacks {
            start.stack_digest = stacks
                .image(&manifest.stack.name)
                .ok()
                .map(|image| image.digest);
            start.stack_packages = stacks
                .record(&manifest.stack.name)
                .map(|r| r.packages)
                .unwrap_or_default();
        }
        (start, manifest.package.maintainer.clone())
    })
    .await
    .unwrap_or_default()
}
