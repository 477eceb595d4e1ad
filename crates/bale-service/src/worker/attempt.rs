//! One attempt at one build: source, `bale build` in a child process with
//! its lease renewed meanwhile, signing and publishing, the stored log and
//! the record.

use std::path::PathBuf;
use std::sync::Arc;

use bale_db::builds::{now_ms, BuildStatus, StepRecord};
use bale_db::queue::{self, BuildEnd, BuildStart, Claimed, Renewal};
use bale_db::{build_log, Database};
use bale_manifest::{Catalog, Kinds, Manifest, ParseOptions};
use bale_stack::Stacks;
use tokio::sync::{mpsc, watch};

use super::child::BuildChild;
use super::log::LiveLog;
use super::publish::publish;
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
}

impl Ended {
    fn failed(error: &ServiceError, start: BuildStart) -> Ended {
        Ended {
            status: BuildStatus::Failed,
            error: Some(crate::error::with_causes(error)),
            steps: Vec::new(),
            start,
            installed_size: None,
            package_digest: None,
        }
    }
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
pub(super) async fn run(ctx: Arc<Context>, claimed: Claimed, shutdown: watch::Receiver<bool>) {
    let id = claimed.build.id;
    let attempt = claimed.attempt;
    let db = ctx.db.clone();
    let log = match LiveLog::start(&db, id).await {
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
    let ended = build(&ctx, &claimed, &log, stop_rx, &mut maintainer).await;
    renewer.abort();

    if ended.is_none() && *why.borrow() == Some(Stop::Shutdown) {
        log.line("the worker stopped: the build goes back to the queue");
        log.close().await;
        match queue::release(&db, id, attempt).await {
            Ok(_) => tracing::info!(build = id, attempt, "released: the worker is stopping"),
            Err(error) => {
                tracing::error!(build = id, %error, "cannot release the build; its lease will run out")
            }
        }
        return;
    }
    let Some(mut ended) = ended else {
        log.line("the lease was lost: another worker has the build now");
        log.close().await;
        tracing::warn!(
            build = id,
            attempt,
            "lease lost; the build was left to another worker"
        );
        return;
    };
    if let Some(error) = &ended.error {
        log.line(format!("error: {error}"));
    }
    log.line(format!("build {id} {}", ended.status));
    log.close().await;

    let key = log_key(id);
    let mut text = String::new();
    let stored = match build_log::read(&db, id, 0, i64::MAX).await {
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
    let end = BuildEnd {
        status: ended.status,
        error: ended.error,
        steps: ended.steps,
        start: ended.start,
        installed_size: ended.installed_size,
        package_digest: ended.package_digest,
        log_key: stored.is_ok().then_some(key),
    };
    match queue::finish(&db, id, attempt, &end).await {
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
                    log: text,
                    maintainer,
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

/// Builds and publishes; `None` when the lease was lost.
async fn build(
    ctx: &Context,
    claimed: &Claimed,
    log: &LiveLog,
    mut stop: watch::Receiver<Option<Stop>>,
    maintainer: &mut Option<String>,
) -> Option<Ended> {
    let record = &claimed.build;
    let scratch = ctx.options.home.tmp_dir().join("service");
    let work = match std::fs::create_dir_all(&scratch).and_then(|()| {
        tempfile::Builder::new()
            .prefix(&format!("build-{}-", record.id))
            .tempdir_in(&scratch)
    }) {
        Ok(work) => work,
        Err(e) => {
            return Some(Ended::failed(
                &ServiceError::io(&scratch, e),
                BuildStart::default(),
            ))
        }
    };

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
        prepared = source::prepare(&record.source, record.git_ref.as_deref(), work.path()) => prepared,
        reason = stopped(&mut stop) => return stopped_early(reason),
    };
    let prepared = match prepared {
        Ok(prepared) => prepared,
        Err(error) => return Some(Ended::failed(&error, BuildStart::default())),
    };
    match source::apply_version_ref(&prepared, &record.source, record.git_ref.as_deref()) {
        Ok(Some(version)) => log.line(format!("building version {version}, as the ref names")),
        Ok(None) => {}
        Err(error) => {
            return Some(Ended::failed(
                &error,
                BuildStart {
                    commit: prepared.commit.clone(),
                    ..BuildStart::default()
                },
            ))
        }
    }
    let (start, named) = describe(ctx, &prepared).await;
    *maintainer = named;
    let _ = queue::record_start(&ctx.db, record.id, claimed.attempt, &start).await;

    let out_dir = work.path().join("out");
    let mut args = vec![
        "build".to_owned(),
        prepared.dir.display().to_string(),
        "-o".to_owned(),
        out_dir.display().to_string(),
    ];
    args.push("--json".to_owned());
    if record.fresh {
        args.push("--fresh".to_owned());
    }
    if let Some(minutes) = ctx.options.keep_failed {
        args.extend(["--keep-failed".to_owned(), minutes.to_string()]);
    }
    let envs = vec![
        (
            "BALE_HOME".to_owned(),
            ctx.options.home.root().display().to_string(),
        ),
        ("NO_COLOR".to_owned(), "1".to_owned()),
    ];
    let (lines_tx, lines_rx) = mpsc::unbounded_channel();
    let steps = tokio::spawn(follow_steps(lines_rx, log.sender()));
    let mut child = match BuildChild::spawn(&ctx.options.bale_exe, args, envs, lines_tx) {
        Ok(child) => child,
        Err(error) => return Some(Ended::failed(&error, start)),
    };
    let killer = child.killer();
    let mut stopped_by = None;
    let exit = loop {
        tokio::select! {
            exit = child.wait() => break exit,
            reason = stopped(&mut stop), if stopped_by.is_none() => {
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
        Some(Stop::Lost | Stop::Shutdown) => return None,
        Some(Stop::Cancel) => {
            return Some(Ended {
                status: BuildStatus::Canceled,
                error: Some("canceled by request".into()),
                steps: seen_steps,
                start,
                installed_size: None,
                package_digest: None,
            })
        }
        None => {}
    }
    let exit = match exit {
        Ok(exit) => exit,
        Err(error) => return Some(Ended::failed(&error, start)),
    };
    let output: serde_json::Value =
        serde_json::from_slice(&exit.stdout).unwrap_or(serde_json::Value::Null);
    if exit.code != Some(0) {
        let message = output["error"]["message"]
            .as_str()
            .map(str::to_owned)
            .unwrap_or_else(|| match exit.code {
                Some(code) => format!("bale build exited with {code}"),
                None => "bale build was killed by a signal".to_owned(),
            });
        let status = if message.contains("timed out") {
            BuildStatus::TimedOut
        } else {
            BuildStatus::Failed
        };
        return Some(Ended {
            status,
            error: Some(message),
            steps: seen_steps,
            start,
            installed_size: None,
            package_digest: None,
        });
    }
    let steps = recorded_steps(&output).unwrap_or(seen_steps);
    let start = BuildStart {
        coordinate: output["build"]["coordinate"]
            .as_str()
            .map(str::to_owned)
            .or(start.coordinate),
        stack_digest: output["build"]["stack_digest"]
            .as_str()
            .map(str::to_owned)
            .or(start.stack_digest),
        ..start
    };
    let Some(package) = output["path"].as_str().map(PathBuf::from) else {
        let error = ServiceError::Internal("bale build printed no package path".into());
        return Some(Ended {
            steps,
            ..Ended::failed(&error, start)
        });
    };
    if ctx.options.key.is_none() && !ctx.options.allow_unsigned {
        let error = ServiceError::Publish(
            "this worker has no signing key and the repository takes only signed packages: \
             start it with --key (see `bale key generate`) or --allow-unsigned"
                .into(),
        );
        return Some(Ended {
            steps,
            ..Ended::failed(&error, start)
        });
    }
    log.line(format!("publishing {}", package.display()));
    match publish(&ctx.db, &ctx.storage, &package, ctx.options.key.as_deref()).await {
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
            Some(Ended {
                status: BuildStatus::Succeeded,
                error: None,
                steps,
                start,
                installed_size: Some(published.installed_size as i64),
                package_digest: Some(published.digest),
            })
        }
        Err(error) => Some(Ended {
            steps,
            ..Ended::failed(&error, start)
        }),
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
        }),
    }
}

/// Coordinate and stack facts from the manifest and the stack's record, and the maintainer.
async fn describe(ctx: &Context, prepared: &source::Prepared) -> (BuildStart, Option<String>) {
    let home = ctx.options.home.clone();
    let manifest_path = prepared.dir.join("bale.toml");
    let commit = prepared.commit.clone();
    tokio::task::spawn_blocking(move || {
        let mut start = BuildStart {
            commit,
            ..BuildStart::default()
        };
        let stacks = Stacks::load(&home, None).ok();
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

/// Forwards the child's lines to the log, noting when each step began
/// (for a failed build, whose facts are not printed).
async fn follow_steps(
    mut lines: mpsc::UnboundedReceiver<String>,
    log: mpsc::UnboundedSender<String>,
) -> Vec<StepRecord> {
    let mut steps: Vec<StepRecord> = Vec::new();
    while let Some(line) = lines.recv().await {
        let text = line.trim_start();
        let now = now_ms();
        if let Some(name) = text.strip_prefix("Step ") {
            if let Some(last) = steps.last_mut() {
                last.duration_ms = now - last.started_at;
            }
            steps.push(StepRecord {
                name: name.trim().to_owned(),
                started_at: now,
                duration_ms: 0,
                status: "ok".into(),
            });
        } else if text.starts_with("Failed ") {
            if let Some(last) = steps.last_mut() {
                last.duration_ms = now - last.started_at;
                last.status = "failed".into();
            }
        }
        let _ = log.send(line);
    }
    if let Some(last) = steps.last_mut() {
        if last.duration_ms == 0 {
            last.duration_ms = now_ms() - last.started_at;
        }
    }
    steps
}

/// The steps of a successful build's facts.
fn recorded_steps(output: &serde_json::Value) -> Option<Vec<StepRecord>> {
    let steps = output["build"]["steps"].as_array()?;
    Some(
        steps
            .iter()
            .map(|s| StepRecord {
                name: s["name"].as_str().unwrap_or("?").to_owned(),
                started_at: s["started_at"].as_i64().unwrap_or(0),
                duration_ms: s["duration_ms"].as_i64().unwrap_or(0),
                status: s["status"].as_str().unwrap_or("ok").to_owned(),
            })
            .collect(),
    )
}
