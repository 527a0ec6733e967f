//! The monitor of one running contract, mirroring hpcore's
//! `contract_monitor_loop`: one method per concern (control packets, NPL out,
//! user outputs, NPL delivery in, reaping) and the node's report at the end.

use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net::UnixDatagram;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::libc;
use nix::poll::{PollFd, PollFlags, poll};
use nix::sys::socket::{MsgFlags, send};

use super::super::npl::{NplHub, Queued};
use super::super::report::{ControlMessage, Exit, Hazard, NplReceived, Usage, UserOutputs};
use super::control::{control_hazards, interpret_control};
use super::rules::{Budget, Wait, exit_hazard, timed_out};
use super::spawn::UserChan;
use super::sys::{Packet, drain_pipe, is_waiting, read_packet, reap, set_nonblocking, to_io};
use crate::wire::MAX_PACKET;

/// Receive buffer for SEQPACKET reads: larger than any packet a default
/// socket can carry, so oversized packets can be measured before they are
/// cut to the engine's 128 KiB.
const PACKET_BUF: usize = 1024 * 1024;

/// How often a node holding peers' NPL messages for its own first one looks
/// whether its contract is waiting.
const HOLD_CHECK: Duration = Duration::from_millis(1);

/// The longest a contract that neither sends nor waits has its peers'
/// messages held (a contract polling its socket without blocking).
const HOLD_MAX: Duration = Duration::from_millis(500);

/// What one poll slot stands for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Slot {
    User(usize),
    Control,
    Npl,
    Stdout,
    Stderr,
    Wake,
    Exit,
}

/// The slots poll found readable (and whether they hung up).
struct Ready(Vec<(Slot, bool, bool)>);

impl Ready {
    /// `Some(hup)` when `slot` is readable.
    fn get(&self, slot: Slot) -> Option<bool> {
        self.0
            .iter()
            .find(|(s, ..)| *s == slot)
            .and_then(|&(_, readable, hup)| readable.then_some(hup))
    }
}

/// The host's ends of one execution and what it observed so far.
pub(super) struct Monitor<'a> {
    pub(super) index: usize,
    pub(super) observer: bool,
    pub(super) hub: Option<&'a NplHub>,
    pub(super) wake: Option<UnixDatagram>,
    pub(super) pid: libc::pid_t,
    pub(super) pidfd: Option<OwnedFd>,
    pub(super) timeout_ms: u64,
    pub(super) users: Vec<UserChan>,
    pub(super) user_output_bytes: u64,
    pub(super) control_hp: Option<OwnedFd>,
    pub(super) npl_hp: Option<OwnedFd>,
    pub(super) npl_budget: Budget,
    pub(super) stdout_pipe: Option<File>,
    pub(super) stderr_pipe: Option<File>,
    pub(super) hazards: Vec<Hazard>,
    pub(super) observed: Observed,
}

/// What the monitor saw the contract do.
#[derive(Default)]
pub(super) struct Observed {
    pub(super) control: Vec<ControlMessage>,
    pub(super) npl_sent: Vec<Vec<u8>>,
    pub(super) npl_received: Vec<NplReceived>,
    pub(super) stdout: Vec<u8>,
    pub(super) stderr: Vec<u8>,
    pub(super) status: Option<(Exit, Usage)>,
    pub(super) timed_out: bool,
    pub(super) npl_write_failed: bool,
    control_eof: bool,
    npl_eof: bool,
    npl_closed_by_limit: bool,
    /// An NPL message whose key packet went out but whose data did not fit.
    pending_data: Option<Queued>,
}

/// Reusable read buffers.
struct Buffers {
    packet: Vec<u8>,
    read: Vec<u8>,
    pipe: Vec<u8>,
}

/// What one delivery step did.
enum Delivery {
    Idle,
    Written,
    /// The engine's loop ends (a write to the NPL fd it had closed).
    Stop,
}

impl Monitor<'_> {
    /// Makes the host's ends non-blocking (the engine blocks; the simulator
    /// must not, with N nodes in one process).
    pub(super) fn prepare(&self) -> io::Result<()> {
        for f in self.stdout_pipe.iter().chain(self.stderr_pipe.iter()) {
            set_nonblocking(f)?;
        }
        for fd in self.users.iter().filter_map(|u| u.fd.as_ref()) {
            set_nonblocking(fd)?;
        }
        for fd in self.control_hp.iter().chain(self.npl_hp.iter()) {
            set_nonblocking(fd)?;
        }
        Ok(())
    }

    /// The monitor loop: until the time limit, or until the contract has
    /// exited and a pass reads nothing more.
    pub(super) fn run(&mut self) -> io::Result<()> {
        let mut bufs = Buffers {
            packet: vec![0u8; PACKET_BUF],
            read: vec![0u8; MAX_PACKET],
            pipe: vec![0u8; 64 * 1024],
        };
        let mut handled = false;
        let start = Instant::now();
        loop {
            let now = Instant::now();
            let elapsed = now.duration_since(start);
            if timed_out(self.timeout_ms, elapsed) {
                self.observed.timed_out = true;
                return Ok(());
            }
            let exited = self.observed.status.is_some();
            let holding = !exited && self.hold_peers(elapsed);
            let wait = Wait {
                // After the exit only one more read pass is needed; waiting
                // 20 ms for it (as the engine does) would change nothing the
                // contract sees.
                busy: handled || exited,
                npl_due: [
                    self.hub
                        .filter(|_| !exited)
                        .and_then(|h| h.next_due(self.index)),
                    holding.then(|| now + HOLD_CHECK),
                ]
                .into_iter()
                .flatten()
                .min(),
                timeout_ms: self.timeout_ms,
                elapsed,
            };
            let ready = self.poll(wait.duration(now))?;
            let read_any = self.read_control(&ready, &mut bufs)
                | self.read_npl(&ready, &mut bufs)
                | self.read_users(&ready, &mut bufs);
            self.drain_captures(&ready, &mut bufs);
            let mut written = false;
            if self.observed.status.is_some() {
                if !read_any {
                    return Ok(());
                }
            } else {
                match self.deliver_npl() {
                    Delivery::Stop => return Ok(()),
                    Delivery::Written => written = true,
                    Delivery::Idle => {}
                }
            }
            if self.observed.status.is_none() {
                self.observed.status = reap(self.pid, false);
            }
            handled = read_any || written;
        }
    }

    /// Whether peers' NPL messages are still held for this node's own first
    /// message. They are released once the contract waits without having
    /// sent (it is listening first, or busy with something else), or after
    /// [`HOLD_MAX`]. Checked before the pass's reads, so a message the
    /// contract sent before it went to sleep is read first.
    fn hold_peers(&self, elapsed: Duration) -> bool {
        let Some(hub) = self.hub else {
            return false;
        };
        if !hub.holds_peers(self.index) {
            return false;
        }
        if elapsed >= HOLD_MAX || is_waiting(self.pid) {
            hub.release_peers(self.index);
            return false;
        }
        true
    }

    /// Polls every open host fd for at most `wait`.
    fn poll(&self, wait: Duration) -> io::Result<Ready> {
        let mut slots = Vec::new();
        let mut pfds = Vec::new();
        let ev = PollFlags::POLLIN;
        for (i, u) in self.users.iter().enumerate() {
            if let (Some(fd), false) = (&u.fd, u.eof) {
                slots.push(Slot::User(i));
                pfds.push(PollFd::new(fd.as_fd(), ev));
            }
        }
        let o = &self.observed;
        let fds = [
            (
                Slot::Control,
                self.control_hp
                    .as_ref()
                    .filter(|_| !o.control_eof)
                    .map(AsFd::as_fd),
            ),
            (
                Slot::Npl,
                self.npl_hp.as_ref().filter(|_| !o.npl_eof).map(AsFd::as_fd),
            ),
            (Slot::Stdout, self.stdout_pipe.as_ref().map(AsFd::as_fd)),
            (Slot::Stderr, self.stderr_pipe.as_ref().map(AsFd::as_fd)),
            (Slot::Wake, self.wake.as_ref().map(AsFd::as_fd)),
            (
                Slot::Exit,
                self.pidfd
                    .as_ref()
                    .filter(|_| o.status.is_none())
                    .map(AsFd::as_fd),
            ),
        ];
        for (slot, fd) in fds {
            if let Some(fd) = fd {
                slots.push(slot);
                pfds.push(PollFd::new(fd, ev));
            }
        }
        let wait_ms = u16::try_from(wait.as_millis()).unwrap_or(u16::MAX);
        match poll(&mut pfds, wait_ms) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => return Err(to_io(e)),
        }
        let ready = slots
            .iter()
            .zip(&pfds)
            .map(|(s, p)| {
                let r = p.revents().unwrap_or(PollFlags::empty());
                let readable =
                    r.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR);
                (*s, readable, r.contains(PollFlags::POLLHUP))
            })
            .collect();
        Ok(Ready(ready))
    }

    /// Control: one packet per pass. True when a packet was read.
    fn read_control(&mut self, ready: &Ready, bufs: &mut Buffers) -> bool {
        let (Some(hup), Some(fd)) = (ready.get(Slot::Control), &self.control_hp) else {
            return false;
        };
        match read_packet(fd.as_fd(), &mut bufs.packet, hup) {
            Packet::Data(raw, real) => {
                let meaning = interpret_control(&raw);
                self.hazards.extend(control_hazards(real, &meaning));
                self.observed.control.push(ControlMessage { raw, meaning });
                true
            }
            Packet::Eof => {
                self.observed.control_eof = true;
                false
            }
            Packet::Empty | Packet::Nothing => false,
        }
    }

    /// NPL out: one packet per pass, broadcast unless over the limit (then
    /// the engine closes its NPL fd). True when a packet was read.
    fn read_npl(&mut self, ready: &Ready, bufs: &mut Buffers) -> bool {
        let (Some(hup), Some(fd)) = (ready.get(Slot::Npl), &self.npl_hp) else {
            return false;
        };
        match read_packet(fd.as_fd(), &mut bufs.packet, hup) {
            Packet::Data(data, real) => {
                if real > MAX_PACKET {
                    self.hazards
                        .push(Hazard::OversizedNplPacket { bytes: real });
                }
                self.send_npl(data);
                true
            }
            Packet::Empty => {
                self.hazards.push(Hazard::EmptyNplPacket);
                false
            }
            Packet::Eof => {
                self.observed.npl_eof = true;
                false
            }
            Packet::Nothing => false,
        }
    }

    /// One NPL packet the contract wrote, counted against `npl_output_bytes`.
    fn send_npl(&mut self, data: Vec<u8>) {
        if self.npl_budget.spend(data.len() as u64) {
            // The engine closes its NPL fd; the packet is not broadcast.
            self.npl_hp = None;
            self.observed.npl_closed_by_limit = true;
            self.hazards.push(Hazard::NplOutputLimit {
                limit: self.npl_budget.limit(),
            });
        } else {
            if let (Some(hub), false) = (self.hub, self.observer) {
                hub.broadcast(self.index, data.clone());
            }
            self.observed.npl_sent.push(data);
        }
        if let Some(hub) = self.hub {
            hub.note_sent(self.index);
        }
    }

    /// User outputs: one read of up to 128 KiB per user per pass. True when
    /// anything was read.
    fn read_users(&mut self, ready: &Ready, bufs: &mut Buffers) -> bool {
        let mut read_any = false;
        let limit = Budget::new(self.user_output_bytes);
        for (i, u) in self.users.iter_mut().enumerate() {
            if ready.get(Slot::User(i)).is_none() {
                continue;
            }
            let Some(fd) = &u.fd else { continue };
            match nix::unistd::read(fd.as_fd(), &mut bufs.read) {
                Ok(0) => u.eof = true,
                Ok(n) => {
                    read_any = true;
                    if let Some(message) = u.deframer.feed(bufs.read.get(..n).unwrap_or_default())
                        && !u.split_flagged
                    {
                        u.split_flagged = true;
                        self.hazards.push(Hazard::SplitLengthHeader {
                            user: u.name.clone(),
                            message,
                        });
                    }
                    if limit.exceeds(u.deframer.total_bytes()) {
                        u.fd = None;
                        self.hazards.push(Hazard::UserOutputLimit {
                            user: u.name.clone(),
                            limit: self.user_output_bytes,
                        });
                    }
                }
                Err(Errno::EAGAIN | Errno::EINTR) => {}
                Err(_) => u.eof = true,
            }
        }
        read_any
    }

    /// Captured stdout/stderr and the NPL wake-up socket.
    fn drain_captures(&mut self, ready: &Ready, bufs: &mut Buffers) {
        if ready.get(Slot::Stdout).is_some() {
            drain_pipe(
                &mut self.stdout_pipe,
                &mut self.observed.stdout,
                &mut bufs.pipe,
            );
        }
        if ready.get(Slot::Stderr).is_some() {
            drain_pipe(
                &mut self.stderr_pipe,
                &mut self.observed.stderr,
                &mut bufs.pipe,
            );
        }
        if let (Some(_), Some(w)) = (ready.get(Slot::Wake), &self.wake) {
            while w.recv(&mut [0u8; 64]).is_ok() {}
        }
    }

    /// NPL in: at most one incoming message per pass, as the engine does
    /// (two packets: the sender's key, then the data).
    fn deliver_npl(&mut self) -> Delivery {
        let Some(hub) = self.hub else {
            return Delivery::Idle;
        };
        let next = self
            .observed
            .pending_data
            .take()
            .map(|q| (q, true))
            .or_else(|| hub.pop_due(self.index, Instant::now()).map(|q| (q, false)));
        let Some((q, key_sent)) = next else {
            return Delivery::Idle;
        };
        if self.observed.npl_closed_by_limit {
            // hpcore writes to the fd it already closed, fails, and ends the loop.
            hub.lose(
                self.index,
                &q,
                "the engine had closed its NPL socket (npl_output_bytes)",
            );
            self.hazards.push(Hazard::NplWriteFailed);
            self.observed.npl_write_failed = true;
            return Delivery::Stop;
        }
        let Some(fd) = &self.npl_hp else {
            hub.lose(self.index, &q, "no NPL socket");
            return Delivery::Idle;
        };
        let fd = fd.as_raw_fd();
        let flags = MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL;
        let key_res = if key_sent {
            Ok(0)
        } else {
            send(fd, hub.public_key(q.from).as_bytes(), flags)
        };
        let closed = "the contract closed its NPL socket";
        match key_res {
            Err(Errno::EAGAIN) => hub.push_front(self.index, q),
            Err(_) => hub.lose(self.index, &q, closed),
            Ok(_) => match send(fd, &q.data, flags) {
                Err(Errno::EAGAIN) => self.observed.pending_data = Some(q),
                Err(_) => hub.lose(self.index, &q, closed),
                Ok(_) => {
                    self.observed.npl_received.push(NplReceived {
                        from: q.from,
                        public_key: hub.public_key(q.from).to_owned(),
                        data: q.data.to_vec(),
                    });
                    return Delivery::Written;
                }
            },
        }
        Delivery::Idle
    }

    /// Closes the host's ends, settles an undelivered message, kills the
    /// contract if it still runs, and drains the captures: the exit and usage.
    pub(super) fn close(&mut self) -> (Exit, Usage) {
        for u in &mut self.users {
            u.fd = None;
        }
        self.control_hp = None;
        self.npl_hp = None;
        if let Some(hub) = self.hub {
            if let Some(q) = self.observed.pending_data.take() {
                hub.lose(
                    self.index,
                    &q,
                    "the receiver's contract ended before delivery",
                );
            }
            hub.set_running(self.index, false);
        }
        let status = self.observed.status.take().unwrap_or_else(|| {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(self.pid),
                nix::sys::signal::Signal::SIGKILL,
            );
            reap(self.pid, true).unwrap_or((Exit::Signal(libc::SIGKILL), Usage::default()))
        });
        let mut buf = vec![0u8; 64 * 1024];
        drain_pipe(&mut self.stdout_pipe, &mut self.observed.stdout, &mut buf);
        drain_pipe(&mut self.stderr_pipe, &mut self.observed.stderr, &mut buf);
        status
    }

    /// The hazards of the exit and of unfinished frames, and the outputs per
    /// user (after [`Monitor::close`]).
    pub(super) fn finish(&mut self, exit: Exit) -> Vec<UserOutputs> {
        let o = &self.observed;
        self.hazards.extend(exit_hazard(
            o.timed_out,
            self.timeout_ms,
            exit,
            o.npl_write_failed,
        ));
        let mut outputs = Vec::new();
        for u in std::mem::take(&mut self.users) {
            let done = u.deframer.finish();
            if let Some((declared, received)) = done.incomplete {
                self.hazards.push(Hazard::IncompleteOutput {
                    user: u.name.clone(),
                    declared,
                    received,
                });
            }
            outputs.push(UserOutputs {
                user: u.name,
                public_key: u.public_key,
                messages: done.messages,
            });
        }
        outputs
    }
}
