//! What a command knows about the machine it runs on: `$BALE_HOME`, the
//! stacks and kinds a manifest may name, how apps are isolated, the default
//! repository, the token, and an async runtime. Built once per run; each
//! part is resolved the first time a command asks for it, so `bale init`
//! never reads a stacks.toml it does not need.

use std::cell::OnceCell;

use anyhow::Context;
use bale_home::Home;
use bale_manifest::{Catalog, Kinds};
use bale_stack::Stacks;

use crate::exit::{Failure, Internal};

/// This machine, as the commands see it.
#[derive(Default)]
pub struct Machine {
    home: OnceCell<Home>,
    stacks: OnceCell<Stacks>,
    catalog: OnceCell<Catalog>,
    isolation: OnceCell<bale_app::Isolation>,
    runtime: OnceCell<tokio::runtime::Runtime>,
}

impl Machine {
    /// A machine whose parts are read when first asked for.
    pub fn new() -> Self {
        Self::default()
    }

    /// `$BALE_HOME`.
    pub fn home(&self) -> Result<&Home, Failure> {
        if let Some(home) = self.home.get() {
            return Ok(home);
        }
        let home = Home::from_env()?;
        Ok(self.home.get_or_init(|| home))
    }

    /// The stacks: `$BALE_HOME/stacks.toml` over the shipped ones.
    pub fn stacks(&self) -> Result<&Stacks, Failure> {
        if let Some(stacks) = self.stacks.get() {
            return Ok(stacks);
        }
        let stacks = Stacks::load(self.home()?, None)?;
        Ok(self.stacks.get_or_init(|| stacks))
    }

    /// The stacks and kinds a manifest may name here: the stacks, and the
    /// kinds of `$BALE_HOME/kinds.toml` over the shipped ones.
    pub fn catalog(&self) -> Result<&Catalog, Failure> {
        if let Some(catalog) = self.catalog.get() {
            return Ok(catalog);
        }
        let kinds = Kinds::load_if_present(&self.home()?.kinds_path())?;
        let catalog = Catalog::new(self.stacks()?.names(), kinds);
        Ok(self.catalog.get_or_init(|| catalog))
    }

    /// How apps run here (`isolation` in `$BALE_HOME/config.toml`).
    pub fn isolation(&self) -> Result<bale_app::Isolation, Failure> {
        if let Some(isolation) = self.isolation.get() {
            return Ok(*isolation);
        }
        let isolation = bale_app::machine_isolation(self.home()?)?;
        Ok(*self.isolation.get_or_init(|| isolation))
    }

    /// The repository or build service: the flag, else `BALE_REPO`, else the local server.
    pub fn repo_url(&self, flag: Option<String>) -> String {
        bale_home::env::server_url(flag)
    }

    /// The bearer token for write calls (`BALE_TOKEN`), when set.
    pub fn token(&self) -> Option<String> {
        bale_home::env::token()
    }

    /// The runtime for the async library calls; commands stay synchronous.
    pub fn runtime(&self) -> Result<&tokio::runtime::Runtime, Failure> {
        if let Some(runtime) = self.runtime.get() {
            return Ok(runtime);
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("starting the async runtime")
            .internal()?;
        Ok(self.runtime.get_or_init(|| runtime))
    }
}
