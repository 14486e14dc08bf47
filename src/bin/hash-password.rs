//! Prints the argon2 hash to put in `admin.password_hash`.
//!
//! Reads the password from standard input (one line; the line break is not part of
//! it), so that it stays out of the shell history and the process list:
//!
//! ```text
//! read -rs PW && printf '%s' "$PW" | cargo run -q --release --bin hash-password
//! ```

use std::io::{BufRead, IsTerminal, Write};
use std::process::ExitCode;

/// Shorter passwords are refused: the hash would not protect them.
const MIN_LEN: usize = 8;

fn main() -> ExitCode {
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        eprint!("Password (shown as you type; pipe it in to hide it): ");
        let _ = std::io::stderr().flush();
    }
    let mut line = String::new();
    if let Err(e) = stdin.lock().read_line(&mut line) {
        eprintln!("hash-password: could not read standard input: {e}");
        return ExitCode::FAILURE;
    }
    let password = line.strip_suffix('\n').unwrap_or(&line);
    let password = password.strip_suffix('\r').unwrap_or(password);
    if password.chars().count() < MIN_LEN {
        eprintln!("hash-password: the password must be at least {MIN_LEN} characters");
        return ExitCode::FAILURE;
    }
    match rocket_cache::web::auth::hash_password(password) {
        Ok(hash) => {
            println!("{hash}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("hash-password: {e}");
            ExitCode::FAILURE
        }
    }
}
