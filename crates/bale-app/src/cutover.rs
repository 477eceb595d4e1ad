//! Replacing the running version's services by another version's without
//! downtime (docs/runtime.md, "Zero-downtime deploys"): the old services are
//! set aside (their kits' `switch = "stop-first"` ones stopped), the new ones
//! start on fresh private ports and must be healthy, the proxy switches new
//! connections to them, and the old ones stop once their connections are done.

use std::collections::BTreeSet;

use bale_manifest::{Manifest, Switch};

use crate::deploy::Progress;
use crate::deployment::AppDirs;
use crate::proxy::{self, ProxyLaunch, Routes};
use crate::runner::{Isolation, RunContext};
use crate::services::{self, Service, STOP_TIMEOUT};
use crate::DeployError;

/// What is kept of the version being replaced while the next one starts.
#[derive(Debug, Clone)]
pub(crate) struct Outgoing {
    /// The routing table in force before; `None` when bale did not own the
    /// public ports yet (a first deploy, or an app deployed by an older bale).
    routes: Option<Routes>,
}

/// Step 5 of a deploy: makes room for the next version. The services whose
/// kit says `stop-first` (in either version) stop now; the others are set
/// aside and keep serving. An app whose services still listen on the public
/// ports themselves (no routing table yet) stops them all: the proxy needs the ports.
pub(crate) fn make_room(
    app: &AppDirs,
    old: Option<&Manifest>,
    new: &Manifest,
    progress: Progress<'_>,
) -> Result<Outgoing, DeployError> {
    let routes = proxy::current_routes(app)?;
    if routes.is_none() {
        progress("Stopping", "the running services");
        services::stop_all(app, STOP_TIMEOUT)?;
        services::stop_set_aside(app, STOP_TIMEOUT)?;
        return Ok(Outgoing { routes });
    }
    let stop_first: BTreeSet<&String> = [Some(new), old]
        .into_iter()
        .flatten()
        .flat_map(|m| m.services().keys())
        .filter(|name| {
            [Some(new), old]
                .into_iter()
                .flatten()
                .any(|m| m.switch_for_service(name) == Switch::StopFirst)
        })
        .collect();
    // Connections arriving meanwhile wait in the proxy for the next version.
    let _hold = (!stop_first.is_empty())
        .then(|| proxy::hold(app))
        .transpose()?;
    for name in stop_first {
        if services::stop(app, name, STOP_TIMEOUT)? {
            progress("Stopped", &format!("{name} (its kit switches stop-first)"));
        }
    }
    services::set_aside(app)?;
    Ok(Outgoing { routes })
}

/// Step 8: starts the services of `manifest` on fresh private ports, waits
/// until each is healthy, switches the proxy to them, then stops what was
/// set aside once its connections have finished (at most the stop timeout).
/// On an error nothing was switched: [`undo`] puts the old version back.
pub(crate) fn bring_up(
    isolation: Isolation,
    ctx: &RunContext,
    app: &AppDirs,
    manifest: &Manifest,
    outgoing: &Outgoing,
    launch: ProxyLaunch,
    progress: Progress<'_>,
) -> Result<Vec<String>, DeployError> {
    let list = services::services_of(manifest, &ctx.variables);
    let publics: Vec<u16> = list.iter().filter_map(|s| s.port).collect();
    let fresh = proxy::fresh_routes(&publics)?;
    let table = Routes {
        generation: 0,
        routes: fresh.clone(),
    };
    let list = routed(list, Some(&table));
    for service in &list {
        progress("Starting", &service.name);
        services::start(isolation, ctx, app, service)?;
    }
    for service in &list {
        services::wait_healthy(isolation, ctx, app, service)?;
    }
    progress("Switching", "new connections to the new version");
    let now = proxy::switch_to(app, fresh, launch)?;
    let draining: Vec<u16> = outgoing
        .routes
        .iter()
        .flat_map(|old| old.routes.iter().map(|r| r.private))
        .filter(|private| !now.routes.iter().any(|r| r.private == *private))
        .collect();
    if !draining.is_empty() && !proxy::drain(app, &draining, STOP_TIMEOUT) {
        progress(
            "Stopping",
            "the old version with connections still open (stop timeout reached)",
        );
    }
    services::stop_set_aside(app, STOP_TIMEOUT)?;
    Ok(list.into_iter().map(|s| s.name).collect())
}

/// After a failure before the proxy switched: stops the new services, puts
/// back the ones set aside and the routing table that was in force.
pub(crate) fn undo(
    app: &AppDirs,
    outgoing: &Outgoing,
    launch: ProxyLaunch,
) -> Result<(), DeployError> {
    services::stop_all(app, STOP_TIMEOUT)?;
    services::put_back(app)?;
    let now = proxy::current_routes(app)?;
    match &outgoing.routes {
        Some(old) if now.as_ref().map(|r| r.generation) != Some(old.generation) => {
            proxy::switch_to(app, old.routes.clone(), launch)?;
        }
        Some(_) => {}
        None => proxy::stop(app)?,
    }
    Ok(())
}

/// `services` with each port replaced by the private port behind it in `routes`.
pub(crate) fn routed(services: Vec<Service>, routes: Option<&Routes>) -> Vec<Service> {
    services
        .into_iter()
        .map(|mut s| {
            s.port = s.port.map(|public| proxy::service_port(routes, public));
            s
        })
        .collect()
}
