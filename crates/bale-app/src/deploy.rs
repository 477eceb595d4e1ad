//! `bale deploy` and `bale rollback`: the steps of docs/runtime.md, with the
//! previous deployment put back by itself when a hook or a health check fails.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use bale_coordinate::Coordinate;
use bale_home::Home;
use bale_manifest::Manifest;
use sha2::{Digest, Sha256};

use crate::cutover::{self, Outgoing};
use crate::deployment::{self, AppDirs, Deployment};
use crate::hooks::run_hook_step;
use crate::kits;
use crate::layers;
use crate::lock::{AppLock, Wait};
use crate::proxy::{self, ProxyLaunch, Routes};
use crate::runner::{Isolation, RunContext};
use crate::services::{self, STOP_TIMEOUT};
use crate::users;
use crate::DeployError;
use bale_store::{InstallOptions, Store, StoreError};

/// How many deployments are kept when not told otherwise.
pub const DEFAULT_KEEP: usize = 5;
/// The steps of a deploy, in order, as docs/runtime.md numbers them; the names
/// [`bale_home::env::BALE_TEST_KILL_AT`] takes.
pub const DEPLOY_STEPS: [&str; 10] = [
    "install",
    "kits",
    "deployment",
    "hooks-before",
    "stop",
    "switch",
    "hooks-after",
    "start",
    "post-deploy",
    "keep",
];

/// Marks the start of deploy step `name`. A testing aid in debug builds:
/// when `BALE_TEST_KILL_AT` ([`bale_home::env::BALE_TEST_KILL_AT`]) names a
/// step of [`DEPLOY_STEPS`], the deploying process kills itself with SIGKILL
/// as that step begins, so tests can check what a crash at each step leaves
/// behind.
fn step(name: &str) {
    // Compiled out of release builds: no variable in a production
    // environment can make a deploy kill itself half-way.
    #[cfg(debug_assertions)]
    if std::env::var_os(bale_home::env::BALE_TEST_KILL_AT).is_some_and(|at| at == name) {
        let _ =
            rustix::process::kill_process(rustix::process::getpid(), rustix::process::Signal::KILL);
    }
    #[cfg(not(debug_assertions))]
    let _ = name;
}

/// Where an installed package keeps its resolved manifest.
const MANIFEST_PATH: &str = ".bale/manifest.toml";
/// Where an installed package keeps its index.
const INDEX_PATH: &str = ".bale/index.json";

/// What to deploy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PackageRef {
    /// A package file, installed first.
    File(PathBuf),
    /// A package already installed in the store.
    Installed(Coordinate),
}

/// How to deploy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeployOptions {
    /// Variables given with `--env`; they are kept for later deploys.
    pub env: BTreeMap<String, String>,
    /// How many deployments to keep.
    pub keep: usize,
    /// Whether to wait for another deploy of the app to finish.
    pub wait: Wait,
    /// Install a package file even without a trusted signature.
    pub allow_unsigned: bool,
    /// Where the app's processes run.
    pub isolation: Isolation,
    /// Who runs the proxy that owns the app's public ports.
    pub proxy: ProxyLaunch,
}

impl Default for DeployOptions {
    fn default() -> Self {
        DeployOptions {
            env: BTreeMap::new(),
            keep: DEFAULT_KEEP,
            wait: Wait::No,
            allow_unsigned: false,
            isolation: Isolation::None,
            proxy: ProxyLaunch::Detached,
        }
    }
}

/// What a successful deploy did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployed {
    /// The new current deployment.
    pub deployment: Deployment,
    /// The deployment it replaced.
    pub previous: Option<Deployment>,
    /// The services started.
    pub services: Vec<String>,
    /// Old deployments removed by the keep rule.
    pub removed: Vec<Deployment>,
}

/// Receives each step as it starts: a verb and what it acts on.
pub type Progress<'a> = &'a dyn Fn(&str, &str);

/// Deploys `package` as app `name` (see docs/runtime.md, "Deploy").
pub fn deploy(
    home: &Home,
    name: &str,
    package: &PackageRef,
    options: &DeployOptions,
    progress: Progress<'_>,
) -> Result<Deployed, DeployError> {
    let app = AppDirs::new(home, name)?;
    let fresh = !app.exists();
    let _lock = AppLock::acquire(&app, options.wait)?;
    // Until the deployment records its package, gc must not take it (see gc.rs).
    let _store = crate::gc::StoreLock::shared(home)?;
    let result = deploy_locked(home, &app, package, options, progress);
    if result.is_err() && fresh && deployment::list(&app)?.is_empty() {
        // A first deploy that failed leaves no trace of the app.
        proxy::stop(&app)?;
        bale_fs::remove_tree(app.root())?;
    }
    result
}

/// [`deploy`] with the app's lock held.
fn deploy_locked(
    home: &Home,
    app: &AppDirs,
    package: &PackageRef,
    options: &DeployOptions,
    progress: Progress<'_>,
) -> Result<Deployed, DeployError> {
    let name = app.name();
    deployment::clear_partial(app)?;
    let isolation = options.isolation;

    // 1. install
    step("install");
    let store = Store::new(home.clone());
    let (coordinate, package_dir) = match package {
        PackageRef::File(path) => {
            progress("Installing", &path.display().to_string());
            let installed = store.install(
                path,
                &InstallOptions {
                    allow_unsigned: options.allow_unsigned,
                },
            )?;
            (installed.coordinate, installed.dir)
        }
        PackageRef::Installed(coordinate) => (coordinate.clone(), installed_dir(home, coordinate)?),
    };
    let manifest = read_manifest(&package_dir)?;

    // 2. kits
    step("kits");
    let kept = kits::read_env(&app.env_file())?;
    let variables = kits::resolve(name, &manifest, &options.env, &kept)?;
    if variables.kept != kept {
        kits::write_env(&app.env_file(), &variables.kept)?;
    }

    // 3. the deployment directory (the sandbox's root first: making it may fail)
    step("deployment");
    let root = match isolation {
        Isolation::Stack => Some(layers::runtime_root(
            home,
            &manifest,
            &package_dir,
            progress,
        )?),
        Isolation::None => None,
    };
    let previous = deployment::current(app)?;
    let id = deployment::deployment_id(&package_digest(&package_dir)?, &variables.values);
    let new = deployment::create(app, &coordinate, &package_dir, id, variables.values)?;
    fs::create_dir_all(app.run_dir()).map_err(|e| DeployError::io(app.run_dir(), e))?;
    progress(
        "Deploying",
        &format!("{coordinate} as {name} ({})", short(&new.id)),
    );
    let ctx = context_on(app, &new, &manifest, root, home)?;
    let mut extra = Vec::new();
    if let Some(old) = &previous {
        extra.push((
            "BALE_OLD_VERSION".to_owned(),
            old.coordinate.version().to_owned(),
        ));
        extra.push((
            "BALE_NEW_VERSION".to_owned(),
            coordinate.version().to_owned(),
        ));
    }

    // 4. post-install or pre-upgrade, the old version still running
    step("hooks-before");
    let first_hook = if previous.is_some() {
        "pre-upgrade"
    } else {
        "post-install"
    };
    if let Err(cause) = run_hook_step(
        isolation, &ctx, app, &manifest, first_hook, &extra, progress,
    ) {
        deployment::remove(app, &new)?;
        let restored = match &previous {
            Some(old) => format!("nothing was changed; {} is still current", old.coordinate),
            None => "nothing was changed".to_owned(),
        };
        return Err(DeployError::RolledBack {
            cause: Box::new(cause),
            restored,
        });
    }

    // 5. make room (the old version keeps serving unless its kits say stop-first), 6. switch
    step("stop");
    let old_manifest = match &previous {
        Some(old) => Some(read_manifest(&old.package_dir)?),
        None => None,
    };
    let outgoing = cutover::make_room(app, old_manifest.as_ref(), &manifest, progress)?;
    step("switch");
    deployment::switch(app, Some(&new))?;

    // 7. post-upgrade and deploy hooks, 8. start beside the old version, switch, stop the old one
    let live = go_live(
        isolation,
        &ctx,
        app,
        &manifest,
        previous.is_some(),
        &extra,
        &outgoing,
        options.proxy,
        progress,
    );
    let started = match live {
        Ok(started) => started,
        Err(cause) => {
            let restored = restore(
                home,
                isolation,
                app,
                previous.as_ref(),
                &outgoing,
                options.proxy,
                progress,
            );
            deployment::remove(app, &new)?;
            return Err(DeployError::RolledBack {
                cause: Box::new(cause),
                restored,
            });
        }
    };

    // 9. post-deploy, the new version serving
    step("post-deploy");
    if let Err(cause) = run_hook_step(
        isolation,
        &ctx,
        app,
        &manifest,
        "post-deploy",
        &extra,
        progress,
    ) {
        let restored = bring_back(
            home,
            isolation,
            app,
            previous.as_ref(),
            &new,
            options.proxy,
            progress,
        );
        deployment::remove(app, &new)?;
        return Err(DeployError::RolledBack {
            cause: Box::new(cause),
            restored,
        });
    }

    // 10. keep N
    step("keep");
    let removed = deployment::prune(app, options.keep)?;
    Ok(Deployed {
        deployment: new,
        previous,
        services: started,
        removed,
    })
}

/// Steps 7 and 8 after the switch: `post-upgrade` and `deploy`, then the
/// services started beside the old ones, healthy, switched to, the old ones stopped.
#[allow(clippy::too_many_arguments)]
fn go_live(
    isolation: Isolation,
    ctx: &RunContext,
    app: &AppDirs,
    manifest: &Manifest,
    upgrade: bool,
    extra: &[(String, String)],
    outgoing: &Outgoing,
    launch: ProxyLaunch,
    progress: Progress<'_>,
) -> Result<Vec<String>, DeployError> {
    step("hooks-after");
    let hooks: &[&str] = if upgrade {
        &["post-upgrade", "deploy"]
    } else {
        &["deploy"]
    };
    for hook in hooks {
        run_hook_step(isolation, ctx, app, manifest, hook, extra, progress)?;
    }
    step("start");
    cutover::bring_up(isolation, ctx, app, manifest, outgoing, launch, progress)
}

/// Starts every service of a deployment that is not running, on the port
/// `routes` gives it, then waits for each to be healthy.
pub(crate) fn start_services(
    isolation: Isolation,
    ctx: &RunContext,
    app: &AppDirs,
    manifest: &Manifest,
    routes: Option<&Routes>,
    progress: Progress<'_>,
) -> Result<Vec<String>, DeployError> {
    let list = cutover::routed(services::services_of(manifest, &ctx.variables), routes);
    for service in &list {
        progress("Starting", &service.name);
        services::start(isolation, ctx, app, service)?;
    }
    for service in &list {
        services::wait_healthy(isolation, ctx, app, service)?;
    }
    Ok(list.into_iter().map(|s| s.name).collect())
}

/// After a failure before the proxy switched to the new version: stops what
/// started, puts the old services and routes back, points `current` back at
/// `previous` and starts whatever of it is not running. Says what runs now.
fn restore(
    home: &Home,
    isolation: Isolation,
    app: &AppDirs,
    previous: Option<&Deployment>,
    outgoing: &Outgoing,
    launch: ProxyLaunch,
    progress: Progress<'_>,
) -> String {
    progress(
        "Rolling back",
        previous.map_or("to nothing", |p| p.name.as_str()),
    );
    if let Err(e) = cutover::undo(app, outgoing, launch) {
        return format!("stopping the new services failed too ({e}); check `bale apps`");
    }
    let Some(previous) = previous else {
        return match deployment::switch(app, None) {
            Ok(()) => "nothing was deployed before, so no deployment is current".to_owned(),
            Err(e) => format!("removing `current` failed too ({e})"),
        };
    };
    if let Err(e) = deployment::switch(app, Some(previous)) {
        return format!("switching back to {} failed too ({e})", previous.coordinate);
    }
    let started = read_manifest(&previous.package_dir).and_then(|manifest| {
        let ctx = context(home, isolation, app, previous, &manifest, progress)?;
        let routes = proxy::current_routes(app)?;
        start_services(isolation, &ctx, app, &manifest, routes.as_ref(), progress)
    });
    match started {
        Ok(_) => format!(
            "{} ({}) is current again and its services run",
            previous.coordinate,
            short(&previous.id)
        ),
        Err(e) => format!(
            "{} is current again, but its services did not come back: {e}",
            previous.coordinate
        ),
    }
}

/// After a failed `post-deploy`, the new version `new` serving: puts
/// `previous` back the way a rollback does, or retires a first deploy. Says what runs now.
fn bring_back(
    home: &Home,
    isolation: Isolation,
    app: &AppDirs,
    previous: Option<&Deployment>,
    new: &Deployment,
    launch: ProxyLaunch,
    progress: Progress<'_>,
) -> String {
    let Some(old) = previous else {
        return retire(app);
    };
    match replace_with(home, isolation, app, old, new, launch, progress) {
        Ok(()) => format!(
            "{} ({}) is current again and its services run",
            old.coordinate,
            short(&old.id)
        ),
        Err(e) => format!("putting {} back failed too: {e}", old.coordinate),
    }
}

/// After a failed first deploy whose services already served: stops them and
/// the proxy, and leaves no deployment current. Says what runs now.
fn retire(app: &AppDirs) -> String {
    let stopped = services::stop_all(app, STOP_TIMEOUT)
        .and_then(|_| services::stop_set_aside(app, STOP_TIMEOUT))
        .and_then(|_| proxy::stop(app))
        .and_then(|()| deployment::switch(app, None));
    match stopped {
        Ok(()) => "nothing was deployed before, so no deployment is current".to_owned(),
        Err(e) => format!("stopping the new services failed too ({e}); check `bale apps`"),
    }
}

/// Makes `target` the running version in place of `current`, without
/// downtime (see [`cutover`]); when its services fail, `current` is put back.
fn replace_with(
    home: &Home,
    isolation: Isolation,
    app: &AppDirs,
    target: &Deployment,
    current: &Deployment,
    launch: ProxyLaunch,
    progress: Progress<'_>,
) -> Result<(), DeployError> {
    let target_manifest = read_manifest(&target.package_dir)?;
    let current_manifest = read_manifest(&current.package_dir).ok();
    let ctx = context(home, isolation, app, target, &target_manifest, progress)?;
    let outgoing = cutover::make_room(app, current_manifest.as_ref(), &target_manifest, progress)?;
    deployment::switch(app, Some(target))?;
    match cutover::bring_up(
        isolation,
        &ctx,
        app,
        &target_manifest,
        &outgoing,
        launch,
        progress,
    ) {
        Ok(_) => Ok(()),
        Err(cause) => {
            let restored = restore(
                home,
                isolation,
                app,
                Some(current),
                &outgoing,
                launch,
                progress,
            );
            Err(DeployError::RolledBack {
                cause: Box::new(cause),
                restored,
            })
        }
    }
}

/// What `bale rollback` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolledBack {
    /// The deployment that was current.
    pub from: Deployment,
    /// The deployment current now.
    pub to: Deployment,
}

/// Makes an earlier deployment current again: the one with id `to`, or the one
/// before the current one. Its services start; if they fail, the deployment
/// that was current is put back.
pub fn rollback(
    home: &Home,
    name: &str,
    to: Option<&str>,
    wait: Wait,
    isolation: Isolation,
    progress: Progress<'_>,
) -> Result<RolledBack, DeployError> {
    let app = AppDirs::new(home, name)?;
    let _lock = AppLock::acquire(&app, wait)?;
    let current =
        deployment::current(&app)?.ok_or_else(|| DeployError::NotDeployed(name.to_owned()))?;
    let target = match to {
        Some(id) => find_by_id(&app, id)?,
        None => deployment::before(&app, &current)?
            .ok_or_else(|| DeployError::NothingBefore(name.to_owned()))?,
    };
    progress(
        "Rolling back",
        &format!("{} to {} ({})", name, target.coordinate, short(&target.id)),
    );
    replace_with(
        home,
        isolation,
        &app,
        &target,
        &current,
        ProxyLaunch::Detached,
        progress,
    )?;
    Ok(RolledBack {
        from: current,
        to: target,
    })
}

/// The deployment whose id is `id`, or starts with it.
pub(crate) fn find_by_id(app: &AppDirs, id: &str) -> Result<Deployment, DeployError> {
    if let Some(found) = deployment::by_id(app, id)? {
        return Ok(found);
    }
    let matching: Vec<Deployment> = deployment::list(app)?
        .into_iter()
        .filter(|d| !id.is_empty() && d.id.starts_with(id))
        .collect();
    match matching.as_slice() {
        [one] => Ok(one.clone()),
        _ => Err(DeployError::UnknownDeployment {
            app: app.name().to_owned(),
            id: id.to_owned(),
        }),
    }
}

/// The run context of a deployment; in the stack, with its sandbox's root.
pub(crate) fn context(
    home: &Home,
    isolation: Isolation,
    app: &AppDirs,
    deployment: &Deployment,
    manifest: &Manifest,
    progress: Progress<'_>,
) -> Result<RunContext, DeployError> {
    let root = match isolation {
        Isolation::Stack => Some(layers::runtime_root(
            home,
            manifest,
            &deployment.package_dir,
            progress,
        )?),
        Isolation::None => None,
    };
    context_on(app, deployment, manifest, root, home)
}

/// The run context of a deployment over a known sandbox root; the app's
/// user is made if missing and given the runtime directory.
fn context_on(
    app: &AppDirs,
    deployment: &Deployment,
    manifest: &Manifest,
    root: Option<layers::Root>,
    home: &Home,
) -> Result<RunContext, DeployError> {
    let (layers, hide) = root.map(|r| (r.layers, r.hide)).unwrap_or_default();
    let user = users::app_user(home, app.name())?;
    users::hand_over_run_dir(app, user.as_ref())?;
    Ok(RunContext {
        app: app.name().to_owned(),
        coordinate: deployment.coordinate.clone(),
        package_dir: deployment.package_dir.clone(),
        workdir: manifest.workdir().to_owned(),
        run_dir: app.run_dir(),
        variables: deployment.variables.clone(),
        layers,
        hide,
        scratch: Some(home.tmp_dir()),
        ports: kits::ports(manifest, &deployment.variables),
        user,
        limits: manifest.run.limits.clone(),
    })
}

/// The resolved manifest an installed package keeps.
pub(crate) fn read_manifest(package_dir: &Path) -> Result<Manifest, DeployError> {
    let path = package_dir.join(MANIFEST_PATH);
    let text = fs::read_to_string(&path).map_err(|e| DeployError::io(&path, e))?;
    let origin = path.display().to_string();
    Manifest::parse_installed(&origin, &text).map_err(|d| DeployError::Manifest {
        path,
        message: d.to_string(),
    })
}

/// The directory of an installed package, or why it is not there.
fn installed_dir(home: &Home, coordinate: &Coordinate) -> Result<PathBuf, DeployError> {
    let dir = home.package_dir(coordinate);
    if !dir.join(INDEX_PATH).is_file() {
        return Err(StoreError::NotInstalled {
            coordinate: coordinate.clone(),
        }
        .into());
    }
    Ok(dir)
}

/// The package's digest: sha256 over its index (which holds every file's hash) and manifest.
fn package_digest(package_dir: &Path) -> Result<String, DeployError> {
    let mut hash = Sha256::new();
    for part in [INDEX_PATH, MANIFEST_PATH] {
        let path = package_dir.join(part);
        let bytes = fs::read(&path).map_err(|e| DeployError::io(&path, e))?;
        hash.update(&bytes);
    }
    Ok(format!("sha256:{}", hex::encode(hash.finalize())))
}

/// The first 12 hex digits of an id, as shown to people.
pub fn short(id: &str) -> &str {
    id.get(..12).unwrap_or(id)
}
