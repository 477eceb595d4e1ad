//! The dashboard that `bale serve` shows at `/`: the queue and recent
//! builds with their step timings, a build's log (live while it runs), the
//! packages with their files, the stacks and the apps deployed on this
//! machine.
//!
//! Pages are rendered on the server from plain view types, so they read
//! without JavaScript; a few lines of script follow a running build's log
//! over server-sent events and refresh the overview. Where the data comes
//! from is the caller's business: it implements [`Source`] and mounts
//! [`router`].

mod html;
mod pages;
mod routes;
mod view;

pub use pages::{build_page, overview_page, package_page};
pub use routes::{router, Source, SourceError};
pub use view::{
    AppRow, AttestationLink, BuildPage, BuildRow, CheckView, DifferenceRow, FileRow, Overview,
    PackagePage, PackageRow, StackRow, StepRow,
};
