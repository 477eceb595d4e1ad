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
            .map(|s| match s.restarts {
                0 => format!("{} {}", s.name, s.state),
                n => format!("{} {} ({n} restarts)", s.name, s.state),
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
