//! The command line: raw syntax only. Each command's module turns these
//! arguments into work.

use std::path::PathBuf;

use clap::{ArgGroup, Args, CommandFactory, Parser, Subcommand};

/// The workflows `bale --help` lists its commands under, in order; every
/// visible command is in exactly one (a test checks).
pub const WORKFLOWS: &[(&str, &[&str])] = &[
    ("Author", &["init", "check"]),
    (
        "Build",
        &[
            "build", "pack", "inspect", "verify", "sign", "key", "stack", "export",
        ],
    ),
    ("Repository", &["publish", "fetch", "query", "token"]),
    (
        "Deploy",
        &[
            "install",
            "deploy",
            "rollback",
            "apps",
            "app",
            "service",
            "logs",
            "uninstall",
            "supervise",
            "gc",
            "system",
        ],
    ),
    (
        "Service",
        &["serve", "worker", "submit", "builds", "cancel", "watch"],
    ),
];

/// The command line, with `--help` listing the commands by workflow.
///
/// clap lists subcommands under one heading only, so the grouped list is
/// written into the top-level help template from [`WORKFLOWS`].
pub fn command() -> clap::Command {
    let command = Cli::command();
    let header = *command.get_styles().get_header();
    let literal = *command.get_styles().get_literal();
    let width = WORKFLOWS
        .iter()
        .flat_map(|(_, names)| names.iter().map(|n| n.len()))
        .max()
        .unwrap_or(0);
    let mut groups = String::new();
    for (workflow, names) in WORKFLOWS {
        groups.push_str(&format!("{header}{workflow}:{header:#}\n"));
        for name in *names {
            let about = command
                .find_subcommand(name)
                .and_then(|c| c.get_about())
                .map(ToString::to_string)
                .unwrap_or_default();
            groups.push_str(&format!(
                "  {literal}{name}{literal:#}{:pad$}  {about}\n",
                "",
                pad = width - name.len()
            ));
        }
        groups.push('\n');
    }
    // Braces in an about line would read as template tags.
    let groups = groups.replace('{', "(").replace('}', ")");
    command.help_template(format!(
        "{{before-help}}{{about-with-newline}}\n{{usage-heading}} {{usage}}\n\n{groups}{header}Options:{header:#}\n{{options}}{{after-help}}"
    ))
}

/// Build, package, sign, store and deploy applications.
///
/// bale turns an application's source and its `bale.toml` into an
/// immutable, reproducible, signed package, keeps packages in a
/// repository, and installs them on Linux machines.
///
/// Environment: BALE_HOME (all state; default /var/lib/bale as root,
/// ~/.local/share/bale otherwise), BALE_REPO (default repository URL),
/// BALE_TOKEN (bearer token for writes, and reads of a private server),
/// BALE_KEY_PASSWORD_FILE or BALE_KEY_PASSWORD (an encrypted signing key's
/// password), NO_COLOR.
#[derive(Debug, Parser)]
#[command(name = "bale", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command accepts.
#[derive(Debug, Args)]
pub struct GlobalArgs {
    /// Print machine-readable JSON on stdout (for commands that print data).
    #[arg(long, global = true)]
    pub json: bool,
    /// Print only errors.
    #[arg(long, short, global = true)]
    pub quiet: bool,
}

impl GlobalArgs {
    /// Whether JSON output was asked for.
    pub fn json_requested(&self, _command: &Command) -> bool {
        self.json
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a starting bale.toml for a source tree, guessing its kind.
    Init(InitArgs),
    /// Validate bale.toml and print every error at once.
    Check(CheckArgs),
    /// Pack a prepared package root into NAME-VERSION-ARCH.bale.
    Pack(PackArgs),
    /// Show a package: identity, stack, dependencies, sizes and files.
    Inspect(InspectArgs),
    /// Check a package file or an installed package: every hash, and the signature.
    Verify(VerifyArgs),
    /// Signing keys: generate, trust, list.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Sign a package file, writing FILE.bale.minisig beside it.
    Sign(SignArgs),
    /// Export a package as an OCI image, a Debian package or an Alpine package.
    #[command(subcommand)]
    Export(ExportCommand),
    /// Install a package into $BALE_HOME/pkgs, verified and read-only.
    Install(InstallArgs),
    /// Serve the repository (the package tree and /api/v1) over HTTP.
    Serve(ServeArgs),
    /// Run build workers only, sharing the database and storage with `bale serve`.
    Worker(WorkerArgs),
    /// Queue a build of a source directory or git URL on the build service.
    Submit(SubmitArgs),
    /// List the build service's builds, newest first.
    Builds(BuildsArgs),
    /// Cancel a queued or running build.
    Cancel(CancelArgs),
    /// Which published packages ship a file or need a library.
    Query(QueryArgs),
    /// Tokens for the service's write calls and a private server's reads: create, list, revoke.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Publish a package (and its .minisig) to a repository (token: BALE_TOKEN).
    Publish(PublishArgs),
    /// Download a package (with its .minisig, SBOMs and provenance) from a repository, checking every hash.
    Fetch(FetchArgs),
    /// Build a package from source in a sandbox: OUT/NAME-VERSION-ARCH.bale, its SBOMs and provenance, and OUT/NAME-VERSION.build.json.
    Build(BuildArgs),
    /// Stack images: create, start, stop, sanitize, rm, list.
    #[command(subcommand)]
    Stack(StackCommand),
    /// Deploy a package as an app: install, check its kits, switch, start, roll back on failure.
    Deploy(DeployArgs),
    /// Make an earlier deployment of an app current again and start its services.
    Rollback(RollbackArgs),
    /// List every app: its current version and its services' state.
    Apps,
    /// Start, stop, restart or show the services of an app.
    Service(ServiceArgs),
    /// Show the logs of an app's services.
    Logs(LogsArgs),
    /// Run one of an app's `[run.commands]` in its environment.
    App(AppArgs),
    /// Remove an app: pre-deinstall, stop, remove, post-deinstall (packages stay installed).
    Uninstall(UninstallArgs),
    /// Keep every app's services running, restarting crashed ones with growing delays.
    Supervise(SuperviseArgs),
    /// Remove installed packages that no kept deployment of any app uses.
    Gc(GcArgs),
    /// Set this machine up to run bale: systemd units for `bale supervise` and `bale serve`.
    #[command(subcommand)]
    System(SystemCommand),
    /// Poll a git remote and submit a build for each pushed `<name>-<version>` branch or `v<version>` tag.
    Watch(WatchArgs),
    /// Print this command-line reference as markdown (scripts/cli-reference writes docs/cli.md).
    #[command(hide = true)]
    CliReference,
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The source tree (default: the current directory).
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Replace an existing bale.toml.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// The directory holding bale.toml, or the file itself (default: the current directory).
    #[arg(default_value = ".")]
    pub dir: PathBuf,
}

#[derive(Debug, Args)]
pub struct PackArgs {
    /// The prepared package root (bin/, etc/, lib/, app/ …).
    pub root: PathBuf,
    /// The bale.toml that describes the package.
    #[arg(long, short)]
    pub manifest: PathBuf,
    /// Where to write the package (default: the current directory).
    #[arg(long, short, default_value = ".")]
    pub output: PathBuf,
    /// Sign with this secret key (a name in $BALE_HOME/keys or a path to a .key file).
    #[arg(long)]
    pub key: Option<String>,
    /// The time written into every entry (default: $SOURCE_DATE_EPOCH, else 0).
    #[arg(long, env = bale_home::env::SOURCE_DATE_EPOCH, default_value_t = 0)]
    pub source_date_epoch: u64,
    /// The Debian architecture the ELF files are for (default: the one their
    /// headers name; `all` when there are none); a file for another is refused.
    #[arg(long, value_parser = arch_name)]
    pub arch: Option<String>,
}

/// A Debian architecture name (`amd64`, `arm64`, …), checked as one.
pub fn arch_name(value: &str) -> Result<String, String> {
    if bale_inspect::is_arch_name(value) {
        Ok(value.to_owned())
    } else {
        Err(format!(
            "`{value}` is not a Debian architecture name (amd64, arm64, armhf, riscv64, …)"
        ))
    }
}

/// `bale submit --arch`: an architecture name or `all-supported`.
fn submit_arch(value: &str) -> Result<String, String> {
    if value == "all-supported" {
        Ok(value.to_owned())
    } else {
        arch_name(value)
    }
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// The package file.
    pub file: PathBuf,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// A package file, or the coordinate of an installed package (group:name:version).
    pub target: String,
    /// Check hashes only; do not require a trusted signature for a file.
    #[arg(long)]
    pub allow_unsigned: bool,
    /// Also check the signed provenance beside the file (FILE.intoto.json):
    /// signed by a trusted key, and about this file.
    #[arg(long)]
    pub provenance: bool,
}

#[derive(Debug, Subcommand)]
pub enum ExportCommand {
    /// Write an OCI image layout (stack, runtime layer, package) that podman,
    /// skopeo and any registry take.
    Oci(ExportOciArgs),
    /// Write NAME_VERSION_ARCH.deb for dpkg and apt on the stack's distribution.
    Deb(ExportDebArgs),
    /// Write NAME-VERSION-r0.apk, signed, for a static or musl-linked package.
    Apk(ExportApkArgs),
}

/// What every export takes: the package and where to write.
#[derive(Debug, Args)]
pub struct ExportTarget {
    /// A package file, or a coordinate (group:name:version) to fetch from the repository.
    pub package: String,
    /// The directory to write into (default: the current directory).
    #[arg(long, short = 'o', value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// The repository to fetch a coordinate from (default: $BALE_REPO, else http://127.0.0.1:7070).
    #[arg(long)]
    pub repo: Option<String>,
}

#[derive(Debug, Args)]
pub struct ExportOciArgs {
    #[command(flatten)]
    pub target: ExportTarget,
    /// The image's name in the layout (NAME:TAG; default: the package's name
    /// and version). The layout is -o DIR, default NAME-VERSION.oci.
    #[arg(long, value_name = "NAME:TAG")]
    pub tag: Option<String>,
    /// Also push the image to a registry (REGISTRY/NAME:TAG); credentials
    /// come from BALE_REGISTRY_AUTH=USER:PASSWORD.
    #[arg(long, value_name = "REGISTRY/NAME:TAG")]
    pub push: Option<String>,
}

#[derive(Debug, Args)]
pub struct ExportDebArgs {
    #[command(flatten)]
    pub target: ExportTarget,
}

#[derive(Debug, Args)]
pub struct ExportApkArgs {
    #[command(flatten)]
    pub target: ExportTarget,
    /// The RSA private key (PEM) that signs the package.
    #[arg(long, value_name = "RSA_KEY.pem")]
    pub key: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Generate a key pair in $BALE_HOME/keys (NAME.key, NAME.pub) and trust it.
    ///
    /// With a password the secret key is encrypted as `minisign -G` does;
    /// signing then reads the password from BALE_KEY_PASSWORD_FILE or BALE_KEY_PASSWORD.
    Generate {
        /// The key's name.
        #[arg(long, default_value = "default")]
        name: String,
        /// Encrypt the secret key with the password in FILE (its first line).
        #[arg(long, value_name = "FILE", conflicts_with = "password_env")]
        password_file: Option<PathBuf>,
        /// Encrypt the secret key with the password in environment variable VAR.
        #[arg(long, value_name = "VAR")]
        password_env: Option<String>,
    },
    /// Trust a public key (minisign format) for verifying packages.
    Trust {
        /// The public key file.
        file: PathBuf,
        /// The name to keep it under (default: the file's stem).
        #[arg(long)]
        name: Option<String>,
    },
    /// List the trusted public keys.
    List,
}

#[derive(Debug, Args)]
pub struct SignArgs {
    /// The package file.
    pub file: PathBuf,
    /// The secret key: a name in $BALE_HOME/keys or a path to a .key file (default: "default").
    #[arg(long)]
    pub key: Option<String>,
}

#[derive(Debug, Args)]
pub struct InstallArgs {
    /// A package file, a coordinate (group:name:version) to fetch from the repository, or
    /// the http(s) URL of a .bale (its .minisig is fetched from beside it).
    pub target: String,
    /// Install even when the package has no signature from a trusted key.
    #[arg(long)]
    pub allow_unsigned: bool,
    /// The repository to fetch a coordinate from (default: $BALE_REPO, else http://127.0.0.1:7070).
    #[arg(long)]
    pub repo: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a token and print it once; only its hash is stored.
    Create {
        /// What the token may do: read, build, publish or admin (admin does everything; every scope reads).
        #[arg(long)]
        scope: String,
        /// How long the token works, e.g. 90d, 12h (default: until revoked).
        #[arg(long, value_name = "DURATION")]
        expires: Option<String>,
        /// The database (default: $BALE_HOME/bale.db).
        #[arg(long)]
        database: Option<String>,
    },
    /// List the tokens: id, scope, created, expires, last used, state (never the token).
    List {
        /// The database (default: $BALE_HOME/bale.db).
        #[arg(long)]
        database: Option<String>,
    },
    /// Revoke a token by its id (from `bale token list`): it is refused from now on.
    Revoke {
        /// The token's id.
        id: i64,
        /// The database (default: $BALE_HOME/bale.db).
        #[arg(long)]
        database: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct PublishArgs {
    /// The package file; FILE.minisig beside it is sent too.
    pub file: PathBuf,
    /// The repository (default: $BALE_REPO, else http://127.0.0.1:7070).
    #[arg(long)]
    pub repo: Option<String>,
}

#[derive(Debug, Args)]
pub struct FetchArgs {
    /// The package's coordinate, group:name:version.
    pub coordinate: String,
    /// The repository (default: $BALE_REPO, else http://127.0.0.1:7070).
    #[arg(long)]
    pub repo: Option<String>,
    /// Where to write the package, and beside it the signature, SBOMs and provenance the repository has.
    #[arg(long, short, default_value = ".")]
    pub output: PathBuf,
}

#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The source tree holding bale.toml (default: the current directory).
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Where to write the package and its .build.json (default: the current directory).
    #[arg(long, short, default_value = ".")]
    pub output: PathBuf,
    /// Build for this Debian architecture (e.g. arm64) on the stack's image for it,
    /// emulated when it is not the machine's (default: the machine's).
    #[arg(long, value_name = "ARCH")]
    pub arch: Option<String>,
    /// Ignore cached dependency layers and `[build]` cache directories.
    #[arg(long)]
    pub fresh: bool,
    /// Build twice and compare: fail, naming the files that differ, unless the packages are identical.
    #[arg(long)]
    pub check: bool,
    /// Print more: each step's time, notes, and the dependency layer's key inputs.
    #[arg(long, short)]
    pub verbose: bool,
    /// Sign with this secret key (a name in $BALE_HOME/keys or a path to a .key file).
    #[arg(long)]
    pub key: Option<String>,
    /// When the build fails, keep its environment (source, prefix, test root) under
    /// $BALE_HOME/failed for this many minutes; builds remove expired ones.
    #[arg(long, value_name = "MINUTES")]
    pub keep_failed: Option<u64>,
}

#[derive(Debug, Subcommand)]
pub enum StackCommand {
    /// Create a stack's image (debootstrap; needs root), recording its digest.
    Create {
        /// The stack's name.
        name: String,
        /// The Debian mirror to bootstrap from (default: stacks.toml, else the host's apt sources).
        #[arg(long)]
        mirror: Option<String>,
        /// Replace an existing stack with a new image, dropping its dependency layers.
        #[arg(long)]
        recreate: bool,
        /// The image's Debian architecture, e.g. arm64 (default: the machine's).
        #[arg(long, value_name = "ARCH")]
        arch: Option<String>,
    },
    /// Keep a stack warm for builds.
    Start {
        /// The stack's name.
        name: String,
        /// The image's Debian architecture, e.g. arm64 (default: the machine's).
        #[arg(long, value_name = "ARCH")]
        arch: Option<String>,
    },
    /// Stop keeping a stack warm and drop its dependency layers.
    Stop {
        /// The stack's name.
        name: String,
        /// The image's Debian architecture, e.g. arm64 (default: the machine's).
        #[arg(long, value_name = "ARCH")]
        arch: Option<String>,
    },
    /// Check a stack against its recorded digest and rebuild it if it drifted.
    Sanitize {
        /// The stack's name.
        name: String,
        /// The image's Debian architecture, e.g. arm64 (default: the machine's).
        #[arg(long, value_name = "ARCH")]
        arch: Option<String>,
    },
    /// Remove a stack's image, record and layers.
    Rm {
        /// The stack's name.
        name: String,
        /// The image's Debian architecture, e.g. arm64 (default: the machine's).
        #[arg(long, value_name = "ARCH")]
        arch: Option<String>,
    },
    /// List the configured stacks and the images on disk.
    List,
}

/// `bale deploy`.
#[derive(Debug, Args)]
#[command(
    after_help = "Steps: install the package; check the kits' variables; make deployments/<date_time>/; run post-install (first deploy) or pre-upgrade; stop the old services; switch `current`; run post-upgrade and deploy; start the services and wait for their health checks; run post-deploy; keep the newest N deployments. If a hook or a health check fails, the previous deployment is made current again and its services started."
)]
pub struct DeployArgs {
    /// The app: a name for this instance of the package, e.g. `shop`.
    pub app: String,
    /// The package: a FILE.bale, or the coordinate (group:name:version) of an installed package.
    pub package: String,
    /// Give the app a variable (kept for later deploys); repeat for more.
    #[arg(long = "env", value_name = "NAME=VALUE", value_parser = crate::commands::parse_env)]
    pub env: Vec<(String, String)>,
    /// Read variables from FILE (`-`: standard input), one NAME=VALUE per
    /// line; blank lines and lines starting with `#` are skipped. `--env`
    /// wins over the file. Keeps secrets off the command line.
    #[arg(long, value_name = "FILE")]
    pub env_file: Option<PathBuf>,
    /// Keep the newest N deployments; the current one and the one before it always stay.
    #[arg(long, value_name = "N", default_value_t = 5)]
    pub keep: usize,
    /// Wait for another deploy of the same app to finish instead of failing.
    #[arg(long)]
    pub wait: bool,
    /// Install the package even when it has no signature from a trusted key.
    #[arg(long)]
    pub allow_unsigned: bool,
    #[command(flatten)]
    pub hosts: HostsArgs,
}

/// `bale rollback`.
#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The app.
    pub app: String,
    /// The deployment to go back to: its id or the start of it (default: the one before the current one).
    #[arg(long, value_name = "ID")]
    pub to: Option<String>,
    /// Wait for a deploy of the same app to finish instead of failing.
    #[arg(long)]
    pub wait: bool,
}

/// What `bale service` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ServiceVerb {
    /// Start the services and wait for their health checks.
    Start,
    /// Stop the services (SIGTERM, then SIGKILL after a timeout).
    Stop,
    /// Stop, then start.
    Restart,
    /// Show whether each service runs.
    Status,
}

/// `bale service`.
#[derive(Debug, Args)]
pub struct ServiceArgs {
    /// The app.
    pub app: String,
    /// What to do.
    pub action: ServiceVerb,
    /// Only this service (default: all of the app's services).
    pub service: Option<String>,
}

/// `bale logs`.
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The app.
    #[arg(required_unless_present = "build")]
    pub app: Option<String>,
    /// Show the log of a build of the build service instead (with -f: until it ends).
    #[arg(long, value_name = "ID", conflicts_with_all = ["app", "service"])]
    pub build: Option<i64>,
    /// The build service, with --build (default: $BALE_REPO, else http://127.0.0.1:7070).
    #[arg(long, requires = "build")]
    pub server: Option<String>,
    /// Only this service (default: every service, each line prefixed with its name).
    pub service: Option<String>,
    /// Keep printing what the services write.
    #[arg(long, short)]
    pub follow: bool,
    /// How many lines of each log to show first.
    #[arg(long, short = 'n', default_value_t = 50)]
    pub lines: usize,
}

/// `bale app`.
#[derive(Debug, Args)]
pub struct AppArgs {
    /// The app.
    pub app: String,
    /// The `[run.commands]` entry, e.g. `console` or `migrate`.
    pub command: String,
    /// Arguments passed on to the command.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

/// `bale uninstall`.
#[derive(Debug, Args)]
pub struct UninstallArgs {
    /// The app.
    pub app: String,
    /// Wait for a deploy of the same app to finish instead of failing.
    #[arg(long)]
    pub wait: bool,
}

/// `bale gc`.
#[derive(Debug, Args)]
pub struct GcArgs {
    /// List what would be removed and the space it would free; remove nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// `bale system`.
#[derive(Debug, Subcommand)]
pub enum SystemCommand {
    /// Write bale-supervise.service and bale-serve.service for this bale and $BALE_HOME.
    InstallUnits {
        /// Where to write the units.
        #[arg(long, default_value = bale_app::DEFAULT_UNIT_DIR)]
        dir: PathBuf,
        /// Print the units instead of writing them.
        #[arg(long)]
        dry_run: bool,
    },
}

/// `bale supervise` flags.
#[derive(Debug, Args)]
pub struct SuperviseArgs {
    /// Delay before the first restart of a crashed service, in milliseconds; it doubles
    /// with each failure in a row.
    #[arg(long, default_value_t = 1000, value_name = "MS")]
    pub first_delay_ms: u64,
    /// The longest delay between restarts, in milliseconds.
    #[arg(long, default_value_t = 60_000, value_name = "MS")]
    pub max_delay_ms: u64,
    /// How long a service must stay up for its delay to start over, in milliseconds.
    #[arg(long, default_value_t = 60_000, value_name = "MS")]
    pub reset_after_ms: u64,
}

/// `bale serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The address to listen on.
    #[arg(long, default_value = bale_home::DEFAULT_LISTEN)]
    pub listen: std::net::SocketAddr,
    /// The database: sqlite:///path or postgres://… (default: $BALE_HOME/bale.db).
    #[arg(long)]
    pub database: Option<String>,
    /// Package and log storage: a directory or s3://bucket?endpoint=… (default: $BALE_HOME/repo).
    #[arg(long)]
    pub storage: Option<String>,
    /// Accept packages that carry no signature from a trusted key (and let local workers publish unsigned).
    #[arg(long)]
    pub allow_unsigned: bool,
    /// Accept builds of paths and file:// URLs on this machine (a submitted directory,
    /// a manifest's `[source] git`, a webhook's clone URL); off: only remote git URLs.
    #[arg(long)]
    pub allow_local_sources: bool,
    /// Refuse uploads larger than this many bytes (413).
    #[arg(long)]
    pub max_upload_bytes: Option<u64>,
    /// How many builds local workers run at once (default: the number of cores; 0: none).
    #[arg(long)]
    pub workers: Option<usize>,
    /// The key that signs what local workers build (a name in $BALE_HOME/keys or a .key path;
    /// default: the `default` key when there is one).
    #[arg(long)]
    pub key: Option<String>,
    /// The shared secret of signed git push webhooks (POST /api/v1/hooks/git; off when unset).
    #[arg(long, env = bale_home::env::BALE_HOOK_SECRET, hide_env_values = true)]
    pub hook_secret: Option<String>,
    /// Do not keep this machine's apps running (by default `bale serve` also does
    /// what `bale supervise` does: restart crashed services with back-off).
    #[arg(long)]
    pub no_supervise: bool,
    /// Keep a failed build's environment under $BALE_HOME/failed for this many minutes.
    #[arg(long, value_name = "MINUTES")]
    pub keep_failed: Option<u64>,
}

/// `bale worker`.
#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// The shared database: postgres://… (or sqlite:///path on this machine).
    #[arg(long)]
    pub database: String,
    /// The shared storage: s3://bucket?endpoint=… or a directory.
    #[arg(long)]
    pub storage: String,
    /// How many builds to run at once (default: the number of cores).
    #[arg(long, visible_alias = "workers")]
    pub concurrency: Option<usize>,
    /// The key that signs what this worker builds (default: the `default` key when there is one).
    #[arg(long)]
    pub key: Option<String>,
    /// Publish unsigned packages when there is no key.
    #[arg(long)]
    pub allow_unsigned: bool,
    /// Build sources that are paths or file:// URLs on this machine (off: only remote git URLs).
    #[arg(long)]
    pub allow_local_sources: bool,
    /// This worker's name in build records (default: host name and process id).
    #[arg(long)]
    pub name: Option<String>,
    /// Seconds a build's lease runs without renewal before another worker may retry it.
    #[arg(long, default_value_t = 30)]
    pub lease_secs: u64,
    /// Keep a failed build's environment under $BALE_HOME/failed for this many minutes.
    #[arg(long, value_name = "MINUTES")]
    pub keep_failed: Option<u64>,
}

/// `bale watch`.
#[derive(Debug, Args)]
#[command(
    after_help = "Each new or moved branch `<name>-<version>` or tag `v<version>` is submitted as a build (POST /api/v1/builds, token: BALE_TOKEN); other branches are reported as refused, once. The refs seen are kept in $BALE_HOME/watch/, so a restarted watch submits only what is new; the first poll of a remote submits every version ref it has, unless --skip-existing."
)]
pub struct WatchArgs {
    /// The git remote to poll (a URL or a path; anything `git ls-remote` takes).
    pub remote: String,
    /// The build service (default: $BALE_REPO, else http://127.0.0.1:7070).
    #[arg(long)]
    pub server: Option<String>,
    /// How long to wait between polls, e.g. `30s`, `5m`.
    #[arg(long, default_value = "30s")]
    pub interval: String,
    /// Poll once and exit (1 if a build could not be submitted).
    #[arg(long)]
    pub once: bool,
    /// On the first poll of a remote, record the version refs it already has
    /// without building them: only later pushes are built.
    #[arg(long)]
    pub skip_existing: bool,
}

/// The flags of a deploy to several machines.
#[derive(Debug, Clone, Args)]
pub struct HostsArgs {
    /// Deploy on these machines over ssh instead of this one: ssh destinations separated by commas.
    #[arg(long, value_name = "H1,H2")]
    pub hosts: Option<String>,
    /// With --hosts: one host at a time, stopping at the first failure.
    #[arg(long, requires = "hosts")]
    pub rolling: bool,
    /// With --hosts: bale's path on the hosts (default: this bale's path, else `bale` on their PATH).
    #[arg(long, value_name = "PATH", requires = "hosts")]
    pub remote_bale: Option<String>,
    /// The repository a coordinate that is not installed yet is fetched from (default:
    /// $BALE_REPO, else http://127.0.0.1:7070); with --hosts, the one the hosts install from
    /// (one on this machine's loopback is forwarded to theirs over ssh).
    #[arg(long, value_name = "URL")]
    pub repo: Option<String>,
    /// With --hosts: the ssh command, e.g. `ssh -F FILE` (default: $BALE_SSH, else `ssh`; the
    /// user's ssh config applies; BatchMode is always on).
    #[arg(long, value_name = "COMMAND", requires = "hosts")]
    pub ssh: Option<String>,
}

/// `bale builds`.
#[derive(Debug, Args)]
pub struct BuildsArgs {
    /// Only builds of this package (NAME or GROUP:NAME).
    #[arg(long)]
    pub package: Option<String>,
    /// Only builds in this status (queued, running, succeeded, failed, timed-out, canceled, not-reproducible).
    #[arg(long)]
    pub status: Option<String>,
    /// The build service (default: $BALE_REPO, else http://127.0.0.1:7070).
    #[arg(long)]
    pub server: Option<String>,
}

/// `bale cancel`.
#[derive(Debug, Args)]
pub struct CancelArgs {
    /// The build's id.
    pub id: i64,
    /// The build service (default: $BALE_REPO, else http://127.0.0.1:7070).
    #[arg(long)]
    pub server: Option<String>,
}

/// `bale query`.
#[derive(Debug, Args)]
#[command(group(ArgGroup::new("what").required(true).args(["file", "library"])))]
pub struct QueryArgs {
    /// A path in the package, e.g. bin/hello.
    #[arg(long)]
    pub file: Option<String>,
    /// A library's soname, e.g. libssl.so.3.
    #[arg(long, visible_alias = "needs")]
    pub library: Option<String>,
    /// The repository (default: $BALE_REPO, else http://127.0.0.1:7070).
    #[arg(long)]
    pub repo: Option<String>,
}

/// `bale submit`.
#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// A source directory (on the workers' machine) or a git URL.
    pub source: String,
    /// The branch, tag or commit to build (git sources).
    #[arg(long = "ref")]
    pub git_ref: Option<String>,
    /// Rebuild the dependency layer instead of reusing it.
    #[arg(long)]
    pub fresh: bool,
    /// Build it twice, the second time in a fresh environment on another worker
    /// when one is live, and publish only if the packages are identical.
    #[arg(long)]
    pub check: bool,
    /// The Debian architecture to build for (default: this machine's);
    /// `all-supported`: one build per architecture the service has stacks for.
    #[arg(long, value_parser = submit_arch)]
    pub arch: Option<String>,
    /// The build service (default: $BALE_REPO, else http://127.0.0.1:7070).
    #[arg(long)]
    pub server: Option<String>,
    /// Follow the build's log and exit with its result.
    #[arg(long)]
    pub wait: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_visible_command_is_in_exactly_one_workflow() {
        let command = Cli::command();
        for sub in command.get_subcommands().filter(|c| !c.is_hide_set()) {
            let name = sub.get_name();
            let homes: Vec<&str> = WORKFLOWS
                .iter()
                .filter(|(_, names)| names.contains(&name))
                .map(|(workflow, _)| *workflow)
                .collect();
            assert_eq!(homes.len(), 1, "`bale {name}` is in workflows {homes:?}");
        }
    }

    #[test]
    fn every_listed_command_exists() {
        let command = Cli::command();
        for name in WORKFLOWS.iter().flat_map(|(_, names)| names.iter()) {
            assert!(
                command.find_subcommand(name).is_some(),
                "`{name}` is listed in a workflow but is no command"
            );
        }
    }

    #[test]
    fn help_lists_the_workflows_in_order() {
        let help = command().render_help().to_string();
        let mut rest = help.as_str();
        for (workflow, names) in WORKFLOWS {
            let heading = format!("\n{workflow}:\n");
            let start = rest
                .find(&heading)
                .unwrap_or_else(|| panic!("no `{workflow}:` in its place in:\n{help}"));
            rest = &rest[start + heading.len()..];
            // The section runs to the blank line before the next heading.
            let section = &rest[..rest.find("\n\n").unwrap_or(rest.len())];
            let listed: Vec<&str> = section
                .lines()
                .filter_map(|line| line.split_whitespace().next())
                .collect();
            assert_eq!(listed, *names, "the {workflow} section of:\n{help}");
        }
    }
}
