//! A small fault-injecting TCP proxy, to cut or stall `MySQL` or Redis under a
//! running app without touching the shared servers.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

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
    /// Accept and hold connections but never forward a byte, like a hung server.
    Stall,
}

pub struct FaultProxy {
    pub addr: SocketAddr,
    mode: watch::Sender<Mode>,
    connections: Arc<Mutex<u64>>,
    open: Arc<AtomicUsize>,
}

/// Counts a forwarding connection as open until it ends.
struct OpenGuard(Arc<AtomicUsize>);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

impl FaultProxy {
    /// Starts forwarding 127.0.0.1:<free port> to `target`.
    pub async fn start(target: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind proxy");
        let addr = listener.local_addr().expect("proxy addr");
        let (mode, watcher) = watch::channel(Mode::Pass);
        let connections = Arc::new(Mutex::new(0));
        let open = Arc::new(AtomicUsize::new(0));
        let counter = connections.clone();
        let open_counter = open.clone();
        let target = target.to_owned();
        tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    return;
                };
                *counter.lock().unwrap() += 1;
                let watcher = watcher.clone();
                let target = target.clone();
                open_counter.fetch_add(1, Ordering::SeqCst);
                let guard = OpenGuard(open_counter.clone());
                tokio::spawn(async move {
                    serve(client, target, watcher).await;
                    drop(guard);
                });
            }
        });
        Self {
            addr,
            mode,
            connections,
            open,
        }
    }

    /// Switches mode without waiting; connections notice on their next poll.
    pub fn set(&self, mode: Mode) {
        self.mode.send_replace(mode);
    }

    /// Switches mode and, when cutting or stalling, waits until every forwarding
    /// connection is closed, so the next request surely meets the fault.
    pub async fn switch(&self, mode: Mode) {
        self.set(mode);
        if mode == Mode::Pass {
            return;
        }
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while self.open.load(Ordering::SeqCst) > 0 && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
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

async fn serve(mut client: TcpStream, target: String, mut mode: watch::Receiver<Mode>) {
    let current = *mode.borrow_and_update();
    match current {
        Mode::Cut => {
            let _ = client.shutdown().await;
            return;
        }
        Mode::Stall => {
            // Hold the socket until the mode changes, then drop it.
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
