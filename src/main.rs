//! The server binary: the app from Rocket.toml and the environment.

use std::process::ExitCode;

/// mimalloc rather than the system's: a render allocates and frees thousands
/// of small buffers (rows, template values, the page), and glibc's malloc and
/// free were a fifth of a miss's CPU time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
