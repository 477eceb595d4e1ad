//! `bale service APP start|stop|restart|status [SERVICE]`.

use bale_app::{AppDirs, ServiceAction};

use crate::cli::{ServiceArgs, ServiceVerb};
use crate::exit::Failure;
use crate::machine::Machine;
use crate::printer::Printer;

pub fn run(args: ServiceArgs, machine: &Machine, printer: &Printer) -> Result<(), Failure> {
    let home = machine.home()?;
    let action = match args.action {
        ServiceVerb::Start => ServiceAction::Start,
        ServiceVerb::Stop => ServiceAction::Stop,
        ServiceVerb::Restart => ServiceAction::Restart,
        ServiceVerb::Status => return status(home, &args, printer),
    };
    let done = bale_app::control(
        home,
        &args.app,
        action,
        args.service.as_deref(),
        machine.isolation()?,
        &|verb, text| printer.status(verb, text),
    )?;
    if printer.json() {
        return printer.print_json(&serde_json::json!({ "app": args.app, "services": done }));
    }
    let verb = match action {
        ServiceAction::Start => "Started",
        ServiceAction::Stop => "Stopped",
        ServiceAction::Restart => "Restarted",
    };
    printer.status(verb, format!("{}: {}", args.app, done.join(", ")));
    Ok(())
}

fn status(home: &bale_home::Home, args: &ServiceArgs, printer: &Printer) -> Result<(), Failure> {
    let app = AppDirs::new(home, &args.app)?;
    let status = bale_app::app_status(&app)?;
    if status.current.is_none() {
        return Err(bale_app::DeployError::NotDeployed(args.app.clone()).into());
    }
    let services: Vec<_> = status
        .services
        .iter()
        .filter(|s| args.service.as_deref().is_none_or(|only| only == s.name))
        .collect();
    if let Some(only) = &args.service {
        if services.is_empty() {
            return Err(bale_app::DeployError::UnknownService {
                app: args.app.clone(),
                service: only.clone(),
                known: status.services.iter().map(|s| s.name.clone()).collect(),
            }
            .into());
        }
    }
    if printer.json() {
        return printer.print_json(&services);
    }
    for service in services {
        let mut notes = Vec::new();
        if let Some(pid) = service.pid {
            notes.push(format!("pid {pid}"));
        }
        notes.extend(super::apps::service_notes(service));
        match notes.is_empty() {
            true => printer.line(format!("{}\t{}", service.name, service.state)),
            false => printer.line(format!(
                "{}\t{} ({})",
                service.name,
                service.state,
                notes.join(", ")
            )),
        }
    }
    Ok(())
}
