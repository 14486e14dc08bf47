//! [`BuildError`]: why the page cache could not be built from its
//! configuration, naming the key to fix and keeping the cause.

use crate::config::ConfigError;

/// Why the page cache could not be built: [`PageCache`](crate::PageCache)
/// aborts the launch with it, in one line that names the key to fix. When
/// another crate found the fault (the config reader, the Redis client, the
/// URL parser), its error is kept whole as the
/// [`source`](std::error::Error::source), for callers that inspect it.
///
/// Nothing is dialled while building, so a Redis that is down is never a
/// `BuildError`: pages are served uncached until it is up.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// `[cache]` did not read as a table of settings: an unknown key, a value
    /// of the wrong type.
    #[error("{0}")]
    Read(#[source] Box<rocket::figment::Error>),
    /// A value [`CacheConfig::validate`](crate::CacheConfig::validate) refuses.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The Redis client refused what `key` says (a URL it cannot use).
    #[error("{key}: {source}")]
    Redis {
        key: String,
        #[source]
        source: redis::RedisError,
    },
    /// The pool of connections for long walks (the tag index sweep, scans)
    /// could not be made from what `key` says.
    #[error("{key}: {source}")]
    Pool {
        key: String,
        #[source]
        source: deadpool_redis::CreatePoolError,
    },
}

impl BuildError {
    /// The key to fix, as written in `[cache]` (`cache.url`,
    /// `cache.sentinel.nodes[1]`); `None` when `[cache]` did not read at all.
    pub fn key(&self) -> Option<&str> {
        match self {
            Self::Read(_) => None,
            Self::Config(error) => Some(error.key()),
            Self::Redis { key, .. } | Self::Pool { key, .. } => Some(key),
        }
    }

    /// The Redis client's refusal of what `key` says.
    pub(crate) fn redis(key: impl Into<String>) -> impl FnOnce(redis::RedisError) -> Self {
        let key = key.into();
        move |source| Self::Redis { key, source }
    }
}

#[cfg(test)]
mod tests {
    use std::error::Error as _;

    use super::*;
    use crate::clock::Clock;
    use crate::config::CacheConfig;
    use crate::handle::Cache;

    fn build(config: CacheConfig) -> BuildError {
        match Cache::with_clock(config, Vec::new(), Clock::system()) {
            Ok(_) => panic!("the cache was built"),
            Err(error) => error,
        }
    }

    #[test]
    fn a_url_the_redis_client_refuses_keeps_the_clients_error_as_its_source() {
        // A redis:// URL (so `validate` lets it by) whose database is no number.
        let error = build(CacheConfig {
            url: "redis://127.0.0.1:6379/nine".into(),
            ..CacheConfig::default()
        });
        assert!(matches!(error, BuildError::Redis { .. }), "{error:?}");
        assert_eq!(error.key(), Some("cache.url"));
        assert!(error.to_string().starts_with("cache.url: "), "{error}");
        let source = error.source().expect("a source");
        assert!(source.is::<redis::RedisError>(), "{source:?}");
        assert!(error.to_string().ends_with(&source.to_string()), "{error}");
    }

    #[test]
    fn a_refused_value_is_the_config_error_that_names_its_key() {
        let error = build(CacheConfig {
            url: "not a url".into(),
            ..CacheConfig::default()
        });
        let BuildError::Config(config_error) = &error else {
            panic!("not a config error: {error:?}")
        };
        assert_eq!(error.key(), Some("cache.url"));
        assert_eq!(
            error.to_string(),
            "cache.url: must be a redis:// URL, got \"<unparsable url>\""
        );
        // Transparent: the chain goes straight on to the URL parser's error.
        let source = error.source().expect("the parser's error");
        assert_eq!(
            source.downcast_ref::<url::ParseError>(),
            Some(&url::ParseError::RelativeUrlWithoutBase)
        );
        assert!(config_error.source().is_some());
    }
}
