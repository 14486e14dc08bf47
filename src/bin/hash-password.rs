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

/// What `--help` prints: the tool takes no arguments, so any argument gets it.
const USAGE: &str = "\
Usage: hash-password < password

Prints the argon2id hash of the password read from standard input (one line;
its line break is not part of it), for `admin.password_hash`:

  read -rs PW && printf '%s' \"$PW\" | hash-password

The password must be at least 8 characters. Options: -h, --help (this text).";

fn main() -> ExitCode {
    // Any argument is a request for help (or a mistake): never read stdin then,
    // which would wait for a password the user did not mean to type.
    if let Some(arg) = std::env::args().nth(1) {
        if arg == "--help" || arg == "-h" {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        eprintln!("hash-password: unexpected argument `{arg}`\n\n{USAGE}");
        return ExitCode::from(2);
    }
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
