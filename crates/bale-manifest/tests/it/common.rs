//! Fixtures shared by the integration tests.
#![allow(dead_code)]

use bale_manifest::{Catalog, Manifest, ParseOptions};

/// The full example manifest: every section and field (docs/manifest.md), with placeholder hooks.
pub const SPEC_EXAMPLE: &str = r#"[package]
group       = "org.example"          # required; dotted, like a Maven groupId
name        = "flaskr"               # required; [a-z0-9][a-z0-9._-]*
version     = "1.0.0"                # required unless the build is triggered by a
                                     # git branch `<name>-<version>` (then that wins)
description = "The Flask tutorial blog"
license     = "BSD-3-Clause"         # SPDX expression
maintainer  = "Jane Doe <jane@example.org>"   # who is told when a build fails
homepage    = "https://example.org/flaskr"

[stack]
name = "debian-bookworm"   # base system image (see `bale stack list`); "host" = the
                           # host's own root file system, read-only (fast, for tests)
kind = "python"            # interpreter / tool kind: supplies the runtime packages and
                           # the default build actions (see "Kinds" below). Optional.

[dependencies]
build   = ["libpq-dev"]    # Debian packages present during the build only
runtime = ["libpq5"]       # Debian packages present wherever the package runs

[source]                   # optional; default: the directory that holds bale.toml
git = "https://git.example.org/flaskr.git"   # or a local path to a git repository
ref = "main"               # branch, tag or commit; the resolved commit is recorded

[build]
network = false            # default false: actions run without a network
env     = { PIP_NO_CACHE_DIR = "1" }
before  = ["./bootstrap.sh"]                 # app's own preparation
main    = ["pip install -r requirements.txt"]  # default: the kind's main actions
after   = ["python -m compileall -q app"]
finalize = []              # clean-up; default: the kind's finalize actions
destinations = ["flaskr", "requirements.txt", ".bundle"]  # globs, relative to the
                           # source tree, copied into the package's app/ directory
cache   = ["/root/.cache/pip"]   # directories kept between builds of this package
timeout = "30m"            # whole build; default 1h
memory  = "4G"             # limit, where the machine allows limits

[test]                     # after the build, in a fresh environment that holds only
commands = ["bin/flaskr --help"]   # the stack, the runtime dependencies and the package;
                           # run in the package root, $BALE_PREFIX/bin first on PATH

[hooks]                    # run at install / deploy time, in the package's environment
post-install   = ["flask --app flaskr init-db"]     # first install of this app
pre-upgrade    = ["..."]   # old version still current and running
post-upgrade   = ["flask --app flaskr migrate"]     # new version current, not yet started
deploy         = ["..."]   # every deploy, after the switch, before start
post-deploy    = ["..."]   # every deploy, after the services started and are healthy
pre-deinstall  = ["..."]
post-deinstall = ["..."]

[run]
workdir = "app"            # relative to the package root; default: app/ if present
[run.services]             # long-lived processes
web    = "waitress-serve --port=$PORT --call flaskr:create_app"
worker = "python -m flaskr.worker"
[run.commands]             # one-off commands: `bale app <app> console`
console = "flask --app flaskr shell"
migrate = "flask --app flaskr db upgrade"

[kits.web]                 # what the web service needs from whoever deploys it
main   = true              # the kit shown first; at most one
ports  = [{ name = "http", port = 8080 }]     # port the service listens on ($PORT)
health = { http = "/healthz", timeout = "30s" }   # or { command = "..." }
[kits.web.variables]
SECRET_KEY   = { provision = "secret" }       # generated once at first install, kept
DATABASE_URL = { required = true, description = "PostgreSQL URL" }
FLASK_ENV    = { default = "production" }
[kits.worker]
services = ["worker"]      # which services the kit covers; default: the kit's own name
"#;

/// A small valid manifest that tests extend with one mistake each.
pub const MINIMAL: &str = r#"[package]
group = "org.example"
name = "hello"
version = "1.0.0"

[stack]
name = "debian-bookworm"
kind = "python"

[run.services]
web = "./serve"
worker = "./work"
"#;

/// Parses with the default catalog.
pub fn parse(text: &str) -> Result<Manifest, bale_manifest::Diagnostics> {
    Manifest::parse(
        "bale.toml",
        text,
        &Catalog::default(),
        &ParseOptions::default(),
    )
}

/// The plain rendering of the diagnostics of a manifest that must be refused.
pub fn errors(text: &str) -> String {
    match parse(text) {
        Ok(manifest) => panic!("the manifest was accepted: {manifest:#?}"),
        Err(diagnostics) => diagnostics.render(false),
    }
}
