//! Before routing: what to do with a request, from its policy and the store.

use std::sync::Arc;
use std::time::Duration;

use rocket::http::uri::Query;
use rocket::http::Method;
use rocket::Request;

use super::cache_status::{Bypass, Served};
use super::coding_jobs;
use super::counters::Stats;
use super::entry::{Entry, Freshness, Head, Kind};
use super::flight::{self, Outcome, Role};
use super::handle::{path_tag, Cache};
use super::key::{bounded_tag, host_name, normalised_path, page_key, RequestParts};
use super::lease::{self, LeaderPlan, Lease};
use super::policy::{Misspelling, Resolved, Storing};
use super::private::holds_session;
use super::render::Render;
use super::revalidate::{self, Revalidation};
use super::route_stats::RouteId;
use super::warm::HotCandidate;

/// The fairing's verdict on one request, kept in request-local state from
/// `on_request` to `on_response`.
pub enum Verdict {
    /// Cacheable route, but this request must not use the shared cache.
    Bypass(Bypass),
    /// Answer from a stored response; the route does not run.
    Serve { entry: Arc<Entry>, served: Served },
    /// Answer 304 from a fresh entry's head; neither the route nor the page's
    /// body is touched.
    NotModified(Box<Head>),
    /// Let the route render, then store what it answered.
    Render(Box<Render>),
}

impl Verdict {
    /// Whether the answer comes from the store (the route does not run).
    pub fn answers_from_store(&self) -> bool {
        matches!(self, Self::Serve { .. } | Self::NotModified(_))
    }
}

/// The verdict for a GET or HEAD to a cacheable path, with the route it is
/// counted under; `None` when the cache has nothing to say about the request.
/// A near hit is decided without waiting ([`decide`]); only a request that
/// needs the store pays for the larger future of the slower paths, boxed.
pub async fn verdict_for(cache: &Cache, request: &Request<'_>) -> Option<(RouteId, Verdict)> {
    match decide(cache, request)? {
        Decision::Now(route, verdict) => Some((route, verdict)),
        Decision::Later(pending) => {
            let route = pending.policy.route;
            Some((route, Box::pin(after_lookup(cache, request, pending)).await))
        }
    }
}

/// What can be decided for a request without waiting on anything.
enum Decision<'a> {
    /// Decided at once: a bypass, or a page kept near.
    Now(RouteId, Verdict),
    /// The store must be asked: finish with [`after_lookup`].
    Later(Pending<'a>),
}

/// A request whose verdict needs the store, with what was worked out so far.
struct Pending<'a> {
    segments: Vec<&'a str>,
    policy: Resolved<'a>,
    key: String,
}

/// Decides for a GET or HEAD to a cacheable path as far as it can without
/// waiting: a hit served from the near cache (the hottest path) is decided
/// here, with nothing allocated for the store's slower paths.
fn decide<'a>(cache: &'a Cache, request: &'a Request<'_>) -> Option<Decision<'a>> {
    if !matches!(request.method(), Method::Get | Method::Head) {
        return None;
    }
    let segments: Vec<&str> = request.uri().path().segments().collect();
    let policy = cache.policies().resolve(&segments)?;
    let route = policy.route;
    if let Some(reason) = bypass_reason(cache, request, &policy) {
        return Some(Decision::Now(route, Verdict::Bypass(reason)));
    }
    let query = query_pairs(request);
    if let Err(misspelling) = policy.check_spelling(&query) {
        let reason = match misspelling {
            Misspelling::NonCanonical => Bypass::NonCanonical,
            Misspelling::Repeated => Bypass::RepeatedParameter,
        };
        return Some(Decision::Now(route, Verdict::Bypass(reason)));
    }
    let host = request
        .host()
        .map(|h| h.domain().as_str())
        .unwrap_or_default();
    let vary: Vec<Option<&str>> = policy
        .vary
        .iter()
        .map(|h| request.headers().get_one(h))
        .collect();
    let parts = RequestParts {
        host,
        path: &segments,
        query: &query,
        vary: &vary,
    };
    let key = page_key(cache.key_base(), &parts, policy.query);
    // A page asked for without the headers it varies on can be warmed from its
    // key alone: those are the ones the hot list counts.
    if vary.iter().all(Option::is_none) && cache.sample_hot() {
        request.local_cache(|| HotCandidate(Some(key.clone())));
    }

    // The hottest path: a fresh page kept near, not due for early refresh.
    if let Some(entry) = cache.near_lookup(&key) {
        if is_plain_hit(cache, &entry, cache.now_ms()) {
            let verdict = serve_plain_hit(cache, request, &key, entry, Served::NearHit);
            return Some(Decision::Now(route, verdict));
        }
    }
    Some(Decision::Later(Pending {
        segments,
        policy,
        key,
    }))
}

/// The decoded `(name, value)` pairs of the request's query, as Rocket's
/// `Query::segments` gives them. A query without `%` or `+` decodes to itself,
/// so it is only split (`&` between pairs, empty ones skipped, the first `=`
/// between name and value): what nearly every request has, without the
/// decoded copy Rocket would make and keep.
fn query_pairs<'r>(request: &'r Request<'_>) -> Vec<(&'r str, &'r str)> {
    request.uri().query().map(pairs_of).unwrap_or_default()
}

/// [`query_pairs`] of one query.
fn pairs_of(query: Query<'_>) -> Vec<(&str, &str)> {
    let raw = query.as_str();
    if raw.contains(['%', '+']) {
        return query.segments().collect();
    }
    raw.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| pair.split_once('=').unwrap_or((pair, "")))
        .collect()
}

/// The rest of [`decide`]: what a request gets from the store, or a render.
async fn after_lookup(cache: &Cache, request: &Request<'_>, pending: Pending<'_>) -> Verdict {
    let Pending {
        segments,
        policy,
        key,
    } = pending;
    if request.headers().contains("Authorization") {
        return read_only(cache, request, &key).await;
    }
    if !cache.store_allowed_for(&key) {
        return render_locally(cache, key, policy.storing()).await;
    }
    let looked_up = if request.headers().contains("If-None-Match") {
        revalidate::lookup(cache, request, &key).await
    } else {
        cache.lookup(&key).await.map(Revalidation::Found)
    };
    let found = match looked_up {
        Ok(Revalidation::Found(found)) => found,
        Ok(Revalidation::NotModified(head)) => return Verdict::NotModified(head),
        Err(_) => return render_locally(cache, key, policy.storing()).await,
    };
    let now = cache.now_ms();
    // The hot path: a fresh page not due for early refresh is served as it is.
    let found = match found {
        Some(entry) if is_plain_hit(cache, &entry, now) => {
            return serve_plain_hit(cache, request, &key, entry.into(), Served::Hit);
        }
        other => other,
    };
    // Anything else may render, and a render is stamped with its tags.
    let mut tags: Vec<String> = policy
        .tags(&segments)
        .into_iter()
        .map(bounded_tag)
        .collect();
    tags.push(path_tag(&normalised_path(&segments)));
    let policy = policy.storing();
    match found {
        Some(entry) if entry.kind == Kind::Page => match entry.freshness(now) {
            // Fresh but not a plain hit: due for early refresh.
            Freshness::Fresh => refresh(cache, key, policy, tags, entry, Served::Hit).await,
            Freshness::Stale => refresh(cache, key, policy, tags, entry, Served::Stale).await,
            Freshness::ErrorOnly => miss(cache, key, policy, tags, Some(entry)).await,
            Freshness::Dead => miss(cache, key, policy, tags, None).await,
        },
        Some(marker) if marker.freshness(now) == Freshness::Fresh => {
            let stamps = cache.stamp_tags(tags).await.ok();
            Verdict::Render(Box::new(Render::after_hit_for_miss(key, policy, stamps)))
        }
        _ => miss(cache, key, policy, tags, None).await,
    }
}

/// Why this request must not use the shared cache, if it must not.
fn bypass_reason(cache: &Cache, request: &Request<'_>, policy: &Resolved<'_>) -> Option<Bypass> {
    let config = cache.config();
    if !cache.enabled() {
        return Some(Bypass::Disabled);
    }
    if policy.ttl.is_zero() {
        return Some(Bypass::Off);
    }
    if request.headers().contains("Authorization") && !policy.public {
        return Some(Bypass::Authorization);
    }
    if holds_session(request, &config.private_cookies) {
        return Some(Bypass::PrivateCookie);
    }
    let host_allowed = request.host().is_some_and(|host| {
        let domain = host_name(host.domain().as_str());
        config
            .allowed_hosts
            .iter()
            .any(|allowed| allowed.eq_ignore_ascii_case(domain))
    });
    if !host_allowed {
        return Some(Bypass::Host);
    }
    None
}

/// A request with credentials to a public route (RFC 9111, section 3.5): a
/// stored page answers it, fresh or within grace (it neither refreshes it nor
/// early: its own render could not be stored); anything else bypasses, so its
/// render is never stored and it takes no lease nor joins a render others wait
/// on.
async fn read_only(cache: &Cache, request: &Request<'_>, key: &str) -> Verdict {
    let looked_up = if !cache.store_allowed_for(key) {
        Ok(Revalidation::Found(None))
    } else if request.headers().contains("If-None-Match") {
        revalidate::lookup(cache, request, key).await
    } else {
        cache.lookup(key).await.map(Revalidation::Found)
    };
    match looked_up {
        Ok(Revalidation::NotModified(head)) => Verdict::NotModified(head),
        Ok(Revalidation::Found(Some(entry))) if entry.kind == Kind::Page => {
            let served = match entry.freshness(cache.now_ms()) {
                Freshness::Fresh => Served::Hit,
                Freshness::Stale => Served::Stale,
                Freshness::ErrorOnly | Freshness::Dead => {
                    return Verdict::Bypass(Bypass::Authorization)
                }
            };
            Verdict::Serve {
                entry: entry.into(),
                served,
            }
        }
        _ => Verdict::Bypass(Bypass::Authorization),
    }
}

/// The store cannot be used: still let one request per process render a key
/// while the others wait for it, so a dead Redis does not multiply `MySQL`'s load.
async fn render_locally(cache: &Cache, key: String, policy: Storing) -> Verdict {
    match cache.flights().join(&key) {
        Role::Follower(receiver) => {
            if let Some(outcome) = flight::wait_for(receiver, lock_timeout(cache)).await {
                if let Outcome::Stored(entry) = outcome.as_ref() {
                    Stats::bump(&cache.stats().collapsed);
                    return Verdict::Serve {
                        entry: Arc::new(entry.clone()),
                        served: Served::Collapsed,
                    };
                }
            }
            Verdict::Render(Box::new(Render::local(key, policy, None)))
        }
        Role::Leader(leader) => Verdict::Render(Box::new(Render::local(key, policy, Some(leader)))),
    }
}

/// A fresh page that this request serves as it is: not due for an early
/// refresh (XFetch draws once here, so the decision is made once).
fn is_plain_hit(cache: &Cache, entry: &Entry, now: u64) -> bool {
    let beta = cache.config().early_refresh_beta;
    entry.kind == Kind::Page
        && entry.freshness(now) == Freshness::Fresh
        && !(beta > 0.0 && entry.should_refresh_early(now, beta, 1.0 - rand::random::<f64>()))
}

/// A fresh page served as it is; a coding the request prefers and the page
/// lacks is added in the background ([`coding_jobs`]).
fn serve_plain_hit(
    cache: &Cache,
    request: &Request<'_>,
    key: &str,
    entry: Arc<Entry>,
    served: Served,
) -> Verdict {
    coding_jobs::offer(cache, request.headers().get("Accept-Encoding"), key, &entry);
    Verdict::Serve { entry, served }
}

/// Past its lifetime within grace (or due for an early refresh): serve it now;
/// one request in the cluster (the one that gets the lease) renders a fresh copy
/// instead. `served` labels the copy the others get.
async fn refresh(
    cache: &Cache,
    key: String,
    policy: Storing,
    tags: Vec<String>,
    entry: Entry,
    served: Served,
) -> Verdict {
    let Role::Leader(leader) = cache.flights().join(&key) else {
        return Verdict::Serve {
            entry: entry.into(),
            served,
        };
    };
    let lease = Lease::claim(&key);
    if !matches!(lease.try_take(cache).await, Ok(true)) {
        leader.finish(Outcome::Failed);
        return Verdict::Serve {
            entry: entry.into(),
            served,
        };
    }
    let Ok(stamps) = cache.stamp_tags(tags).await else {
        lease.release(cache).await;
        leader.finish(Outcome::Failed);
        return Verdict::Serve {
            entry: entry.into(),
            served,
        };
    };
    let early = served == Served::Hit;
    Verdict::Render(Box::new(Render::refresh(
        key, policy, stamps, lease, leader, entry, early,
    )))
}

/// Nothing servable: render once for the process and once for the cluster;
/// everyone else waits for that render.
async fn miss(
    cache: &Cache,
    key: String,
    policy: Storing,
    tags: Vec<String>,
    fallback: Option<Entry>,
) -> Verdict {
    match cache.flights().join(&key) {
        Role::Follower(receiver) => {
            let outcome = flight::wait_for(receiver, lock_timeout(cache)).await;
            match outcome.as_deref() {
                Some(Outcome::Stored(entry)) => {
                    Stats::bump(&cache.stats().collapsed);
                    return Verdict::Serve {
                        entry: Arc::new(entry.clone()),
                        served: Served::Collapsed,
                    };
                }
                Some(Outcome::Failed) => {
                    if let Some(entry) = fallback {
                        return Verdict::Serve {
                            entry: entry.into(),
                            served: Served::Stale,
                        };
                    }
                }
                Some(Outcome::Uncacheable) | None => {}
            }
            let stamps = cache.stamp_tags(tags).await.ok();
            Verdict::Render(Box::new(Render::miss(
                key, policy, stamps, None, None, fallback,
            )))
        }
        Role::Leader(leader) => match lease::lead(cache, &key).await {
            LeaderPlan::Serve(entry) => {
                leader.finish(Outcome::Stored(entry.clone()));
                Stats::bump(&cache.stats().collapsed);
                Verdict::Serve {
                    entry: entry.into(),
                    served: Served::Collapsed,
                }
            }
            LeaderPlan::RenderUncacheable => {
                leader.finish(Outcome::Uncacheable);
                let stamps = cache.stamp_tags(tags).await.ok();
                Verdict::Render(Box::new(Render::after_hit_for_miss(key, policy, stamps)))
            }
            LeaderPlan::Render(lease) => {
                let stamps = cache.stamp_tags(tags).await.ok();
                Verdict::Render(Box::new(Render::miss(
                    key,
                    policy,
                    stamps,
                    lease,
                    Some(leader),
                    fallback,
                )))
            }
        },
    }
}

fn lock_timeout(cache: &Cache) -> Duration {
    cache.config().lock_timeout
}

#[cfg(test)]
mod tests {
    use rocket::http::uri::Origin;

    use super::pairs_of;

    /// Every query of up to five characters from `a=&%4+1`: each that Rocket
    /// parses splits and decodes as Rocket's own `Query::segments` does.
    #[test]
    fn query_pairs_are_rockets_own() {
        const ALPHABET: &[char] = &['a', '=', '&', '%', '4', '+', '1'];
        let mut queries = vec![String::new()];
        let mut compared = 0;
        for _ in 0..5 {
            let longer: Vec<String> = queries
                .iter()
                .flat_map(|q| ALPHABET.iter().map(move |c| format!("{q}{c}")))
                .collect();
            for query in &longer {
                let Ok(uri) = Origin::parse_owned(format!("/?{query}")) else {
                    continue;
                };
                let query = uri.query().expect("a query");
                let rockets: Vec<(&str, &str)> = query.segments().collect();
                assert_eq!(pairs_of(query), rockets, "?{query}");
                compared += 1;
            }
            queries = longer;
        }
        assert!(compared > 10_000, "only {compared} queries parsed");
    }
}
