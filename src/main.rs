//! The server binary: the app from Rocket.toml and the environment.

use std::process::ExitCode;

#[rocket::main]
async fn main() -> ExitCode {
    match rocket_cache::rocket().launch().await {
        Ok(_) => ExitCode::SUCCESS,
        Err(error) => {
            // The failing part has logged its own reason (e.g. MySQL unreachable).
            eprintln!("rocket-cache did not start: {error}");
            ExitCode::FAILURE
        }
    }
}
