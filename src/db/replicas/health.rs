//! Each instance checks its replicas about every [`CHECK_EVERY`]: a replica
//! that refuses connections, fails its check, does not replicate, or has not
//! applied what the primary wrote more than `replica_max_lag_ms` ago is taken
//! out of rotation, and put back at the first check that finds it healthy.
//!
//! The lag is measured in GTIDs against the primary's own position, sampled at
//! each check: a replica's lag is the age of the oldest sample it has not
//! applied (0 when it has applied the latest). `Seconds_Behind_Master` counts
//! too when it says more (it is whole seconds, and empty while the SQL thread
//! is stopped). Every statement here is a `SHOW`, so none counts among the
//! servers' `Com_select`.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mysql_async::prelude::{FromValue, Queryable};
use mysql_async::{Conn, Opts, OptsBuilder, Row};

use super::gtid::GtidPosition;
use super::{Health, ReplicaState, Replicas};

/// How often replicas are checked.
pub const CHECK_EVERY: Duration = Duration::from_millis(250);
/// A check (connect included) that takes longer has failed.
const CHECK_BUDGET: Duration = Duration::from_millis(750);
/// Most samples of the primary's position kept.
const MAX_SAMPLES: usize = 256;

/// Aborts the checker when dropped (with the app's managed state).
pub struct Watcher(tokio::task::JoinHandle<()>);

impl Drop for Watcher {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts checking `replicas` until the returned [`Watcher`] is dropped.
pub fn watch(replicas: Arc<Replicas>) -> Watcher {
    Watcher(tokio::spawn(check_forever(replicas)))
}

async fn check_forever(replicas: Arc<Replicas>) {
    let mut primary = Link::new(&replicas.primary_url);
    let mut links: Vec<Link> = replicas.iter().map(|r| Link::new(&r.url)).collect();
    let mut samples = Samples::default();
    let mut tick = tokio::time::interval(CHECK_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        // The primary first: a replica's position read after it is compared
        // with a sample it may well have applied.
        if let Ok(position) = primary.primary_position().await {
            samples.push(Instant::now(), position, replicas.max_lag);
        }
        let checks = links.iter_mut().map(Link::replica_status);
        let statuses = futures_util::future::join_all(checks).await;
        let now = Instant::now();
        for (replica, status) in replicas.iter().zip(statuses) {
            replica.set_health(judge(status, &samples, now, replicas.max_lag));
        }
    }
}

/// What `SHOW ALL SLAVES STATUS` says of a replica.
#[derive(Debug, Clone)]
struct ReplicaStatus {
    io_running: bool,
    sql_running: bool,
    seconds_behind: Option<u64>,
    applied: GtidPosition,
}

/// The health a check's answer makes.
fn judge(
    status: Result<ReplicaStatus, String>,
    samples: &Samples,
    now: Instant,
    max_lag: Duration,
) -> Health {
    let status = match status {
        Ok(status) => status,
        Err(error) => {
            return Health {
                state: ReplicaState::Down,
                lag_ms: None,
                io_running: None,
                sql_running: None,
                position: None,
                error: Some(error),
            }
        }
    };
    let behind = samples.lag(&status.applied, now);
    let reported = status
        .seconds_behind
        .map_or(Duration::ZERO, Duration::from_secs);
    let lag = behind.max(reported);
    let state = if lag > max_lag {
        ReplicaState::Lagging
    } else {
        ReplicaState::Healthy
    };
    Health {
        state,
        lag_ms: Some(u64::try_from(lag.as_millis()).unwrap_or(u64::MAX)),
        io_running: Some(status.io_running),
        sql_running: Some(status.sql_running),
        position: Some(status.applied.to_string()),
        error: None,
    }
}

/// The primary's position at each recent check, oldest first.
#[derive(Default)]
struct Samples(VecDeque<(Instant, GtidPosition)>);

impl Samples {
    /// Adds a sample, keeping those of the last `max_lag` and a second more.
    fn push(&mut self, at: Instant, position: GtidPosition, max_lag: Duration) {
        let keep = max_lag + Duration::from_secs(1);
        while self.0.len() >= MAX_SAMPLES
            || self
                .0
                .front()
                .is_some_and(|(then, _)| at.duration_since(*then) > keep && self.0.len() > 1)
        {
            self.0.pop_front();
        }
        self.0.push_back((at, position));
    }

    /// How long ago the primary had written something `applied` lacks: the
    /// age of the oldest sample it does not cover.
    fn lag(&self, applied: &GtidPosition, now: Instant) -> Duration {
        self.0
            .iter()
            .find(|(_, position)| !applied.covers(position))
            .map_or(Duration::ZERO, |(at, _)| now.saturating_duration_since(*at))
    }
}

/// A connection of the checker's own to one server, opened again after a
/// failure.
struct Link {
    opts: Result<Opts, String>,
    conn: Option<Conn>,
}

impl Link {
    fn new(url: &str) -> Self {
        let opts = Opts::from_url(url)
            .map(|opts| OptsBuilder::from_opts(opts).prefer_socket(false).into())
            .map_err(|e| format!("bad URL: {e}"));
        Self { opts, conn: None }
    }

    /// Runs `sql` within [`CHECK_BUDGET`], connecting first if needed; a
    /// failure drops the connection.
    async fn query(&mut self, sql: &str) -> Result<Vec<Row>, String> {
        let opts = self.opts.clone()?;
        let conn = &mut self.conn;
        let run = async move {
            if conn.is_none() {
                *conn = Some(Conn::new(opts).await.map_err(|e| e.to_string())?);
            }
            let open = conn.as_mut().expect("connected above");
            open.query::<Row, _>(sql).await.map_err(|e| e.to_string())
        };
        let answer = tokio::time::timeout(CHECK_BUDGET, run)
            .await
            .unwrap_or_else(|_| Err(format!("no answer within {CHECK_BUDGET:?}")));
        if answer.is_err() {
            self.conn = None;
        }
        answer
    }

    async fn primary_position(&mut self) -> Result<GtidPosition, String> {
        let rows = self
            .query("SHOW GLOBAL VARIABLES LIKE 'gtid_binlog_pos'")
            .await?;
        let value: String = rows
            .first()
            .and_then(|row| column(row, "Value"))
            .ok_or("the primary has no gtid_binlog_pos (MariaDB is needed)")?;
        value.parse().map_err(|e: super::BadGtid| e.to_string())
    }

    async fn replica_status(&mut self) -> Result<ReplicaStatus, String> {
        // `ALL`: only this form has `Gtid_Slave_Pos`. The default connection
        // (named '') is the one `CHANGE MASTER TO` sets up.
        let rows = self.query("SHOW ALL SLAVES STATUS").await?;
        let row = rows
            .iter()
            .find(|row| column::<String>(row, "Connection_name").is_some_and(|n| n.is_empty()))
            .or(rows.first())
            .ok_or("not a replica: SHOW ALL SLAVES STATUS is empty")?;
        let running =
            |name: &str| column::<String>(row, name).is_some_and(|v| v.eq_ignore_ascii_case("yes"));
        let applied: String = column(row, "Gtid_Slave_Pos")
            .ok_or("no Gtid_Slave_Pos in SHOW ALL SLAVES STATUS (MariaDB is needed)")?;
        Ok(ReplicaStatus {
            io_running: running("Slave_IO_Running"),
            sql_running: running("Slave_SQL_Running"),
            seconds_behind: column::<Option<u64>>(row, "Seconds_Behind_Master").flatten(),
            applied: applied.parse().map_err(|e: super::BadGtid| e.to_string())?,
        })
    }
}

/// The column `name` of `row` read as `T`, if there is one of that type.
fn column<T: FromValue>(row: &Row, name: &str) -> Option<T> {
    row.get_opt::<T, _>(name).and_then(Result::ok)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn position(text: &str) -> GtidPosition {
        text.parse().unwrap()
    }

    fn status(applied: &str, seconds_behind: Option<u64>) -> ReplicaStatus {
        ReplicaStatus {
            io_running: true,
            sql_running: true,
            seconds_behind,
            applied: position(applied),
        }
    }

    #[test]
    fn lag_is_the_age_of_the_oldest_write_not_applied() {
        let start = Instant::now();
        let max_lag = Duration::from_secs(1);
        let mut samples = Samples::default();
        for (ms, pos) in [(0, "0-1-5"), (250, "0-1-6"), (500, "0-1-9"), (750, "0-1-9")] {
            samples.push(start + Duration::from_millis(ms), position(pos), max_lag);
        }
        let now = start + Duration::from_millis(1_400);
        let caught_up = judge(Ok(status("0-1-9", None)), &samples, now, max_lag);
        assert_eq!(
            (caught_up.state, caught_up.lag_ms),
            (ReplicaState::Healthy, Some(0))
        );
        let behind = judge(Ok(status("0-1-6", None)), &samples, now, max_lag);
        assert_eq!(
            (behind.state, behind.lag_ms),
            (ReplicaState::Healthy, Some(900))
        );
        let stopped = judge(Ok(status("0-1-5", None)), &samples, now, max_lag);
        assert_eq!(
            (stopped.state, stopped.lag_ms),
            (ReplicaState::Lagging, Some(1_150))
        );
        let reported = judge(Ok(status("0-1-9", Some(3))), &samples, now, max_lag);
        assert_eq!(
            reported.state,
            ReplicaState::Lagging,
            "Seconds_Behind_Master counts"
        );
        let down = judge(Err("refused".into()), &samples, now, max_lag);
        assert_eq!(down.state, ReplicaState::Down);
    }

    #[test]
    fn samples_are_bounded() {
        let start = Instant::now();
        let mut samples = Samples::default();
        for i in 0..10_000u64 {
            samples.push(
                start + Duration::from_millis(i),
                position(&format!("0-1-{i}")),
                Duration::from_mins(10),
            );
        }
        assert_eq!(samples.0.len(), MAX_SAMPLES);
    }
}
