//! The build: a manifest and its source turned into a tested package, step
//! by step as docs/manifest.md lists them, every action inside the sandbox.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use bale_archive::{SourceRef, StackRef, UnpackOptions};
use bale_manifest::{Kinds, Manifest};
use bale_sandbox::{Bind, Limits, Sandbox, SandboxSpec, DEFAULT_PATH};
use bale_stack::{StackImage, Stacks};

use crate::collect::collect_destinations;
use crate::facts::{BuildFacts, StepFacts};
use crate::source::{clone_git, copy_local, SourceTree};
use crate::step::{run_step, BuildEvent, Events, Log};
use crate::{pack, BuildError, PackRequest, Packed};
use bale_manifest::git::GitLocation;

/// Where the source tree is inside the sandbox (`BALE_SRC`).
pub const SANDBOX_SRC: &str = "/bale/src";
/// Where the package's cache directories live inside the sandbox (`BALE_CACHE`).
pub const SANDBOX_CACHE: &str = "/bale/cache";

/// What to build and where.
#[derive(Debug, Clone)]
pub struct BuildRequest<'a> {
    /// The directory holding `bale.toml` (the source, unless `[source] git` names another).
    pub source_dir: &'a Path,
    /// The resolved manifest (kind defaults filled in).
    pub manifest: &'a Manifest,
    /// The stack image the build runs over.
    pub stack: &'a StackImage,
    /// Where dependency layers over this stack are kept; `None` builds
    /// without one (the `host` stack).
    pub layers_dir: Option<&'a Path>,
    /// Where the package, its `.build.json` and its `.build.log` are written.
    pub out_dir: &'a Path,
    /// Where the per-build directories are made (removed afterwards).
    pub scratch_dir: &'a Path,
    /// `$BALE_HOME/cache`: the `[build] cache` directories of every package.
    pub cache_dir: &'a Path,
    /// Host paths kept out of sight in the sandbox (e.g. `$BALE_HOME`, with its keys).
    pub hide: Vec<PathBuf>,
    /// Ignore cached dependency layers and cache directories.
    pub fresh: bool,
    /// Report the dependency layer's key inputs.
    pub verbose: bool,
    /// The Debian architecture the stack builds for; `None` is this
    /// machine's ([`bale_inspect::machine_arch`]).
    pub arch: Option<String>,
}

/// What a successful build produced.
#[derive(Debug, Clone)]
pub struct Built {
    /// The package.
    pub package: Packed,
    /// The build's facts, as written to `facts_path`.
    pub facts: BuildFacts,
    /// `<out>/<name>-<version>.build.json`.
    pub facts_path: PathBuf,
}

/// Runs builds in the sandbox.
#[derive(Debug, Clone)]
pub struct Builder {
    sandbox: Sandbox,
    kinds: Kinds,
    varied: bool,
    keep_failed: Option<PathBuf>,
    stacks: Option<Stacks>,
}

/// The host name and umask of every build's sandbox, so neither comes
/// from the machine; [`Builder::varied`] uses the others.
const HOSTNAME: &str = "bale";
const UMASK: u32 = 0o022;
const VARIED_HOSTNAME: &str = "bale-check";
const VARIED_UMASK: u32 = 0o002;

/// The per-build state the steps share.
struct Run {
    started: Instant,
    deadline: Instant,
    steps: Vec<StepFacts>,
}

impl Builder {
    /// A builder over this machine's sandbox, with the shipped kinds.
    pub fn new() -> Result<Builder, BuildError> {
        Ok(Builder {
            sandbox: Sandbox::new()?,
            kinds: Kinds::builtin(),
            varied: false,
            keep_failed: None,
            stacks: None,
        })
    }

    /// This builder with another host name and umask in the sandbox, for
    /// building a second time to check that the package does not depend on
    /// them (the build path and times differ by themselves).
    pub fn varied(&self) -> Builder {
        Builder {
            varied: true,
            ..self.clone()
        }
    }

    /// Keeps a failed build's environment (its source, prefix, staged and
    /// test directories) in a new directory under `dir` instead of removing it.
    pub fn keeping_failed(mut self, dir: PathBuf) -> Builder {
        self.keep_failed = Some(dir);
        self
    }

    /// Checks the request's stack against its record in `stacks` before
    /// each build, sanitizing an image that changed (and saying so in the
    /// build's log); the build then runs over the checked image.
    pub fn checking_stacks(mut self, stacks: Stacks) -> Builder {
        self.stacks = Some(stacks);
        self
    }

    /// Uses `kinds` (e.g. with the admin's kinds file merged in) for the
    /// kinds' packages in the dependency layer. The manifest given to
    /// [`Builder::build`] must be resolved against the same kinds.
    pub fn with_kinds(mut self, kinds: Kinds) -> Builder {
        self.kinds = kinds;
        self
    }

    /// Builds, packs and tests the request's package; `events` hears every
    /// step and every line of output.
    pub fn build(
        &self,
        request: &BuildRequest<'_>,
        events: &mut Events<'_>,
    ) -> Result<Built, BuildError> {
        let manifest = request.manifest;
        let coordinate = manifest.coordinate().map_err(BuildError::Coordinate)?;
        check_runs_here(&request.stack.arch)?;
        let prefix = PathBuf::from(format!("/bale/pkgs/{}", coordinate.relative_dir()));
        let out_dir = request.out_dir;
        fs::create_dir_all(out_dir).map_err(|e| BuildError::io(out_dir, e))?;
        fs::create_dir_all(request.scratch_dir)
            .map_err(|e| BuildError::io(request.scratch_dir, e))?;
        let work = tempfile::Builder::new()
            .prefix("build-")
            .tempdir_in(request.scratch_dir)
            .map_err(|e| BuildError::io(request.scratch_dir, e))?;
        let stem = format!("{}-{}", coordinate.name(), coordinate.version());
        let log_path = out_dir.join(format!("{stem}.build.log"));
        let mut log = Log::create(&log_path, events)?;
        let result = self.build_in(request, &mut log, work.path(), &coordinate, &prefix, &stem);
        if result.is_err() {
            if let Some(keep) = &self.keep_failed {
                match keep_environment(work, keep, &stem) {
                    Ok(kept) => log.event(BuildEvent::Note(&format!(
                        "the failed build's environment is kept in {}",
                        kept.display()
                    ))),
                    Err(e) => log.event(BuildEvent::Note(&format!(
                        "cannot keep the failed build's environment: {e}"
                    ))),
                }
            }
        }
        result
    }

    /// The steps of [`Builder::build`] in the build's work directory.
    fn build_in(
        &self,
        request: &BuildRequest<'_>,
        log: &mut Log<'_>,
        work: &Path,
        coordinate: &bale_coordinate::Coordinate,
        prefix: &Path,
        stem: &str,
    ) -> Result<Built, BuildError> {
        let started_at = bale_fs::now_ms();
        let started = Instant::now();
        let mut run = Run {
            started,
            deadline: started + request.manifest.build_timeout(),
            steps: Vec::new(),
        };

        // 1. stack, checked against its record (and sanitized) when asked.
        let t = run.begin();
        let checked;
        let with_checked;
        let request = match &self.stacks {
            Some(stacks) => {
                // Held until the build ends: its lease keeps the image and
                // its layers from being sanitized or removed meanwhile.
                checked = stacks
                    // As the step's output: a sanitize is worth seeing without -v.
                    .checked_image(&request.stack.name, &mut |line| log.line("stack", line))?;
                with_checked = BuildRequest {
                    stack: &checked.image,
                    ..request.clone()
                };
                &with_checked
            }
            None => request,
        };
        log.event(BuildEvent::Note(&format!(
            "stack {} ({}; image {})",
            request.stack.name, request.stack.identity, request.stack.digest
        )));
        run.end("stack", t, "ok");
        let job = Job {
            request,
            coordinate,
            prefix,
            work,
        };
        // 2-3. runtime and dependencies
        let layer = self.dependencies_step(request, &mut run, log)?;
        let layer_dir = layer.as_ref().map(|l| l.dir.clone());
        // 4. source
        let (src, source) = source_step(&job, &mut run, log)?;
        // 5. actions
        let prefix_host = work.join("prefix");
        fs::create_dir_all(&prefix_host).map_err(|e| BuildError::io(&prefix_host, e))?;
        let base = self.action_spec(&job, layer_dir.clone(), &src, &prefix_host, &source, log)?;
        self.actions_step(&job, &base, &mut run, log)?;
        // 6. collect
        collect_step(&job, &src, &prefix_host, &mut run, log)?;
        // 7. pack, into the build's own directory: only a tested package
        // reaches the output directory. Needed libraries are resolved in
        // the environment the build ran in: its layer over the stack.
        let environment: Vec<PathBuf> = layer_dir
            .into_iter()
            .chain([request.stack.root.clone()])
            .collect();
        let mut packed = pack_step(&job, &prefix_host, &source, environment, &mut run)?;
        // 8. test, over the runtime layer only: what the package runs with.
        let runtime = self.runtime_layer_step(&job, &packed, &mut run, log)?;
        self.test_step(&job, runtime.map(|l| l.dir), &packed, &mut run, log)?;
        packed.path = publish(&packed.path, request.out_dir)?;

        let facts = BuildFacts {
            coordinate: coordinate.to_string(),
            host: hostname(),
            started_at: started_at / 1000,
            duration_ms: run.started.elapsed().as_millis() as u64,
            stack: request.stack.name.clone(),
            stack_digest: request.stack.digest.clone(),
            stack_identity: Some(request.stack.identity.clone()),
            layer: layer.map(|l| l.key),
            source: source
                .git
                .clone()
                .unwrap_or_else(|| request.source_dir.display().to_string()),
            commit: source.commit.clone(),
            source_date_epoch: source.date_epoch,
            steps: run.steps,
            tests: request.manifest.test.commands.len(),
            package: packed.path.clone(),
            sha256: packed.written.sha256.clone(),
            log: log.path().to_path_buf(),
        };
        let facts_path = write_facts(&facts, request.out_dir, stem)?;
        Ok(Built {
            package: packed,
            facts,
            facts_path,
        })
    }

    /// Steps 2-3: the dependency layer (runtime and build packages), made
    /// or reused; none for the `host` stack.
    fn dependencies_step(
        &self,
        request: &BuildRequest<'_>,
        run: &mut Run,
        log: &mut Log<'_>,
    ) -> Result<Option<crate::layer::DepsLayer>, BuildError> {
        let t = run.begin();
        let layer = crate::layer::prepare_with_kinds(
            &self.sandbox,
            &self.kinds,
            request,
            run.deadline,
            log,
        )?;
        let status = match &layer {
            Some(l) if l.reused => "cached",
            Some(_) => "ok",
            None => "skipped",
        };
        run.end(crate::layer::STEP, t, status);
        Ok(layer)
    }

    /// Before step 8: the runtime layer `[test]` runs over, made or reused;
    /// skipped without `[test]` commands or on the `host` stack.
    fn runtime_layer_step(
        &self,
        job: &Job<'_, '_>,
        packed: &Packed,
        run: &mut Run,
        log: &mut Log<'_>,
    ) -> Result<Option<crate::layer::DepsLayer>, BuildError> {
        let t = run.begin();
        if job.request.manifest.test.commands.is_empty() {
            run.end(crate::layer::RUNTIME_STEP, t, "skipped");
            return Ok(None);
        }
        let result = crate::layer::prepare_runtime(
            &self.sandbox,
            &self.kinds,
            job.request,
            &packed.written.index.dependencies,
            run.deadline,
            log,
        );
        let status = match &result {
            Ok(Some(l)) if l.reused => "cached",
            Ok(Some(_)) => "ok",
            Ok(None) => "skipped",
            Err(_) => "failed",
        };
        run.end(crate::layer::RUNTIME_STEP, t, status);
        result
    }

    /// The spec the actions run in: the source and the prefix bound
    /// writable, the caches, `BALE_*` and `[build] env`, the memory limit.
    fn action_spec(
        &self,
        job: &Job<'_, '_>,
        layer: Option<PathBuf>,
        src: &Path,
        prefix_host: &Path,
        source: &SourceTree,
        log: &mut Log<'_>,
    ) -> Result<SandboxSpec, BuildError> {
        let (request, coordinate, prefix) = (job.request, job.coordinate, job.prefix);
        let manifest = request.manifest;
        let mut base = self.base_spec(request, layer);
        base.network = manifest.build.network;
        base.workdir = PathBuf::from(SANDBOX_SRC);
        base.binds.push(Bind::writable(src, SANDBOX_SRC));
        base.binds.push(Bind::writable(prefix_host, prefix));
        base.binds
            .extend(cache_binds(request, coordinate, job.work)?);
        base.env.extend([
            ("BALE_SRC".to_string(), SANDBOX_SRC.to_string()),
            (
                "BALE_PREFIX".to_string(),
                prefix.to_string_lossy().into_owned(),
            ),
            ("BALE_CACHE".to_string(), SANDBOX_CACHE.to_string()),
            ("BALE_GROUP".to_string(), coordinate.group().to_string()),
            ("BALE_NAME".to_string(), coordinate.name().to_string()),
            ("BALE_VERSION".to_string(), coordinate.version().to_string()),
            (
                "SOURCE_DATE_EPOCH".to_string(),
                source.date_epoch.to_string(),
            ),
        ]);
        base.env.extend(
            manifest
                .build
                .env
                .iter()
                .map(|(k, v)| (k.clone(), v.clone())),
        );
        if let Some(bytes) = manifest.build_memory() {
            match self.sandbox.limits_available() {
                Ok(()) => {
                    base.limits = Limits {
                        memory_bytes: Some(bytes),
                        ..Limits::default()
                    }
                }
                Err(e) => log.event(BuildEvent::Note(&format!(
                    "[build] memory is not enforced: {e}"
                ))),
            }
        }
        Ok(base)
    }

    /// Step 5: before, main, after and finalize, each skipped when empty;
    /// the first that fails ends the build.
    fn actions_step(
        &self,
        job: &Job<'_, '_>,
        base: &SandboxSpec,
        run: &mut Run,
        log: &mut Log<'_>,
    ) -> Result<(), BuildError> {
        let build = &job.request.manifest.build;
        let empty = Vec::new();
        let actions: [(&str, &Vec<String>); 4] = [
            ("before", build.before.as_ref().unwrap_or(&empty)),
            ("main", build.main.as_ref().unwrap_or(&empty)),
            ("after", build.after.as_ref().unwrap_or(&empty)),
            ("finalize", build.finalize.as_ref().unwrap_or(&empty)),
        ];
        for (step, commands) in actions {
            let t = run.begin();
            if commands.is_empty() {
                run.end(step, t, "skipped");
                continue;
            }
            let result = run_step(&self.sandbox, base, step, commands, run.deadline, log);
            run.end(step, t, if result.is_ok() { "ok" } else { "failed" });
            result?;
        }
        Ok(())
    }

    /// Step 8: `[test]` over the packed package, skipped when there is none.
    /// A package whose tests fail is not a package to hand on: it stays in
    /// the work directory.
    fn test_step(
        &self,
        job: &Job<'_, '_>,
        layer: Option<PathBuf>,
        packed: &Packed,
        run: &mut Run,
        log: &mut Log<'_>,
    ) -> Result<(), BuildError> {
        let t = run.begin();
        if job.request.manifest.test.commands.is_empty() {
            run.end("test", t, "skipped");
            return Ok(());
        }
        let result = self.test(job.request, layer, packed, job.prefix, job.work, run, log);
        run.end("test", t, if result.is_ok() { "ok" } else { "failed" });
        result
    }

    /// The spec every run of this build starts from: its layers, hidden
    /// paths and the kind of environment, without a network.
    fn base_spec(&self, request: &BuildRequest<'_>, layer: Option<PathBuf>) -> SandboxSpec {
        let mut layers: Vec<PathBuf> = layer.into_iter().collect();
        layers.push(request.stack.root.clone());
        let mut spec = SandboxSpec::new(layers, Vec::new());
        spec.hide = request.hide.clone();
        (spec.hostname, spec.umask) = if self.varied {
            (VARIED_HOSTNAME.to_string(), Some(VARIED_UMASK))
        } else {
            (HOSTNAME.to_string(), Some(UMASK))
        };
        spec
    }

    /// Runs `[test]` in a fresh sandbox holding the stack, the runtime
    /// layer and the package as packed, read-only at its prefix.
    #[allow(clippy::too_many_arguments)]
    fn test(
        &self,
        request: &BuildRequest<'_>,
        layer: Option<PathBuf>,
        packed: &Packed,
        prefix: &Path,
        work: &Path,
        run: &Run,
        log: &mut Log<'_>,
    ) -> Result<(), BuildError> {
        let root = work.join("test-root");
        fs::create_dir_all(&root).map_err(|e| BuildError::io(&root, e))?;
        let file = fs::File::open(&packed.path).map_err(|e| BuildError::io(&packed.path, e))?;
        bale_archive::unpack(
            std::io::BufReader::new(file),
            &root,
            &UnpackOptions::default(),
        )?;
        let mut spec = self.base_spec(request, layer);
        spec.binds.push(Bind::read_only(&root, prefix));
        spec.workdir = prefix.to_path_buf();
        let prefix_text = prefix.to_string_lossy().into_owned();
        spec.env.extend([
            (
                "PATH".to_string(),
                format!("{prefix_text}/bin:{DEFAULT_PATH}"),
            ),
            ("BALE_PREFIX".to_string(), prefix_text),
        ]);
        run_step(
            &self.sandbox,
            &spec,
            "test",
            &request.manifest.test.commands,
            run.deadline,
            log,
        )
        .map(|_| ())
    }
}

/// One build in its work directory: what its steps share besides the log
/// and the timings.
struct Job<'r, 'a> {
    request: &'r BuildRequest<'a>,
    coordinate: &'r bale_coordinate::Coordinate,
    /// The package's prefix inside the sandbox.
    prefix: &'r Path,
    /// The build's own directory on the host.
    work: &'r Path,
}

/// Step 4: the source fetched or copied into `<work>/src`.
fn source_step(
    job: &Job<'_, '_>,
    run: &mut Run,
    log: &mut Log<'_>,
) -> Result<(PathBuf, SourceTree), BuildError> {
    let t = run.begin();
    let src = job.work.join("src");
    fs::create_dir_all(&src).map_err(|e| BuildError::io(&src, e))?;
    let source = fetch_source(job.request, job.work, &src)?;
    log.event(BuildEvent::Note(&format!(
        "source: {} files, commit {}",
        source.files,
        source.commit.as_deref().unwrap_or("none")
    )));
    run.end("source", t, "ok");
    Ok((src, source))
}

/// Step 6: `[build] destinations` copied from the source into `app/`.
fn collect_step(
    job: &Job<'_, '_>,
    src: &Path,
    prefix_host: &Path,
    run: &mut Run,
    log: &mut Log<'_>,
) -> Result<(), BuildError> {
    let t = run.begin();
    let files = collect_destinations(
        src,
        &job.request.manifest.build.destinations,
        &prefix_host.join("app"),
    )?;
    if files > 0 {
        log.event(BuildEvent::Note(&format!(
            "collected {files} file(s) into app/"
        )));
    }
    run.end("collect", t, "ok");
    Ok(())
}

/// Step 7: the prefix packed into `<work>/out`, its needed libraries
/// resolved in `environment` (roots, top first).
fn pack_step(
    job: &Job<'_, '_>,
    prefix_host: &Path,
    source: &SourceTree,
    environment: Vec<PathBuf>,
    run: &mut Run,
) -> Result<Packed, BuildError> {
    let request = job.request;
    let t = run.begin();
    let packed = pack(&PackRequest {
        root: prefix_host,
        manifest: request.manifest,
        // The identity by content, not the image's bytes: two creations of
        // a stack differ in bytes and must still give the same package.
        stack: StackRef {
            name: request.stack.name.clone(),
            digest: request.stack.identity.clone(),
        },
        environment,
        require_resolved: true,
        source: SourceRef {
            git: source.git.clone(),
            commit: source.commit.clone(),
        },
        mtime: source.date_epoch,
        out_dir: &job.work.join("out"),
        arch: Some(
            request
                .arch
                .clone()
                .unwrap_or_else(|| request.stack.arch.clone()),
        ),
    });
    run.end("pack", t, if packed.is_ok() { "ok" } else { "failed" });
    packed
}

/// Checks that the stack's programs run on this machine: natively, or
/// through qemu's user emulator registered with binfmt_misc (registering it
/// when bale may), whose fix-binary flag makes it work inside the sandbox.
fn check_runs_here(arch: &str) -> Result<(), BuildError> {
    match bale_stack::ensure_emulation(arch)? {
        bale_stack::Execution::Native | bale_stack::Execution::Runs => Ok(()),
        bale_stack::Execution::Foreign => Err(bale_stack::StackError::Binfmt {
            arch: arch.to_string(),
            entry: "arch-test".into(),
            message: format!("`arch-test {arch}` says its programs do not run here even with the emulator registered: build on a {arch} machine"),
        }
        .into()),
    }
}

/// Writes the facts to `<out>/<stem>.build.json` and returns that path.
fn write_facts(facts: &BuildFacts, out_dir: &Path, stem: &str) -> Result<PathBuf, BuildError> {
    let facts_path = out_dir.join(format!("{stem}.build.json"));
    let mut text = serde_json::to_string_pretty(facts)?;
    text.push('\n');
    bale_fs::write_atomic(&facts_path, text.as_bytes())?;
    Ok(facts_path)
}

impl Run {
    fn begin(&self) -> (u64, Instant) {
        (bale_fs::now_ms(), Instant::now())
    }

    fn end(&mut self, name: &str, (started_at, started): (u64, Instant), status: &str) {
        self.steps.push(StepFacts {
            name: name.to_string(),
            started_at,
            duration_ms: started.elapsed().as_millis() as u64,
            status: status.to_string(),
        });
    }
}

/// The source step: `[source] git` cloned, else the manifest's directory copied.
/// Moves a failed build's work directory to `<keep>/<stem>-<time>` and returns where.
fn keep_environment(
    work: tempfile::TempDir,
    keep: &Path,
    stem: &str,
) -> Result<PathBuf, BuildError> {
    fs::create_dir_all(keep).map_err(|e| BuildError::io(keep, e))?;
    let kept = keep.join(format!("{stem}-{}", bale_fs::now_ms()));
    let from = work.keep();
    fs::rename(&from, &kept).map_err(|e| BuildError::io(&kept, e))?;
    Ok(kept)
}

fn fetch_source(
    request: &BuildRequest<'_>,
    work: &Path,
    src: &Path,
) -> Result<SourceTree, BuildError> {
    match &request.manifest.source {
        Some(source) => {
            // A path is relative to bale.toml; whether it is one is decided by
            // the text alone, never by what the source tree happens to hold.
            let is_path = !source.git.contains("://")
                && matches!(
                    bale_manifest::git::locate(&source.git),
                    Ok(GitLocation::Local)
                );
            let url = if is_path {
                request
                    .source_dir
                    .join(&source.git)
                    .to_string_lossy()
                    .into_owned()
            } else {
                source.git.clone()
            };
            clone_git(&url, source.reference.as_deref(), &work.join("clone"), src)
        }
        None => copy_local(request.source_dir, src),
    }
}

/// `BALE_CACHE` and each `[build] cache` directory, bound from
/// `$BALE_HOME/cache/<group>/<name>/`; with `--fresh`, from empty
/// directories of this build instead.
fn cache_binds(
    request: &BuildRequest<'_>,
    coordinate: &bale_coordinate::Coordinate,
    work: &Path,
) -> Result<Vec<Bind>, BuildError> {
    let root = if request.fresh {
        work.join("cache")
    } else {
        request
            .cache_dir
            .join(coordinate.group())
            .join(coordinate.name())
    };
    let mut binds = Vec::new();
    let own = root.join("bale");
    fs::create_dir_all(&own).map_err(|e| BuildError::io(&own, e))?;
    binds.push(Bind::writable(own, SANDBOX_CACHE));
    for dir in &request.manifest.build.cache {
        let inside = Path::new(dir);
        if !inside.is_absolute() || dir.split('/').any(|c| c == "..") {
            return Err(BuildError::Source(format!(
                "[build] cache `{dir}` must be an absolute path without `..`"
            )));
        }
        let host = root.join("dirs").join(dir.trim_start_matches('/'));
        fs::create_dir_all(&host).map_err(|e| BuildError::io(&host, e))?;
        binds.push(Bind::writable(host, inside));
    }
    Ok(binds)
}

/// Moves the tested package from the build's directory into `out_dir`
/// under the same name, in one rename (copying first when `out_dir` is on
/// another file system), and returns its new path.
fn publish(package: &Path, out_dir: &Path) -> Result<PathBuf, BuildError> {
    let name = package
        .file_name()
        .ok_or_else(|| BuildError::io(package, std::io::ErrorKind::InvalidInput.into()))?;
    let dest = out_dir.join(name);
    match fs::rename(package, &dest) {
        Ok(()) => Ok(dest),
        Err(e) if e.kind() == std::io::ErrorKind::CrossesDevices => {
            let mut from = fs::File::open(package).map_err(|e| BuildError::io(package, e))?;
            let mut tmp =
                tempfile::NamedTempFile::new_in(out_dir).map_err(|e| BuildError::io(out_dir, e))?;
            std::io::copy(&mut from, tmp.as_file_mut()).map_err(|e| BuildError::io(&dest, e))?;
            tmp.as_file()
                .set_permissions(
                    fs::metadata(package)
                        .map_err(|e| BuildError::io(package, e))?
                        .permissions(),
                )
                .map_err(|e| BuildError::io(&dest, e))?;
            tmp.as_file()
                .sync_all()
                .map_err(|e| BuildError::io(&dest, e))?;
            tmp.persist(&dest)
                .map_err(|e| BuildError::io(&dest, e.error))?;
            Ok(dest)
        }
        Err(e) => Err(BuildError::io(&dest, e)),
    }
}

/// This machine's host name, as recorded in the build's facts.
fn hostname() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|_| "unknown".into())
}
