//! A small fault-injecting TCP proxy, to cut or stall `MySQL` or Redis under a
//! running app without touching the shared servers.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// What the proxy does with traffic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Forward both ways.
    Pass,
    /// Close every connection and refuse new ones, like a dead server.
    Cut,
    /// Like `Stall` for new connections, and established ones stop forwarding but
    /// stay open: a server that hangs mid-conversation.
    Freeze,
    /// Accept and hold connections but never forward a byte, like a hung server.
    Stall,
}

pub struct FaultProxy {
    pub addr: SocketAddr,
    mode: watch::Sender<Mode>,
    connections: Arc<Mutex<u64>>,
    /// Connections that may still forward bytes under a mode they read earlier.
    forwarding: Arc<AtomicUsize>,
}

impl FaultProxy {
    /// Starts forwarding 127.0.0.1:<free port> to `target`.
    pub async fn start(target: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let (mode, watcher) = watch::channel(Mode::Pass);
        let connections = Arc::new(Mutex::new(0));
        let forwarding = Arc::new(AtomicUsize::new(0));
        let counter = connections.clone();
        let busy = forwarding.clone();
        let target = target.to_owned();
        tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                *counter.lock().unwrap() += 1;
                let watcher = watcher.clone();
                let target = target.clone();
                tokio::spawn(serve(client, target, watcher, Busy::enter(&busy)));
            }
        });
        Self {
            addr,
            mode,
            connections,
            forwarding,
        }
    }

    /// Changes the mode for new traffic; connections already forwarding notice it
    /// a moment later. Use [`FaultProxy::switch`] to wait for that.
    pub fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }

    /// Changes the mode and returns once no connection forwards under the old one:
    /// after `switch(Mode::Cut).await` not one more byte reaches the target.
    pub async fn switch(&self, mode: Mode) {
        self.set(mode);
        if mode == Mode::Pass {
            return;
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.forwarding.load(Ordering::SeqCst) > 0 {
            assert!(Instant::now() < deadline, "proxy connections did not stop");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> u64 {
        *self.connections.lock().unwrap()
    }

    pub fn port(&self) -> u16 {
        self.addr.port()
    }
}

/// Counts a connection in `forwarding` while it lives. It is counted before it
/// reads the mode, so a switch that sees no count knows every later connection
/// reads the new mode.
struct Busy(Arc<AtomicUsize>);

impl Busy {
    fn enter(count: &Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::SeqCst);
        Self(count.clone())
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn serve(mut client: TcpStream, target: String, mut mode: watch::Receiver<Mode>, busy: Busy) {
    let current = *mode.borrow_and_update();
    match current {
        Mode::Cut => {
            drop(busy);
            let _ = client.shutdown().await;
            return;
        }
        Mode::Stall | Mode::Freeze => {
            // Hold the socket until the mode changes, then drop it.
            drop(busy);
            let _ = mode.changed().await;
            return;
        }
        Mode::Pass => {}
    }
    let Ok(mut upstream) = TcpStream::connect(&target).await else {
        return;
    };
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut upstream) => {}
        () = async {
            loop {
                if mode.changed().await.is_err() { return; }
                if *mode.borrow() != Mode::Pass { return; }
            }
        } => {}
    }
    // Not one more byte goes through; a frozen link stays open until the mode changes.
    drop(busy);
    if *mode.borrow() == Mode::Freeze {
        let _ = mode.changed().await;
    }
}

/// A listener that accepts connections and never answers: a hung server.
pub async fn silent_listener() -> (SocketAddr, tokio::task::JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    (addr, task)
}

/// A listener that answers every read with bytes that are not the Redis protocol.
pub async fn garbage_listener() -> (SocketAddr, tokio::task::JoinHandle<()>) {
    use tokio::io::AsyncReadExt;
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let task = tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let mut buffer = [0_u8; 4096];
                while let Ok(n) = socket.read(&mut buffer).await {
                    if n == 0
                        || socket
                            .write_all(b"\x00\xffnot redis at all\r\n")
                            .await
                            .is_err()
                    {
                        return;
                    }
                }
            });
        }
    });
    (addr, task)
}
