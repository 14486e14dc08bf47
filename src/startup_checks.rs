//! Checks that must pass before the app changes anything (the database
//! migrations), so that a launch that is going to fail fails before side effects.
//!
//! Rocket runs every ignite fairing even after one failed, so a failure here also
//! manages [`LaunchRefused`], which the database fairing reads to skip migrating.

use std::path::PathBuf;

use figment::value::magic::RelativePathBuf;
use rocket::fairing::{self, AdHoc, Fairing, Info, Kind};
use rocket::{Build, Rocket};

/// Managed when a start-up check failed: later ignite fairings do nothing lasting.
pub struct LaunchRefused;

/// Rocket's and rocket_dyn_templates' default `template_dir`.
const DEFAULT_TEMPLATE_DIR: &str = "templates";

/// Attach it first; see the module doc.
pub struct StartupChecks;

/// The checks, first of the app's fairings: before anything that has side
/// effects at ignite (the database's migrations).
pub fn stage() -> AdHoc {
    AdHoc::on_ignite("Start-up checks stage", |rocket| async {
        rocket.attach(StartupChecks)
    })
}

#[rocket::async_trait]
impl Fairing for StartupChecks {
    fn info(&self) -> Info {
        Info {
            name: "Start-up checks",
            kind: Kind::Ignite,
        }
    }

    async fn on_ignite(&self, rocket: Rocket<Build>) -> fairing::Result {
        let checks = check_template_dir(rocket.figment())
            .and_then(|()| crate::logging::log_format(rocket.figment()).map(drop));
        if let Err(reason) = checks {
            rocket::error!("configuration: {reason}");
            return Err(rocket.manage(LaunchRefused));
        }
        Ok(rocket)
    }
}

/// The templates directory as the template fairing will resolve it: relative to
/// Rocket.toml when set there, else to the working directory.
pub fn template_dir(figment: &figment::Figment) -> Result<PathBuf, String> {
    match figment.extract_inner::<RelativePathBuf>("template_dir") {
        Ok(path) => Ok(path.relative()),
        Err(e) if e.missing() => Ok(DEFAULT_TEMPLATE_DIR.into()),
        Err(e) => Err(format!("invalid `template_dir`: {e}")),
    }
}

/// The templates directory must exist.
fn check_template_dir(figment: &figment::Figment) -> Result<(), String> {
    let dir = template_dir(figment)?;
    if dir.is_dir() {
        return Ok(());
    }
    let shown = std::path::absolute(&dir).unwrap_or(dir);
    Err(format!(
        "`template_dir` is {} and that is not a directory: start the app from the \
         directory that holds Rocket.toml and templates/, or point at the templates \
         with ROCKET_TEMPLATE_DIR=/path/to/templates",
        shown.display()
    ))
}
