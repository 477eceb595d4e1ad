//! `bale apps`: every app, its current version and its services' state.

use crate::exit::Failure;
use crate::machine::Machine;
use crate::printer::Printer;

pub fn run(machine: &Machine, printer: &Printer) -> Result<(), Failure> {
    let apps = bale_app::list_apps(machine.home()?)?;
    if printer.json() {
        return printer.print_json(&apps);
    }
    if apps.is_empty() {
        printer.line("no apps are deployed; deploy one with `bale deploy APP PACKAGE`");
        return Ok(());
    }
    for app in &apps {
        let version = app.current.as_ref().map_or_else(
            || "(no current deployment)".to_owned(),
            |c| c.coordinate.clone(),
        );
        let services: Vec<String> = app
            .services
            .iter()
            .map(|s| {
                let notes = service_notes(s);
                match notes.is_empty() {
                    true => format!("{} {}", s.name, s.state),
                    false => format!("{} {} ({})", s.name, s.state, notes.join("; ")),
                }
            })
            .collect();
        let services = if services.is_empty() {
            "no services".to_owned()
        } else {
            services.join(", ")
        };
        printer.line(format!("{}\t{version}\t{services}", app.name));
    }
    Ok(())
}

/// What `bale apps` and `bale service status` add after a service's state:
/// restarts, how it last ended, its limits and whether they hold.
pub(crate) fn service_notes(service: &bale_app::ServiceStatus) -> Vec<String> {
    let mut notes = Vec::new();
    if service.restarts > 0 {
        notes.push(format!("{} restarts", service.restarts));
    }
    if let Some(exit) = &service.last_exit {
        notes.push(format!("last exit: {}", exit.reason));
    }
    if let Some(limits) = &service.limits {
        let mut set = Vec::new();
        if let Some(memory) = &limits.memory {
            set.push(format!("memory {memory}"));
        }
        if let Some(cpu) = &limits.cpu {
            set.push(format!("cpu {cpu}"));
        }
        if let Some(tasks) = limits.tasks {
            set.push(format!("tasks {tasks}"));
        }
        let state = match (&limits.applied, &limits.reason) {
            (true, _) => "applied".to_owned(),
            (false, Some(reason)) => format!("not applied: {reason}"),
            (false, None) => "not applied".to_owned(),
        };
        notes.push(format!("limits {}, {state}", set.join(", ")));
    }
    notes
}
