//! The stored envelope of a cached response: versioned, compact and binary-safe.
//!
//! Layout (all integers big-endian):
//!
//! ```text
//! 0   "RCE" magic, then the format version (1 byte)
//! 4   fresh-until, Unix ms as 13 ASCII digits (rewritable in place by a soft purge)
//! 17  kind (0 page, 1 hit-for-miss marker)
//! 18  stored-at, Unix ms (u64)
//! 26  grace, stale-if-error, browser lifetime: seconds (3 × u32)
//! 38  render time, ms (u32), for early refresh
//! 42  status (u16)
//! 44  ETag (u16 length + bytes), headers (u16 count, each u16 + name, u16 + value),
//!     bodies table (u8 count, each: coding id u8 + length u32; identity first)
//!     -- the head ends here --
//!     the bodies, in table order
//! ```
//!
//! Everything a revalidation needs (timing, status, ETag, headers, which codings
//! are stored) comes before the bodies, so that a conditional request can be
//! answered from a prefix of the value ([`Entry::decode_prefix`]).
//!
//! Anything that does not parse (another version, a truncated value, garbage) is
//! reported as [`DecodeError`] and treated by the engine as a miss.

use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};

use super::encoding::Coding;
use super::store::StalePatch;

/// The first bytes of every entry; values without them (memo values) are not entries.
const MAGIC: &[u8; 3] = b"RCE";
/// Bump when the layout changes; old entries then read as misses.
const FORMAT_VERSION: u8 = 2;

/// Byte offset of the fresh-until stamp (Unix milliseconds as fixed-width ASCII
/// digits), so that a soft purge can rewrite it in place inside Redis.
const FRESH_UNTIL_OFFSET: usize = 4;
/// Width of the fresh-until stamp.
const FRESH_UNTIL_WIDTH: usize = 13;

const FIXED_HEADER: usize = 44;

/// How many first bytes of a value a revalidation reads: the head of an entry
/// with ordinary headers (an ETag, a content type, a `Vary`, a `Link` or two)
/// takes a few hundred. An entry whose head is longer is read whole instead.
pub const HEAD_READ_BYTES: usize = 1024;

/// Ids of the codings in the bodies table.
const IDENTITY_ID: u8 = 0;
const BR_ID: u8 = 1;
const GZIP_ID: u8 = 2;

/// What an entry holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A stored response.
    Page,
    /// "The route answered something uncacheable here lately": requests skip the
    /// lease wait and go straight to the route.
    HitForMiss,
}

/// A stored response with its timing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub kind: Kind,
    pub status: u16,
    pub stored_at_ms: u64,
    pub fresh_until_ms: u64,
    pub grace_secs: u32,
    pub stale_if_error_secs: u32,
    pub browser_ttl_secs: u32,
    /// How long the render took; early refresh starts sooner for slow pages.
    pub render_ms: u32,
    pub etag: String,
    pub headers: Vec<(String, String)>,
    /// The body as the route rendered it. Shares the buffer the store returned:
    /// serving a hit copies no body bytes.
    pub body: Bytes,
    /// The body in the compressed codings it was stored in, if any.
    pub compressed: Compressed,
}

/// A page's body in compressed codings, each made once: when the page was
/// stored or when a hit first asked for it; a coding is absent until then, or
/// when it is not worth it (small, binary, or no smaller).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Compressed {
    pub br: Option<Bytes>,
    pub gzip: Option<Bytes>,
}

impl Compressed {
    /// The body in `coding`, if stored; never identity (that is the entry's body).
    pub fn get(&self, coding: Coding) -> Option<&Bytes> {
        match coding {
            Coding::Br => self.br.as_ref(),
            Coding::Gzip => self.gzip.as_ref(),
            Coding::Identity => None,
        }
    }

    /// Holds `body` as the page in `coding` (identity is the entry's body, not here).
    pub fn set(&mut self, coding: Coding, body: Bytes) {
        match coding {
            Coding::Br => self.br = Some(body),
            Coding::Gzip => self.gzip = Some(body),
            Coding::Identity => {}
        }
    }

    /// The stored codings with their bodies, in table order.
    fn iter(&self) -> impl Iterator<Item = (Coding, &Bytes)> {
        Coding::COMPRESSED
            .into_iter()
            .filter_map(|coding| self.get(coding).map(|body| (coding, body)))
    }
}

/// What [`Entry::decode_prefix`] made of the first bytes of a value.
#[derive(Debug)]
pub enum Prefix {
    /// The prefix was the whole value.
    Whole(Entry),
    /// Only the head was read: enough to revalidate, not to serve a body.
    Head(Head),
}

/// An entry's head, its bodies unread: what answers a revalidation (304)
/// without moving the page through the store's connection.
#[derive(Debug)]
pub struct Head {
    /// The entry with empty bodies: never serve it as a page.
    metadata: Entry,
    br: bool,
    gzip: bool,
    /// The length of the identity body, which is not read.
    body_len: usize,
}

impl Head {
    /// Everything but the bodies (which are empty here).
    pub fn metadata(&self) -> &Entry {
        &self.metadata
    }

    /// The length of the entry's identity body.
    pub fn body_len(&self) -> usize {
        self.body_len
    }

    /// Whether the entry holds its body in `coding` (identity: always).
    pub fn has(&self, coding: Coding) -> bool {
        match coding {
            Coding::Identity => true,
            Coding::Br => self.br,
            Coding::Gzip => self.gzip,
        }
    }
}

/// Why bytes were not an entry.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum DecodeError {
    #[error("not an entry (bad magic)")]
    Magic,
    #[error("entry format {0}, this build reads {FORMAT_VERSION}")]
    Version(u8),
    #[error("entry truncated or malformed")]
    Malformed,
}

/// How fresh an entry is at a given moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    Fresh,
    /// Past its lifetime but within grace: serve and refresh in the background.
    Stale,
    /// Past grace but within stale-if-error: only for when rendering fails.
    ErrorOnly,
    /// Past every window.
    Dead,
}

impl Entry {
    /// A marker that the route answered something uncacheable.
    pub fn hit_for_miss(now_ms: u64, ttl: Duration) -> Self {
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX);
        Self {
            kind: Kind::HitForMiss,
            status: 0,
            stored_at_ms: now_ms,
            fresh_until_ms: now_ms.saturating_add(ttl_ms),
            grace_secs: 0,
            stale_if_error_secs: 0,
            browser_ttl_secs: 0,
            render_ms: 0,
            etag: String::new(),
            headers: Vec::new(),
            body: Bytes::new(),
            compressed: Compressed::default(),
        }
    }

    /// The body in `coding`, if the entry holds it (identity: always).
    pub fn body_in(&self, coding: Coding) -> Option<&Bytes> {
        match coding {
            Coding::Identity => Some(&self.body),
            other => self.compressed.get(other),
        }
    }

    /// Where the entry stands at `now_ms`.
    pub fn freshness(&self, now_ms: u64) -> Freshness {
        if now_ms < self.fresh_until_ms {
            Freshness::Fresh
        } else if now_ms < self.fresh_until_ms + u64::from(self.grace_secs) * 1000 {
            Freshness::Stale
        } else if now_ms < self.fresh_until_ms + u64::from(self.stale_if_error_secs) * 1000 {
            Freshness::ErrorOnly
        } else {
            Freshness::Dead
        }
    }

    /// XFetch (Vattani et al.): whether this request should refresh a fresh
    /// entry early. The chance grows as expiry nears and with the render time, so
    /// hot keys are refreshed before they expire without a coordinated herd.
    /// `draw` is uniform in (0, 1].
    pub fn should_refresh_early(&self, now_ms: u64, beta: f64, draw: f64) -> bool {
        if beta <= 0.0 || self.kind != Kind::Page {
            return false;
        }
        let lead_ms = f64::from(self.render_ms.max(1)) * beta * -draw.ln();
        #[allow(clippy::cast_precision_loss)] // milliseconds since 1970 fit in f64 exactly
        let reach = now_ms as f64 + lead_ms;
        #[allow(clippy::cast_precision_loss)]
        let expiry = self.fresh_until_ms as f64;
        reach >= expiry
    }

    /// Seconds since it was stored, for `Age`.
    pub fn age_secs(&self, now_ms: u64) -> u64 {
        now_ms.saturating_sub(self.stored_at_ms) / 1000
    }

    /// Seconds of freshness left; negative once stale (for `Cache-Status: ttl=`).
    pub fn ttl_secs(&self, now_ms: u64) -> i64 {
        let left = i128::from(self.fresh_until_ms) - i128::from(now_ms);
        i64::try_from(left.div_euclid(1000)).unwrap_or(0)
    }

    /// How long the store must keep it: past freshness, through the longest of the
    /// grace and stale-if-error windows.
    pub fn retention_ms(&self, now_ms: u64) -> u64 {
        let window = u64::from(self.grace_secs.max(self.stale_if_error_secs)) * 1000;
        (self.fresh_until_ms + window).saturating_sub(now_ms).max(1)
    }

    pub fn encode(&self) -> Bytes {
        let headers_len: usize = self
            .headers
            .iter()
            .map(|(n, v)| 4 + n.len() + v.len())
            .sum();
        let bodies: Vec<(Coding, &Bytes)> = std::iter::once((Coding::Identity, &self.body))
            .chain(self.compressed.iter())
            .collect();
        let bodies_len: usize = bodies.iter().map(|(_, body)| 5 + body.len()).sum();
        let mut out = BytesMut::with_capacity(
            FIXED_HEADER + 2 + self.etag.len() + 2 + headers_len + 1 + bodies_len,
        );
        self.put_version(&mut out);
        out.put_u16(u16::try_from(self.headers.len()).unwrap_or(u16::MAX));
        for (name, value) in self.headers.iter().take(usize::from(u16::MAX)) {
            put_short(&mut out, name.as_bytes());
            put_short(&mut out, value.as_bytes());
        }
        out.put_u8(u8::try_from(bodies.len()).expect("at most three codings"));
        for (coding, body) in &bodies {
            out.put_u8(coding_id(*coding));
            out.put_u32(u32::try_from(body.len()).expect("body under the size limit"));
        }
        for (_, body) in &bodies {
            out.put_slice(body);
        }
        out.freeze()
    }

    /// The first bytes of the encoded entry, through its `ETag`: they tell one
    /// stored version of a page from any other (a new render has another
    /// stored-at or tag, a soft purge rewrites fresh-until), so a write that must
    /// only change this version compares them.
    pub fn version_prefix(&self) -> Bytes {
        let mut out = BytesMut::with_capacity(FIXED_HEADER + 2 + self.etag.len());
        self.put_version(&mut out);
        out.freeze()
    }

    fn put_version(&self, out: &mut BytesMut) {
        out.put_slice(MAGIC);
        out.put_u8(FORMAT_VERSION);
        out.put_slice(&fresh_until_stamp(self.fresh_until_ms));
        out.put_u8(match self.kind {
            Kind::Page => 0,
            Kind::HitForMiss => 1,
        });
        out.put_u64(self.stored_at_ms);
        out.put_u32(self.grace_secs);
        out.put_u32(self.stale_if_error_secs);
        out.put_u32(self.browser_ttl_secs);
        out.put_u32(self.render_ms);
        out.put_u16(self.status);
        put_short(out, self.etag.as_bytes());
    }

    /// The entry in `raw`, which must be a whole value.
    pub fn decode(raw: Bytes) -> Result<Self, DecodeError> {
        let head = read_head(&raw)?;
        if head.total_len() != raw.len() {
            return Err(DecodeError::Malformed);
        }
        Ok(head.with_bodies(&raw))
    }

    /// What the first bytes of a value hold: the whole entry when they are all of
    /// it, else its head, when they reach past it. A prefix that ends inside the
    /// head is an error like any truncated value.
    pub fn decode_prefix(prefix: Bytes) -> Result<Prefix, DecodeError> {
        let head = read_head(&prefix)?;
        let total = head.total_len();
        match total.cmp(&prefix.len()) {
            std::cmp::Ordering::Equal => Ok(Prefix::Whole(head.with_bodies(&prefix))),
            std::cmp::Ordering::Greater => Ok(Prefix::Head(Head {
                br: head.has(Coding::Br),
                gzip: head.has(Coding::Gzip),
                body_len: head
                    .table
                    .iter()
                    .find(|&&(coding, _)| coding == Coding::Identity)
                    .map_or(0, |&(_, len)| len),
                metadata: head.entry,
            })),
            std::cmp::Ordering::Less => Err(DecodeError::Malformed),
        }
    }
}

/// An envelope's head as read: the entry without bodies, and where its bodies lie.
struct ReadHead {
    entry: Entry,
    /// The stored codings and their lengths, in table order (identity first).
    table: Vec<(Coding, usize)>,
    /// Where the bodies start.
    end: usize,
}

impl ReadHead {
    fn has(&self, coding: Coding) -> bool {
        self.table.iter().any(|&(c, _)| c == coding)
    }

    /// The length of the whole value the head announces.
    fn total_len(&self) -> usize {
        self.table
            .iter()
            .fold(self.end, |total, &(_, len)| total.saturating_add(len))
    }

    /// The entry with its bodies sliced out of `raw` (no copy); `raw` must be
    /// [`Self::total_len`] long.
    fn with_bodies(mut self, raw: &Bytes) -> Entry {
        let mut at = self.end;
        for (coding, len) in self.table {
            let body = raw.slice(at..at + len);
            at += len;
            match coding {
                Coding::Identity => self.entry.body = body,
                Coding::Br => self.entry.compressed.br = Some(body),
                Coding::Gzip => self.entry.compressed.gzip = Some(body),
            }
        }
        self.entry
    }
}

/// Reads the head of an envelope, bounds-checked all the way.
fn read_head(raw: &[u8]) -> Result<ReadHead, DecodeError> {
    if raw.len() < FIXED_HEADER || &raw[..3] != MAGIC {
        return Err(DecodeError::Magic);
    }
    if raw[3] != FORMAT_VERSION {
        return Err(DecodeError::Version(raw[3]));
    }
    let stamp = &raw[FRESH_UNTIL_OFFSET..FRESH_UNTIL_OFFSET + FRESH_UNTIL_WIDTH];
    let fresh_until_ms = std::str::from_utf8(stamp)
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or(DecodeError::Malformed)?;
    let mut reader = Reader { raw, at: 17 };
    let kind = match reader.u8()? {
        0 => Kind::Page,
        1 => Kind::HitForMiss,
        _ => return Err(DecodeError::Malformed),
    };
    let stored_at_ms = reader.u64()?;
    let grace_secs = reader.u32()?;
    let stale_if_error_secs = reader.u32()?;
    let browser_ttl_secs = reader.u32()?;
    let render_ms = reader.u32()?;
    let status = reader.u16()?;
    let etag = reader.short_str()?;
    let count = reader.u16()?;
    let mut headers = Vec::with_capacity(usize::from(count));
    for _ in 0..count {
        headers.push((reader.short_str()?, reader.short_str()?));
    }
    let table = read_table(&mut reader)?;
    Ok(ReadHead {
        entry: Entry {
            kind,
            status,
            stored_at_ms,
            fresh_until_ms,
            grace_secs,
            stale_if_error_secs,
            browser_ttl_secs,
            render_ms,
            etag,
            headers,
            body: Bytes::new(),
            compressed: Compressed::default(),
        },
        table,
        end: reader.at,
    })
}

/// The bodies table: identity first, then each compressed coding at most once.
fn read_table(reader: &mut Reader<'_>) -> Result<Vec<(Coding, usize)>, DecodeError> {
    let count = reader.u8()?;
    if count == 0 || usize::from(count) > 1 + Coding::COMPRESSED.len() {
        return Err(DecodeError::Malformed);
    }
    let mut table: Vec<(Coding, usize)> = Vec::with_capacity(usize::from(count));
    for i in 0..count {
        let coding = match reader.u8()? {
            IDENTITY_ID if i == 0 => Coding::Identity,
            BR_ID if i > 0 => Coding::Br,
            GZIP_ID if i > 0 => Coding::Gzip,
            _ => return Err(DecodeError::Malformed),
        };
        if table.iter().any(|&(seen, _)| seen == coding) {
            return Err(DecodeError::Malformed);
        }
        let len = usize::try_from(reader.u32()?).map_err(|_| DecodeError::Malformed)?;
        table.push((coding, len));
    }
    Ok(table)
}

fn coding_id(coding: Coding) -> u8 {
    match coding {
        Coding::Identity => IDENTITY_ID,
        Coding::Br => BR_ID,
        Coding::Gzip => GZIP_ID,
    }
}

/// The patch a soft purge applies to stored values: entries get their
/// fresh-until stamp set to `now_ms` (so they turn stale at once and are served
/// within grace); values that are not entries are left to the store to remove.
pub fn stale_patch(now_ms: u64) -> StalePatch {
    StalePatch {
        prefix: MAGIC,
        offset: FRESH_UNTIL_OFFSET,
        width: FRESH_UNTIL_WIDTH,
        stamp: fresh_until_stamp(now_ms).to_vec(),
    }
}

/// The fresh-until stamp as stored: Unix milliseconds as zero-padded ASCII
/// digits of a fixed width (the last digits, should a time ever outgrow it). The
/// one place in Rust that writes it; the Redis purge script writes the same form.
fn fresh_until_stamp(ms: u64) -> [u8; FRESH_UNTIL_WIDTH] {
    let digits = format!("{ms:0FRESH_UNTIL_WIDTH$}");
    let mut stamp = [0; FRESH_UNTIL_WIDTH];
    stamp.copy_from_slice(&digits.as_bytes()[digits.len() - FRESH_UNTIL_WIDTH..]);
    stamp
}

fn put_short(out: &mut BytesMut, bytes: &[u8]) {
    let len = bytes.len().min(usize::from(u16::MAX));
    out.put_u16(u16::try_from(len).unwrap_or(u16::MAX));
    out.put_slice(&bytes[..len]);
}

/// A bounds-checked cursor over an envelope.
struct Reader<'a> {
    raw: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], DecodeError> {
        let end = self.at.checked_add(n).ok_or(DecodeError::Malformed)?;
        let slice = self.raw.get(self.at..end).ok_or(DecodeError::Malformed)?;
        self.at = end;
        Ok(slice)
    }
    fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_be_bytes(
            self.take(2)?
                .try_into()
                .map_err(|_| DecodeError::Malformed)?,
        ))
    }
    fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_be_bytes(
            self.take(4)?
                .try_into()
                .map_err(|_| DecodeError::Malformed)?,
        ))
    }
    fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_be_bytes(
            self.take(8)?
                .try_into()
                .map_err(|_| DecodeError::Malformed)?,
        ))
    }
    fn short_str(&mut self) -> Result<String, DecodeError> {
        let len = usize::from(self.u16()?);
        let bytes = self.take(len)?;
        String::from_utf8(bytes.to_vec()).map_err(|_| DecodeError::Malformed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Entry {
        Entry {
            kind: Kind::Page,
            status: 200,
            stored_at_ms: 1_700_000_000_000,
            fresh_until_ms: 1_700_000_300_000,
            grace_secs: 60,
            stale_if_error_secs: 86_400,
            browser_ttl_secs: 30,
            render_ms: 12,
            etag: "\"abc\"".into(),
            headers: vec![("Content-Type".into(), "text/html; charset=utf-8".into())],
            body: Bytes::from_static(b"<p>\x00binary\xff</p>"),
            compressed: Compressed {
                br: Some(Bytes::from_static(b"\x8b\x05br")),
                gzip: Some(Bytes::from_static(b"\x1f\x8bgzip")),
            },
        }
    }

    fn only_gzip() -> Entry {
        Entry {
            compressed: Compressed {
                br: None,
                gzip: Some(Bytes::from_static(b"\x1f\x8bgzip")),
            },
            ..sample()
        }
    }

    #[test]
    fn round_trips_binary_bodies_in_every_coding() {
        for entry in [
            sample(),
            only_gzip(),
            Entry::hit_for_miss(5, Duration::from_millis(10)),
        ] {
            assert_eq!(Entry::decode(entry.encode()).unwrap(), entry);
        }
        let entry = sample();
        assert_eq!(entry.body_in(Coding::Identity), Some(&entry.body));
        assert_eq!(entry.body_in(Coding::Br), entry.compressed.br.as_ref());
        assert_eq!(only_gzip().body_in(Coding::Br), None);
    }

    #[test]
    fn every_truncation_is_an_error_not_a_panic() {
        for entry in [sample(), only_gzip()] {
            let raw = entry.encode();
            for len in 0..raw.len() {
                assert!(Entry::decode(raw.slice(..len)).is_err(), "len {len}");
            }
            let mut longer = raw.to_vec();
            longer.push(0);
            assert!(Entry::decode(longer.into()).is_err(), "one byte too many");
        }
    }

    #[test]
    fn a_prefix_past_the_head_is_the_head_and_the_whole_value_is_the_entry() {
        let entry = sample();
        let raw = entry.encode();
        let bodies = entry.body.len() + 4 + 6;
        let head_end = raw.len() - bodies;
        for len in head_end..raw.len() {
            let Ok(Prefix::Head(head)) = Entry::decode_prefix(raw.slice(..len)) else {
                panic!("a prefix of {len} bytes holds the head");
            };
            let meta = head.metadata();
            assert_eq!((meta.etag.as_str(), meta.status), ("\"abc\"", 200));
            assert_eq!(meta.headers, entry.headers);
            assert_eq!(meta.fresh_until_ms, entry.fresh_until_ms);
            assert!(meta.body.is_empty() && meta.compressed == Compressed::default());
            assert!(head.has(Coding::Identity) && head.has(Coding::Br) && head.has(Coding::Gzip));
        }
        for len in 0..head_end {
            assert!(Entry::decode_prefix(raw.slice(..len)).is_err(), "len {len}");
        }
        let Ok(Prefix::Whole(whole)) = Entry::decode_prefix(raw.clone()) else {
            panic!("the whole value is the entry");
        };
        assert_eq!(whole, entry);
        let raw = only_gzip().encode();
        let Ok(Prefix::Head(head)) = Entry::decode_prefix(raw.slice(..raw.len() - 1)) else {
            panic!("head");
        };
        assert!(head.has(Coding::Gzip) && !head.has(Coding::Br));
    }

    #[test]
    fn a_bodies_table_out_of_order_or_repeated_is_refused() {
        let raw = sample().encode().to_vec();
        // The table's first coding id sits right after the headers.
        let table = raw.len() - (sample().body.len() + 4 + 6) - 16;
        assert_eq!(raw[table], 3, "three bodies");
        for (at, id) in [
            (table + 1, BR_ID),
            (table + 6, IDENTITY_ID),
            (table + 11, BR_ID),
        ] {
            let mut bad = raw.clone();
            bad[at] = id;
            assert_eq!(
                Entry::decode(bad.into()),
                Err(DecodeError::Malformed),
                "{at}"
            );
        }
        let mut none = raw.clone();
        none[table] = 0;
        assert_eq!(Entry::decode(none.into()), Err(DecodeError::Malformed));
        // Two bodies, neither identity: the page itself would be missing.
        let mut raw = only_gzip().encode().to_vec();
        let table = raw.len() - (sample().body.len() + 6) - 11;
        assert_eq!(raw[table], 2, "two bodies");
        raw[table + 1] = BR_ID;
        assert_eq!(Entry::decode(raw.into()), Err(DecodeError::Malformed));
    }

    #[test]
    fn other_versions_and_garbage_are_refused() {
        let mut raw = sample().encode().to_vec();
        raw[3] = FORMAT_VERSION + 1;
        assert_eq!(
            Entry::decode(raw.clone().into()),
            Err(DecodeError::Version(FORMAT_VERSION + 1))
        );
        raw[3] = 1;
        assert_eq!(
            Entry::decode_prefix(raw.into()).err(),
            Some(DecodeError::Version(1)),
            "the format before the bodies table"
        );
        assert_eq!(
            Entry::decode(Bytes::from_static(b"garbage")),
            Err(DecodeError::Magic)
        );
    }

    #[test]
    fn the_fresh_until_stamp_sits_where_a_soft_purge_rewrites_it() {
        let raw = sample().encode();
        let stamp = &raw[FRESH_UNTIL_OFFSET..FRESH_UNTIL_OFFSET + FRESH_UNTIL_WIDTH];
        assert_eq!(stamp, b"1700000300000");
    }

    #[test]
    fn a_soft_purge_patch_makes_an_entry_stale_at_that_moment_and_nothing_else() {
        let entry = sample();
        let purged_at = entry.fresh_until_ms - 120_000;
        let patch = stale_patch(purged_at);
        let raw = entry.encode();
        assert!(patch.applies_to(&raw));
        let patched = Entry::decode(patch.apply(&raw)).unwrap();
        assert_eq!(patched.fresh_until_ms, purged_at);
        assert_eq!(patched.freshness(purged_at), Freshness::Stale);
        assert_eq!(
            Entry {
                fresh_until_ms: entry.fresh_until_ms,
                ..patched
            },
            entry,
            "only the stamp changed"
        );
        assert!(!patch.applies_to(br#"{"memo":"value"}"#));
    }

    #[test]
    fn early_refresh_is_off_at_beta_zero_and_likelier_near_expiry() {
        let mut entry = sample();
        entry.render_ms = 1_000;
        let far = entry.fresh_until_ms - 60_000;
        let near = entry.fresh_until_ms - 500;
        assert!(!entry.should_refresh_early(near, 0.0, 0.001));
        assert!(!entry.should_refresh_early(far, 1.0, 0.5));
        assert!(entry.should_refresh_early(near, 1.0, 0.5));
        assert!(!entry.should_refresh_early(near, 1.0, 1.0));
    }

    #[test]
    fn freshness_windows() {
        let entry = sample();
        let fresh_until = entry.fresh_until_ms;
        assert_eq!(entry.freshness(fresh_until - 1), Freshness::Fresh);
        assert_eq!(entry.freshness(fresh_until), Freshness::Stale);
        assert_eq!(entry.freshness(fresh_until + 60_000), Freshness::ErrorOnly);
        assert_eq!(entry.freshness(fresh_until + 86_400_000), Freshness::Dead);
        assert_eq!(entry.ttl_secs(fresh_until - 1500), 1);
        assert_eq!(entry.ttl_secs(fresh_until + 1500), -2);
    }
}
