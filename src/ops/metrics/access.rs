//! `[default.metrics]` and the bearer-token check of `/metrics`.

use rocket::fairing::AdHoc;
use rocket::outcome::Outcome;
use rocket::request::{self, FromRequest, Request};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::web::auth::bearer_token;
use crate::web::auth::config::MIN_API_TOKEN_LEN;

/// `[default.metrics]`: who may scrape.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// The `Authorization: Bearer` token scrapers must send; unset or empty leaves
    /// `/metrics` open (for a scraper on a private network).
    pub token: Option<String>,
}

impl MetricsConfig {
    /// A token, when set, is as long as the API's: a guessable one is worse than
    /// none, which at least says `/metrics` is open.
    fn validate(&self) -> Result<(), String> {
        match self
            .token
            .as_deref()
            .filter(|token| !token.trim().is_empty())
        {
            Some(token)
                if token.chars().count() < MIN_API_TOKEN_LEN
                    || token.chars().any(char::is_whitespace) =>
            {
                Err(format!(
                    "invalid `metrics.token`: at least {MIN_API_TOKEN_LEN} characters without \
                     spaces (e.g. `openssl rand -hex 32`), or unset for an open /metrics"
                ))
            }
            _ => Ok(()),
        }
    }
}

/// The configured token, as a SHA-256 digest compared in constant time.
pub struct MetricsAccess {
    token_digest: Option<[u8; 32]>,
}

impl MetricsAccess {
    /// Reads `metrics` at ignite and manages the result; a malformed table stops
    /// the launch with a line naming it.
    pub fn fairing() -> AdHoc {
        AdHoc::try_on_ignite("Metrics access", |rocket| async move {
            let config = if rocket.figment().find_value("metrics").is_ok() {
                match rocket.figment().extract_inner::<MetricsConfig>("metrics") {
                    Ok(config) => config,
                    Err(error) => {
                        rocket::error!("invalid `metrics` (ROCKET_METRICS): {error}");
                        return Err(rocket);
                    }
                }
            } else {
                MetricsConfig::default()
            };
            if let Err(reason) = config.validate() {
                rocket::error!("configuration: {reason}");
                return Err(rocket);
            }
            let token_digest = config
                .token
                .as_deref()
                .filter(|token| !token.trim().is_empty())
                .map(digest);
            Ok(rocket.manage(MetricsAccess { token_digest }))
        })
    }

    fn admits(&self, authorization: Option<&str>) -> bool {
        let Some(expected) = self.token_digest else {
            return true;
        };
        authorization
            .and_then(bearer_token)
            .is_some_and(|given| bool::from(digest(given).ct_eq(&expected)))
    }
}

fn digest(text: &str) -> [u8; 32] {
    Sha256::digest(text.as_bytes()).into()
}

/// A request allowed to scrape: no token is configured, or it carries it. On
/// failure it forwards, to the route that answers 401 with the reason.
pub struct MetricsScraper;

#[rocket::async_trait]
impl<'r> FromRequest<'r> for MetricsScraper {
    type Error = ();

    async fn from_request(request: &'r Request<'_>) -> request::Outcome<Self, ()> {
        let admitted = request
            .rocket()
            .state::<MetricsAccess>()
            .is_some_and(|access| access.admits(request.headers().get_one("Authorization")));
        if admitted {
            Outcome::Success(MetricsScraper)
        } else {
            Outcome::Forward(rocket::http::Status::Unauthorized)
        }
    }
}
