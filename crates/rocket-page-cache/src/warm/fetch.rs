//! The GET a warming instance sends itself: plain HTTP/1.1 over loopback, one
//! connection per page (`Connection: close`), the body read to its end (the
//! page is stored by then) and dropped; only the head is kept, bounded.

use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{WARMED_HEADER, WARM_HEADER};

/// Most bytes of an answer's head kept.
const MAX_HEAD: usize = 16 * 1024;

/// What a warm request came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Fetched {
    pub status: u16,
    /// Whether the answer came from the instance that sent it.
    pub from_self: bool,
}

/// GET `path` with `Host: host` from the listener at `addr`, as `token`'s
/// warm request. The caller bounds the time.
pub(crate) async fn get(
    addr: SocketAddr,
    host: &str,
    path: &str,
    token: &str,
) -> std::io::Result<Fetched> {
    let mut stream = TcpStream::connect(addr).await?;
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {host}\r\n{WARM_HEADER}: {token}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await?;
    let mut head = Vec::new();
    let mut buf = [0_u8; 8192];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        let room = MAX_HEAD.saturating_sub(head.len());
        head.extend_from_slice(&buf[..n.min(room)]);
    }
    parse_head(&head)
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "not an HTTP answer"))
}

/// The status and the self mark of an answer's head.
fn parse_head(raw: &[u8]) -> Option<Fetched> {
    let text = String::from_utf8_lossy(raw);
    let head = text.split("\r\n\r\n").next()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let from_self = lines.any(|line| {
        line.split_once(':')
            .is_some_and(|(name, _)| name.trim().eq_ignore_ascii_case(WARMED_HEADER))
    });
    Some(Fetched { status, from_self })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_and_the_self_mark_are_read_from_the_head() {
        let answer =
            b"HTTP/1.1 200 OK\r\ncontent-type: text/html\r\nx-page-cache-warmed: 1\r\n\r\n<p>";
        assert_eq!(
            parse_head(answer),
            Some(Fetched {
                status: 200,
                from_self: true
            })
        );
        let other = b"HTTP/1.1 404 Not Found\r\n\r\nx-page-cache-warmed: 1";
        assert_eq!(
            parse_head(other),
            Some(Fetched {
                status: 404,
                from_self: false
            }),
            "a mark in the body does not count"
        );
        assert_eq!(parse_head(b"garbage"), None);
    }
}
