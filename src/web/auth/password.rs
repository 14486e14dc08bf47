//! Argon2 password hashes: made by `cargo run --bin hash-password`, checked at login.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

/// The PHC string of `password` with argon2id's recommended parameters
/// (m = 19 MiB, t = 2, p = 1) and a random salt; `Err` is argon2's, as it
/// reported it.
pub fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    let mut salt = [0_u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut salt);
    let salt = SaltString::encode_b64(&salt)?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
}

/// Whether `password` matches the PHC string `hash` (whose own parameters are
/// used). Argon2 is slow on purpose, so it runs on the blocking pool, not on a
/// request worker.
pub async fn verify_password(hash: &str, password: &str) -> bool {
    verify_password_holding(hash, password, ()).await
}

/// [`verify_password`], keeping `permit` until argon2 has finished, even when the
/// request that asked has gone: the bound on checks in flight holds.
pub async fn verify_password_holding<P: Send + 'static>(
    hash: &str,
    password: &str,
    permit: P,
) -> bool {
    let (hash, password) = (hash.to_owned(), password.to_owned());
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        PasswordHash::new(&hash).is_ok_and(|parsed| {
            Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
    })
    .await
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_only() {
        let hash = hash_password("open sesame").unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(verify_password(&hash, "open sesame").await);
        assert!(!verify_password(&hash, "open sesame ").await);
        assert!(!verify_password("not a hash", "open sesame").await);
    }
}
