//! Compressing a page's body into one coding, off the async workers.
//!
//! Compression is CPU work of a millisecond or more for a large page: it runs on
//! Tokio's blocking threads, never on the async workers that serve hits, and at
//! most as many at once as the machine has cores (more would only queue for the
//! CPU while holding their buffers). Which coding is made, and when, is the
//! callers' business: a render is stored in the coding its requester prefers,
//! and [`crate::coding_jobs`] adds another when a hit first asks for it.
//!
//! Levels, chosen for a page compressed once and served many times, whose
//! compression a request may wait for (figures: users-list-like HTML of 5.8,
//! 38 and 290 KB, release build on the 2-core build machine, 200 runs each):
//! - brotli quality 4 with a 64 KiB window: 52, 200 and 1,490 µs, to 316,
//!   1,558 and 8,870 bytes. Quality 5 took 558, 812 and 4,175 µs for output no
//!   smaller (303, 1,671, 10,561 bytes); larger windows cost more time (its
//!   tables grow with the window, and a small page pays for them all: 493 µs
//!   at 5.8 KB with a 4 MiB window) and saved nothing on these pages.
//! - gzip level 6 (zlib's default): 36, 332 and 3,250 µs, 5-8% smaller than
//!   level 1; gzip is what clients without br get, few and rarely.

use std::io::Write;
use std::sync::OnceLock;

use bytes::Bytes;
use tokio::sync::Semaphore;

use super::config::CacheConfig;
use super::encoding::Coding;
use super::entry::Entry;

/// Bodies smaller than this are stored as they are: compression saves too little
/// to be worth a coding's headers and the work.
pub const MIN_BODY_BYTES: usize = 512;

const BROTLI_QUALITY: i32 = 4;
/// Window of 64 KiB (2^16): see the module's figures.
const BROTLI_WINDOW: i32 = 16;
const GZIP_LEVEL: u32 = 6;

/// Whether a body with these headers is worth compressing: text-like content
/// of some size that the route did not encode itself.
pub fn worth_compressing(
    content_type: Option<&str>,
    content_encoding: Option<&str>,
    len: usize,
) -> bool {
    len >= MIN_BODY_BYTES && content_encoding.is_none() && content_type.is_some_and(is_text_like)
}

/// Text compresses well; images, archives and fonts are compressed already.
fn is_text_like(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence.starts_with("text/")
        || matches!(
            essence.as_str(),
            "application/json" | "application/javascript" | "application/xml" | "image/svg+xml"
        )
        || essence.ends_with("+json")
        || essence.ends_with("+xml")
}

/// How many compressions may run at once in this process: its cores. One
/// limit for the whole process (not per [`Cache`](crate::Cache)): the cores are
/// the process's, however many app instances share them.
fn slots() -> &'static Semaphore {
    static SLOTS: OnceLock<Semaphore> = OnceLock::new();
    SLOTS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get);
        Semaphore::new(cores)
    })
}

/// Whether a stored page may be stored in a compressed coding it lacks (or
/// one that was not worth it): `cache.precompress` is on and its body
/// (`body_len` bytes, as its head may be read without it) is worth
/// compressing, as [`worth_compressing`] judges a response's.
pub fn may_gain_codings(config: &CacheConfig, entry: &Entry, body_len: usize) -> bool {
    let header = |name: &str| {
        entry
            .headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    config.precompress
        && worth_compressing(header("content-type"), header("content-encoding"), body_len)
}

/// `body` in `coding`, if that is smaller, compressed on a blocking thread.
/// Waits for a free slot when all cores are compressing. Should compression
/// fail (it does not on memory buffers), there is simply no such coding.
pub async fn compress(body: Bytes, coding: Coding) -> Option<Bytes> {
    let _slot = slots().acquire().await.ok()?;
    tokio::task::spawn_blocking(move || encode(&body, coding))
        .await
        .ok()
        .flatten()
}

/// `body` in `coding`, now, on this thread; `None` for identity or when the
/// coding is no smaller.
pub fn encode(body: &[u8], coding: Coding) -> Option<Bytes> {
    let encoded = match coding {
        Coding::Br => brotli(body)?,
        Coding::Gzip => gzip(body)?,
        Coding::Identity => return None,
    };
    (encoded.len() < body.len()).then(|| Bytes::from(encoded))
}

fn brotli(body: &[u8]) -> Option<Vec<u8>> {
    let params = brotli::enc::BrotliEncoderParams {
        quality: BROTLI_QUALITY,
        lgwin: BROTLI_WINDOW,
        mode: brotli::enc::backward_references::BrotliEncoderMode::BROTLI_MODE_TEXT,
        size_hint: body.len(),
        ..brotli::enc::BrotliEncoderParams::default()
    };
    let mut out = Vec::with_capacity(body.len() / 4);
    brotli::BrotliCompress(&mut &body[..], &mut out, &params).ok()?;
    Some(out)
}

fn gzip(body: &[u8]) -> Option<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(
        Vec::with_capacity(body.len() / 3),
        flate2::Compression::new(GZIP_LEVEL),
    );
    encoder.write_all(body).ok()?;
    encoder.finish().ok()
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn page() -> Vec<u8> {
        let mut page = Vec::new();
        for i in 0..400 {
            writeln!(
                page,
                "<tr><td>User {i}</td><td>user{i}@example.com</td></tr>"
            )
            .unwrap();
        }
        page
    }

    #[test]
    fn both_codings_decode_to_the_body() {
        let body = page();
        let br = encode(&body, Coding::Br).expect("br is smaller");
        let gzip = encode(&body, Coding::Gzip).expect("gzip is smaller");
        assert!(br.len() < body.len() / 5 && gzip.len() < body.len() / 5);
        let mut decoded = Vec::new();
        brotli::Decompressor::new(&br[..], 4096)
            .read_to_end(&mut decoded)
            .unwrap();
        assert_eq!(decoded, body);
        decoded.clear();
        flate2::read::GzDecoder::new(&gzip[..])
            .read_to_end(&mut decoded)
            .unwrap();
        assert_eq!(decoded, body);
    }

    #[test]
    fn a_coding_that_does_not_shrink_the_body_is_dropped() {
        let noise: Vec<u8> = (0..4096).map(|_| rand::random::<u8>()).collect();
        for coding in [Coding::Br, Coding::Gzip, Coding::Identity] {
            assert_eq!(encode(&noise, coding), None, "{coding:?}");
        }
    }

    #[test]
    fn only_text_of_some_size_that_the_route_did_not_encode_is_worth_it() {
        let html = Some("text/html; charset=utf-8");
        assert!(worth_compressing(html, None, MIN_BODY_BYTES));
        assert!(!worth_compressing(html, None, MIN_BODY_BYTES - 1));
        assert!(!worth_compressing(html, Some("gzip"), 10_000));
        assert!(!worth_compressing(None, None, 10_000));
        for text in [
            "application/json",
            "Application/JavaScript",
            "image/svg+xml",
            "text/css",
            "application/problem+json",
        ] {
            assert!(worth_compressing(Some(text), None, 10_000), "{text}");
        }
        for binary in ["image/png", "application/octet-stream", "font/woff2"] {
            assert!(!worth_compressing(Some(binary), None, 10_000), "{binary}");
        }
    }
}
