//! What the cache did with a request, as `X-Cache` and `Cache-Status` (RFC 9211)
//! say it: the reasons as types, and the one place that spells them.

use std::fmt;

use rocket::http::Header;
use rocket::Response;

use super::policy::Refusal;

/// Why a request to a cacheable route must not use the shared cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bypass {
    /// The cache is switched off (`cache.enabled = false` or backend `none`).
    Disabled,
    /// The route's lifetime is zero.
    Off,
    /// The request carries `Authorization`.
    Authorization,
    /// The request carries one of the private cookies (a login session).
    PrivateCookie,
    /// The `Host` is not on `cache.allowed_hosts`.
    Host,
    /// A parameter is spelled otherwise than its canonical spelling.
    NonCanonical,
    /// A parameter that the route reads once is repeated.
    RepeatedParameter,
}

impl Bypass {
    /// Whether the request belongs to one person: its answer must not be kept
    /// by any shared cache downstream either.
    pub fn is_private(self) -> bool {
        matches!(self, Self::Authorization | Self::PrivateCookie)
    }

    fn detail(self) -> &'static str {
        match self {
            Self::Disabled => "disabled",
            Self::Off => "off",
            Self::Authorization => "authorization",
            Self::PrivateCookie => "private-cookie",
            Self::Host => "host",
            Self::NonCanonical => "non-canonical",
            Self::RepeatedParameter => "repeated-parameter",
        }
    }
}

/// How a stored response is being served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Served {
    /// Fresh from the store.
    Hit,
    /// Fresh from this instance's near cache (`detail=near`).
    NearHit,
    /// Fresh, handed over by the render this request waited for.
    Collapsed,
    /// Past its lifetime, within grace (another request refreshes it) or served
    /// because rendering failed.
    Stale,
}

/// Why a request went to the route (`Cache-Status` `fwd=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forward {
    /// The store could not be used; the render is not stored.
    Bypass,
    /// Nothing fresh was stored (or an early refresh).
    UriMiss,
    /// A stale copy is being refreshed.
    Stale,
}

impl Forward {
    fn as_str(self) -> &'static str {
        match self {
            Self::Bypass => "bypass",
            Self::UriMiss => "uri-miss",
            Self::Stale => "stale",
        }
    }
}

/// What else a render is, when it is more than a miss.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// The key was lately found uncacheable, so no one waited on this render.
    HitForMiss,
    /// A fresh page drawn for refresh before it expires.
    EarlyRefresh,
}

impl Detail {
    fn as_str(self) -> &'static str {
        match self {
            Self::HitForMiss => "hit-for-miss",
            Self::EarlyRefresh => "early-refresh",
        }
    }
}

/// How a render ended, for the cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rendered {
    Stored,
    /// A tag was purged while it rendered, so it was not stored.
    PurgedDuringRender,
    /// The store failed when it was to be stored.
    StoreUnavailable,
    /// A shared cache must not store this answer.
    Refused(Refusal),
    /// The route answered with this server error and no stored copy could stand in.
    Failed(u16),
}

/// One request's `X-Cache` and `Cache-Status`.
#[derive(Debug, Clone, Copy)]
pub enum CacheStatus {
    Bypassed(Bypass),
    /// A stored response answered; `failed` is the status of the render it
    /// stands in for (stale-if-error).
    Served {
        served: Served,
        ttl: i64,
        failed: Option<u16>,
    },
    /// The route answered. `uncached` when the store was not usable for it.
    Rendered {
        forward: Forward,
        rendered: Rendered,
        detail: Option<Detail>,
        uncached: bool,
    },
}

impl CacheStatus {
    /// `X-Cache`: the short label that tests and people read.
    pub fn label(&self) -> &'static str {
        match self {
            Self::Bypassed(_) | Self::Rendered { uncached: true, .. } => "BYPASS",
            Self::Served {
                served: Served::Stale,
                ..
            } => "STALE",
            Self::Served { .. } => "HIT",
            Self::Rendered { .. } => "MISS",
        }
    }

    /// Sets `X-Cache` and `Cache-Status` on `response`, replacing any there.
    pub fn write_to(&self, response: &mut Response<'_>) {
        response.set_header(Header::new("X-Cache", self.label()));
        response.set_header(Header::new("Cache-Status", self.to_string()));
    }
}

impl fmt::Display for CacheStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("rocket-cache")?;
        match *self {
            Self::Bypassed(reason) => write!(f, "; fwd=bypass; detail={}", reason.detail()),
            Self::Served {
                served,
                ttl,
                failed,
            } => {
                f.write_str("; hit")?;
                if served == Served::Stale {
                    f.write_str("; fwd=stale")?;
                }
                write!(f, "; ttl={ttl}")?;
                if served == Served::Collapsed {
                    f.write_str("; collapsed")?;
                }
                if served == Served::NearHit {
                    f.write_str("; detail=near")?;
                }
                if let (Served::Stale, Some(code)) = (served, failed) {
                    write!(f, "; fwd-status={code}; detail=stale-if-error")?;
                }
                Ok(())
            }
            Self::Rendered {
                forward,
                rendered,
                detail,
                uncached: _,
            } => {
                write!(f, "; fwd={}", forward.as_str())?;
                match rendered {
                    Rendered::Refused(refusal) => {
                        return write!(f, "; detail={}", refusal.detail());
                    }
                    Rendered::Failed(code) => {
                        return write!(f, "; fwd-status={code}; detail=error");
                    }
                    Rendered::Stored => f.write_str("; stored")?,
                    Rendered::PurgedDuringRender => f.write_str("; detail=purged-during-render")?,
                    Rendered::StoreUnavailable => f.write_str("; detail=store-unavailable")?,
                }
                if let Some(detail) = detail {
                    write!(f, "; detail={}", detail.as_str())?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rendered(rendered: Rendered, detail: Option<Detail>) -> String {
        CacheStatus::Rendered {
            forward: Forward::UriMiss,
            rendered,
            detail,
            uncached: false,
        }
        .to_string()
    }

    #[test]
    fn every_spelling_is_the_one_clients_and_tests_read() {
        let bypass = CacheStatus::Bypassed(Bypass::PrivateCookie);
        assert_eq!(
            bypass.to_string(),
            "rocket-cache; fwd=bypass; detail=private-cookie"
        );
        assert_eq!(bypass.label(), "BYPASS");
        let served = |served, failed| CacheStatus::Served {
            served,
            ttl: 7,
            failed,
        };
        assert_eq!(
            served(Served::Hit, None).to_string(),
            "rocket-cache; hit; ttl=7"
        );
        assert_eq!(
            served(Served::NearHit, None).to_string(),
            "rocket-cache; hit; ttl=7; detail=near"
        );
        assert_eq!(served(Served::NearHit, None).label(), "HIT");
        assert_eq!(
            served(Served::Collapsed, None).to_string(),
            "rocket-cache; hit; ttl=7; collapsed"
        );
        assert_eq!(
            served(Served::Stale, None).to_string(),
            "rocket-cache; hit; fwd=stale; ttl=7"
        );
        assert_eq!(
            served(Served::Stale, Some(500)).to_string(),
            "rocket-cache; hit; fwd=stale; ttl=7; fwd-status=500; detail=stale-if-error"
        );
        assert_eq!(served(Served::Stale, None).label(), "STALE");
        assert_eq!(
            rendered(Rendered::Stored, Some(Detail::EarlyRefresh)),
            "rocket-cache; fwd=uri-miss; stored; detail=early-refresh"
        );
        assert_eq!(
            rendered(Rendered::PurgedDuringRender, None),
            "rocket-cache; fwd=uri-miss; detail=purged-during-render"
        );
        assert_eq!(
            rendered(Rendered::StoreUnavailable, Some(Detail::HitForMiss)),
            "rocket-cache; fwd=uri-miss; detail=store-unavailable; detail=hit-for-miss"
        );
        assert_eq!(
            rendered(
                Rendered::Refused(Refusal::NegativeBudget),
                Some(Detail::HitForMiss)
            ),
            "rocket-cache; fwd=uri-miss; detail=negative-budget"
        );
        assert_eq!(
            rendered(Rendered::Failed(503), None),
            "rocket-cache; fwd=uri-miss; fwd-status=503; detail=error"
        );
    }

    #[test]
    fn only_personal_requests_are_private() {
        assert!(Bypass::Authorization.is_private());
        assert!(Bypass::PrivateCookie.is_private());
        assert!(!Bypass::Host.is_private());
        assert!(!Bypass::NonCanonical.is_private());
    }
}
