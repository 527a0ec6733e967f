//! The WebSocket side: one listener per node on `127.0.0.1:PORT+i`, one
//! thread per connection, messages to and from the [`Hub`].
//!
//! Synchronous `tungstenite` on std sockets: a served cluster has a few
//! dozen clients, so a thread each is simpler than an async runtime and
//! costs nothing that matters. A connection thread reads with a short
//! timeout and in between writes what the hub queued for it, so one thread
//! owns each socket. As hpws does, frames go out binary, text frames are
//! read like binary ones, a message over 5 MiB drops the connection, and a
//! connection that has not finished the handshake after 5 s is dropped.

use std::collections::BTreeMap;
use std::io::{self, ErrorKind};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use tungstenite::protocol::WebSocketConfig;
use tungstenite::{Error as WsError, Message, WebSocket};

use super::hub::{Action, Hub, SessionId};

/// hpws' default `--maxmsg` (`user.max_bytes_per_msg` 0).
pub(crate) const MAX_MESSAGE: usize = 5 * 1024 * 1024;
/// `UNVERIFIED_INACTIVE_TIMEOUT`.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a connection thread blocks in a read before it writes.
const POLL: Duration = Duration::from_millis(5);

/// Something for a connection thread to do.
#[derive(Debug)]
enum Outbound {
    Message(Vec<u8>),
    Close,
}

/// A read request waiting for the round driver (the cluster runs one thing
/// at a time).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ReadJob {
    pub(crate) session: SessionId,
    pub(crate) node: usize,
    pub(crate) user: String,
    pub(crate) id: String,
    pub(crate) content: Vec<u8>,
}

/// What the listeners, connections and the round driver share.
pub(crate) struct Shared {
    hub: Mutex<Hub>,
    outboxes: Mutex<BTreeMap<SessionId, Sender<Outbound>>>,
    reads: Mutex<Vec<ReadJob>>,
    log: Box<dyn Fn(&str) + Send + Sync>,
    /// Set to stop every thread (the caller's flag, e.g. set on Ctrl-C).
    pub(crate) stop: Arc<AtomicBool>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicked connection thread must not take the cluster down.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    /// Shares `hub`; `log` receives one line per event worth a line.
    pub(crate) fn new(
        hub: Hub,
        log: Box<dyn Fn(&str) + Send + Sync>,
        stop: Arc<AtomicBool>,
    ) -> Arc<Shared> {
        Arc::new(Shared {
            hub: Mutex::new(hub),
            outboxes: Mutex::new(BTreeMap::new()),
            reads: Mutex::new(Vec::new()),
            log,
            stop,
        })
    }

    /// Runs `f` on the hub and carries out what it returns.
    pub(crate) fn with_hub(&self, f: impl FnOnce(&mut Hub) -> Vec<Action>) {
        let actions = f(&mut lock(&self.hub));
        self.dispatch(actions);
    }

    /// Read requests queued since the last call.
    pub(crate) fn take_reads(&self) -> Vec<ReadJob> {
        std::mem::take(&mut *lock(&self.reads))
    }

    fn dispatch(&self, actions: Vec<Action>) {
        for a in actions {
            match a {
                Action::Send(id, m) => self.post(id, Outbound::Message(m)),
                Action::Close(id) => self.post(id, Outbound::Close),
                Action::Log(line) => (self.log)(&line),
                Action::Read {
                    session,
                    node,
                    user,
                    id,
                    content,
                } => lock(&self.reads).push(ReadJob {
                    session,
                    node,
                    user,
                    id,
                    content,
                }),
            }
        }
    }

    fn post(&self, id: SessionId, what: Outbound) {
        if let Some(tx) = lock(&self.outboxes).get(&id) {
            // A send fails only when the connection thread already ended.
            let _ = tx.send(what);
        }
    }
}

/// Starts node `node`'s listener on `127.0.0.1:port`.
pub(crate) fn listen(shared: Arc<Shared>, node: usize, port: u16) -> io::Result<JoinHandle<()>> {
    let listener = TcpListener::bind(("127.0.0.1", port))?;
    listener.set_nonblocking(true)?;
    Ok(thread::spawn(move || {
        while !shared.stop.load(Ordering::Relaxed) {
            match listener.accept() {
                Ok((stream, _)) => {
                    let s = Arc::clone(&shared);
                    thread::spawn(move || connection(s, node, stream));
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => {
                    thread::sleep(Duration::from_millis(20))
                }
                Err(e) => (shared.log)(&format!("node {node}: accept failed: {e}")),
            }
        }
    }))
}

fn ws_config() -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_MESSAGE))
}

fn connection(shared: Arc<Shared>, node: usize, stream: TcpStream) {
    let peer = stream
        .peer_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let upgraded = stream
        .set_nonblocking(false)
        .and_then(|()| stream.set_read_timeout(Some(HANDSHAKE_TIMEOUT)))
        .map_err(|e| e.to_string())
        .and_then(|()| {
            tungstenite::accept_with_config(stream, Some(ws_config())).map_err(|e| e.to_string())
        });
    let mut ws = match upgraded {
        Ok(ws) => ws,
        Err(e) => {
            return (shared.log)(&format!(
                "node {node}: {peer}: not a WebSocket upgrade: {e}"
            ));
        }
    };
    let (tx, rx) = channel();
    let connected = lock(&shared.hub).connect(node);
    let (id, challenge) = match connected {
        Ok(c) => c,
        Err(e) => return (shared.log)(&format!("node {node}: no challenge: {e}")),
    };
    // The outbox exists before anything is posted to it.
    lock(&shared.outboxes).insert(id, tx);
    shared.post(id, Outbound::Message(challenge));
    let why = session(&shared, id, &mut ws, &rx).err().unwrap_or_default();
    lock(&shared.outboxes).remove(&id);
    shared.with_hub(|h| {
        h.disconnect(id);
        Vec::new()
    });
    if !why.is_empty() {
        (shared.log)(&format!("node {node}: {peer}: session closed: {why}"));
    }
}

/// Runs one session until it ends; `Err` says why it was dropped.
fn session(
    shared: &Shared,
    id: SessionId,
    ws: &mut WebSocket<TcpStream>,
    rx: &Receiver<Outbound>,
) -> Result<(), String> {
    ws.get_mut()
        .set_read_timeout(Some(POLL))
        .map_err(|e| e.to_string())?;
    let opened = Instant::now();
    loop {
        if shared.stop.load(Ordering::Relaxed) {
            return Ok(());
        }
        while let Ok(out) = rx.try_recv() {
            match out {
                // hpcore drops the socket (SIGTERM to hpws): no close frame.
                Outbound::Close => return Ok(()),
                Outbound::Message(m) => ws.send(Message::binary(m)).map_err(|e| e.to_string())?,
            }
        }
        match ws.read() {
            Ok(Message::Binary(b)) => shared.with_hub(|h| h.receive(id, &b)),
            Ok(Message::Text(t)) => shared.with_hub(|h| h.receive(id, t.as_bytes())),
            Ok(_) => {} // ping (answered by tungstenite), pong, close
            Err(WsError::Io(e))
                if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(WsError::ConnectionClosed | WsError::AlreadyClosed) => return Ok(()),
            Err(e) => return Err(e.to_string()),
        }
        if opened.elapsed() > HANDSHAKE_TIMEOUT && !lock(&shared.hub).is_verified(id) {
            return Err("no handshake within 5 s".into());
        }
    }
}
