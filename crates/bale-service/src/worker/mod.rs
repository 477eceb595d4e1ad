//! Build workers: claim queued builds from the database, hold a lease on
//! each, run it in a `bale build` child process, publish what it made.
//!
//! A worker shares nothing with other workers but the database and the
//! object store. Each pass it first puts back in the queue the builds whose
//! lease ran out (their worker died), then claims up to its concurrency.

mod attempt;
mod child;
mod compare;
mod log;
mod publish;
mod reproduce;
mod scratch;
mod source;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bale_db::scrub::Scrubber;
use bale_db::{queue, Database};
use bale_home::Home;
use bale_repo::Storage;
use bale_sign::SecretKey;
use tokio::sync::{watch, Notify, Semaphore};
use tokio::task::JoinSet;

pub use attempt::log_key;
pub use source::{check_submitted as check_source, is_git_url as source_is_git};

/// How long a lease runs unless renewed.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);
/// How often an idle worker looks for queued builds.
pub const DEFAULT_POLL: Duration = Duration::from_millis(500);

/// How long a stopping worker waits for its builds to be killed and put
/// back in the queue.
const RELEASE_TIME: Duration = Duration::from_secs(30);

/// How a worker runs.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// The worker's name in build records (unique per process).
    pub name: String,
    /// How many builds it runs at once.
    pub concurrency: usize,
    /// How long a lease runs; it is renewed three times per period.
    pub lease: Duration,
    /// How often it looks for work when idle.
    pub poll: Duration,
    /// The `bale` executable that runs each build.
    pub bale_exe: PathBuf,
    /// `$BALE_HOME` of the builds (stacks, caches, scratch).
    pub home: Home,
    /// The key that signs published packages.
    pub key: Option<Arc<SecretKey>>,
    /// Publish unsigned packages when there is no key (else such builds fail at publishing).
    pub allow_unsigned: bool,
    /// Where failure notices go (none when `None`).
    pub notice: Option<Arc<bale_notice::NoticeConfig>>,
    /// The service's URL as people reach it, for links in notices.
    pub public_url: String,
    /// Keep a failed build's environment for this many minutes (`bale build --keep-failed`).
    pub keep_failed: Option<u64>,
    /// Build sources that are paths or `file://` URLs on the worker's machine
    /// (a submitted directory, `[source] git`, a webhook's clone URL); off by default.
    pub allow_local_sources: bool,
    /// More exact secrets kept out of every log line and error the worker
    /// stores (e.g. the webhook secret of the `bale serve` it runs in).
    pub secrets: Vec<String>,
}

impl WorkerOptions {
    /// Options with the defaults: concurrency 1, a 30 s lease, a 0.5 s poll.
    pub fn new(name: impl Into<String>, bale_exe: PathBuf, home: Home) -> WorkerOptions {
        WorkerOptions {
            name: name.into(),
            concurrency: 1,
            lease: DEFAULT_LEASE,
            poll: DEFAULT_POLL,
            bale_exe,
            home,
            key: None,
            allow_unsigned: false,
            notice: None,
            public_url: bale_home::DEFAULT_SERVER_URL.into(),
            keep_failed: None,
            allow_local_sources: false,
            secrets: Vec::new(),
        }
    }
}

/// A scrubber that knows the worker's signing key as its key file writes it,
/// and its other secrets.
fn scrubber_of(options: &WorkerOptions) -> Scrubber {
    let scrubber = match &options.key {
        Some(key) => Scrubber::new().with_key_file(&key.to_file_string()),
        None => Scrubber::new(),
    };
    options
        .secrets
        .iter()
        .fold(scrubber, |scrubber, secret| scrubber.with_secret(secret))
}

/// The name a worker gets unless told: host name and process id.
pub fn default_worker_name() -> String {
    let host =
        std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_else(|_| "worker".into());
    format!("{}-{}", host.trim(), std::process::id())
}

/// What every attempt of one worker shares.
#[derive(Debug)]
struct Context {
    db: Database,
    storage: Storage,
    options: WorkerOptions,
    /// Takes this worker's signing key out of every log line and error it stores.
    scrubber: Scrubber,
}

/// A worker over a database and an object store.
#[derive(Debug, Clone)]
pub struct Worker {
    context: Arc<Context>,
    wake: Arc<Notify>,
}

impl Worker {
    /// A worker; nothing runs until [`Worker::run`].
    pub fn new(db: Database, storage: Storage, options: WorkerOptions) -> Worker {
        Worker {
            context: Arc::new(Context {
                db,
                storage,
                scrubber: scrubber_of(&options),
                options,
            }),
            wake: Arc::new(Notify::new()),
        }
    }

    /// What wakes an idle worker at once (a submit in the same process).
    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// Claims and runs builds until `shutdown` completes; builds in flight
    /// are then killed and put back in the queue at once, for this or
    /// another worker to run again.
    pub async fn run(&self, shutdown: impl std::future::Future<Output = ()>) {
        let base = self.context.options.home.tmp_dir().join("service");
        // Also removes what workers killed on this machine left behind.
        let scratch = match scratch::WorkerScratch::create(&base) {
            Ok(scratch) => Some(scratch),
            Err(error) => {
                tracing::warn!(%error, "cannot make this worker's scratch directory; builds work in {} directly", base.display());
                None
            }
        };
        let work_base: Arc<Path> = scratch.as_ref().map_or(base.as_path(), |s| s.dir()).into();
        let (stopping_tx, stopping) = watch::channel(false);
        let mut running = JoinSet::new();
        self.claim_until(shutdown, &stopping, &mut running, &work_base)
            .await;
        if !running.is_empty() {
            tracing::info!(
                builds = running.len(),
                "stopping: putting the builds in flight back in the queue"
            );
        }
        let _ = stopping_tx.send(true);
        let drained = tokio::time::timeout(RELEASE_TIME, async {
            while running.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                "builds still stopping after {} s; their leases will run out",
                RELEASE_TIME.as_secs()
            );
        }
    }

    /// The claiming loop of [`Worker::run`]: each claimed build runs in `running`.
    async fn claim_until(
        &self,
        shutdown: impl std::future::Future<Output = ()>,
        stopping: &watch::Receiver<bool>,
        running: &mut JoinSet<()>,
        work_base: &Arc<Path>,
    ) {
        let concurrency = self.context.options.concurrency.max(1);
        let slots = Arc::new(Semaphore::new(concurrency));
        tokio::pin!(shutdown);
        loop {
            // Forget the builds that ended.
            while running.try_join_next().is_some() {}
            let permit = tokio::select! {
                permit = slots.clone().acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_) => return,
                },
                () = &mut shutdown => return,
            };
            if let Err(error) = queue::requeue_expired(&self.context.db).await {
                tracing::warn!(%error, "cannot re-queue builds whose lease ran out");
            }
            let lease_ms = self.context.options.lease.as_millis() as i64;
            // Only builds for an architecture this worker has stacks for.
            let archs = stack_archs(&self.context.options.home).await;
            match queue::claim_for(
                &self.context.db,
                &self.context.options.name,
                lease_ms,
                Some(&archs),
            )
            .await
            {
                Ok(Some(claimed)) => {
                    tracing::info!(build = claimed.build.id, attempt = claimed.attempt, worker = %self.context.options.name, "claimed");
                    let context = self.context.clone();
                    let stopping = stopping.clone();
                    let work_base = work_base.clone();
                    running.spawn(async move {
                        attempt::run(context, claimed, &work_base, stopping).await;
                        drop(permit);
                    });
                }
                Ok(None) => {
                    drop(permit);
                    tokio::select! {
                        () = tokio::time::sleep(self.context.options.poll) => {}
                        () = self.wake.notified() => {}
                        () = &mut shutdown => return,
                    }
                }
                Err(error) => {
                    drop(permit);
                    tracing::warn!(%error, "cannot claim a build; trying again");
                    tokio::select! {
                        () = tokio::time::sleep(self.context.options.poll) => {}
                        () = &mut shutdown => return,
                    }
                }
            }
        }
    }
}

/// The architectures this worker claims builds for: the machine's own (the
/// host stack builds there, and a stack not created yet is reported as
/// such in the build's log) and every one it has a stack image for, made
/// with `bale stack create NAME --arch ARCH`. Looked up at each claim, from
/// the names of the image directories only.
async fn stack_archs(home: &Home) -> Vec<String> {
    let home = home.clone();
    let machine = bale_stack::machine_arch().to_owned();
    tokio::task::spawn_blocking(move || {
        let mut archs = std::collections::BTreeSet::from([machine]);
        if let Ok(stacks) = bale_stack::Stacks::load(&home, None) {
            archs.extend(stacks.image_archs());
        }
        archs.into_iter().collect()
    })
    .await
    .unwrap_or_else(|_| vec![bale_stack::machine_arch().to_owned()])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worker_s_key_and_secrets_never_reach_what_it_stores() {
        let pair = bale_sign::KeyPair::generate().unwrap();
        let key_file = pair.secret.to_file_string();
        let key_line = key_file.lines().nth(1).unwrap().to_owned();
        let mut options = WorkerOptions::new("w", PathBuf::from("/bin/bale"), Home::new("/h"));
        options.key = Some(Arc::new(pair.secret));
        options.secrets = vec!["hook-secret-value".into()];
        let scrubber = scrubber_of(&options);
        let leaked =
            format!("error: pathspec '{key_line}' did not match; secret hook-secret-value");
        let stored = scrubber.scrub(&leaked);
        assert!(!stored.contains(&key_line), "{stored}");
        assert!(!stored.contains("hook-secret-value"), "{stored}");
        assert!(
            stored.starts_with("error: pathspec '[redacted]'"),
            "{stored}"
        );
    }
}
