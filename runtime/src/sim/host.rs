//! One contract execution on one node, done the way hpcore's `sc.cpp` does it.
//!
//! Set-up: one SOCK_STREAM socketpair per user, SOCK_SEQPACKET pairs for
//! control and NPL (no NPL in read requests), a duplicate of the node's input
//! memfd (fd 0 in fallback rounds), the args JSON on a stdin pipe, only the
//! configured environment, `bin_path` (relative to the state directory) with
//! `bin_args` split on spaces, the state directory as working directory, and
//! the configured rlimits.
//!
//! The monitor loop mirrors `contract_monitor_loop`: poll (20 ms, or 0 right
//! after traffic), read at most one control packet, one NPL packet and one
//! 128 KiB chunk per user per pass, write at most one incoming NPL message
//! (two packets: sender key, then data) while the contract runs, stop once the
//! contract has exited and a pass reads nothing, SIGKILL on timeout. Output
//! limits close the host's end of the socket, as the engine does.
//!
//! Deliberate differences, all in the simulator's favour and none visible to
//! the contract: host fds are non-blocking (a full NPL socket delays the
//! message instead of blocking the loop), fds at EOF leave the poll set (the
//! engine spins on them), stdout/stderr are captured for the report, and a
//! wake-up socket replaces the engine's 20 ms polling for NPL arrivals.

use std::fs::OpenOptions;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::UnixDatagram;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::libc;
use nix::poll::{PollFd, PollFlags, poll};
use nix::sys::socket::{AddressFamily, MsgFlags, SockFlag, SockType, recv, send, socketpair};

use super::args::{Args, UnlArg, UserArg};
use super::config::{Variant, bin_in, split_bin_args};
use super::frame::Deframer;
use super::npl::{NplHub, Queued};
use super::report::{
    ControlMeaning, ControlMessage, Exit, Hazard, Mode, NodeReport, NplReceived, PostExec,
    PostExecOutcome, Usage, UserOutputs,
};
use crate::config::PatchConfig;
use crate::wire::MAX_PACKET;

/// A pipe's default capacity on Linux: args JSON beyond it deadlocks the engine.
pub(crate) const PIPE_CAPACITY: usize = 64 * 1024;
/// The engine's idle poll interval.
const POLL_MS: u64 = 20;
/// Cap on captured stdout/stderr per execution, so a chatty contract cannot
/// exhaust the simulator's memory.
const CAPTURE_LIMIT: usize = 8 * 1024 * 1024;
/// Receive buffer for SEQPACKET reads: larger than any packet a default
/// socket can carry, so oversized packets can be measured before they are
/// cut to the engine's 128 KiB.
const PACKET_BUF: usize = 1024 * 1024;

/// A user taking part in the execution, with input offsets into the memfd.
pub(crate) struct RunUser {
    pub(crate) name: String,
    pub(crate) public_key: String,
    pub(crate) inputs: Vec<(u64, u64)>,
}

/// A UNL entry as handed to the contract.
pub(crate) struct RunUnl {
    pub(crate) public_key: String,
    pub(crate) active_on: u64,
    pub(crate) lcl_seq_no: u64,
    pub(crate) lcl_hash: String,
}

/// Rewrites the args JSON of one node before it is written (malformed-argument tests).
pub type ArgsMap = dyn Fn(usize, &str) -> String + Send + Sync;

/// Everything one execution needs, shared by all nodes of a round.
pub(crate) struct ExecSpec<'a> {
    /// The configuration in force: `bin_path`, `bin_args`, `environment`,
    /// `round_limits` and (fallback time limit) `consensus.roundtime` apply.
    pub(crate) config: &'a PatchConfig,
    pub(crate) variant: Variant,
    pub(crate) kind: Mode,
    pub(crate) contract_id: &'a str,
    pub(crate) timestamp: u64,
    pub(crate) lcl_seq_no: u64,
    pub(crate) lcl_hash: &'a str,
    pub(crate) non_consensus_rounds: u64,
    pub(crate) users: &'a [RunUser],
    pub(crate) unl: &'a [RunUnl],
    pub(crate) map_args: Option<&'a ArgsMap>,
    pub(crate) leak_files: &'a [PathBuf],
    /// Stdin is a memfd holding the whole args JSON instead of a pipe
    /// (`Cluster::args_via_file`).
    pub(crate) args_via_file: bool,
}

/// The node-specific part of one execution.
pub(crate) struct NodeExec<'a> {
    pub(crate) index: usize,
    pub(crate) public_key: &'a str,
    pub(crate) private_key: &'a str,
    pub(crate) observer: bool,
    pub(crate) workdir: PathBuf,
    /// The input store memfd (`None` in fallback rounds, where `user_in_fd` is 0).
    pub(crate) inputs: Option<&'a OwnedFd>,
    pub(crate) start_delay: Duration,
    /// Start only once the other nodes sent this many NPL packets (before
    /// `start_delay`).
    pub(crate) start_after_npl: Option<usize>,
    /// NPL routing and this node's wake-up socket (absent in read requests).
    pub(crate) npl: Option<(&'a NplHub, UnixDatagram)>,
}

struct UserChan {
    name: String,
    public_key: String,
    fd: Option<OwnedFd>,
    eof: bool,
    deframer: Deframer,
    split_flagged: bool,
}

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

fn set_nonblocking(fd: impl AsFd) -> io::Result<()> {
    let flags = fcntl(fd.as_fd(), FcntlArg::F_GETFL)?;
    fcntl(
        fd.as_fd(),
        FcntlArg::F_SETFL(OFlag::from_bits_retain(flags) | OFlag::O_NONBLOCK),
    )?;
    Ok(())
}

fn pair(ty: SockType) -> io::Result<(OwnedFd, OwnedFd)> {
    // CLOEXEC on both ends: other nodes' contracts are spawned concurrently and
    // must not inherit these. The child clears the flag on its own ends only.
    let (sc, hp) = socketpair(AddressFamily::Unix, ty, None, SockFlag::SOCK_CLOEXEC)?;
    Ok((avoid_stdio(sc)?, hp))
}

/// Moves an fd numbered 0–2 (possible when the simulator runs with closed
/// stdio) above 2, so the child's stdio set-up cannot overwrite it.
fn avoid_stdio(fd: OwnedFd) -> io::Result<OwnedFd> {
    if fd.as_raw_fd() > 2 {
        Ok(fd)
    } else {
        fd.try_clone()
    }
}

fn to_io(e: Errno) -> io::Error {
    io::Error::from_raw_os_error(e as i32)
}

/// Result of one SEQPACKET read.
enum Packet {
    /// The bytes (at most 128 KiB) and the packet's real size.
    Data(Vec<u8>, usize),
    Empty,
    Eof,
    Nothing,
}

fn read_packet(fd: RawFd, buf: &mut [u8], hup: bool) -> Packet {
    // MSG_TRUNC makes AF_UNIX report the packet's real length even when it
    // is longer than the buffer.
    match recv(fd, buf, MsgFlags::MSG_TRUNC | MsgFlags::MSG_DONTWAIT) {
        Ok(0) if hup => Packet::Eof,
        Ok(0) => Packet::Empty,
        Ok(n) => Packet::Data(buf.get(..n.min(MAX_PACKET)).unwrap_or(buf).to_vec(), n),
        Err(Errno::EAGAIN | Errno::EINTR) => Packet::Nothing,
        Err(_) => Packet::Eof,
    }
}

/// Reads what is available from a capture pipe; returns false at EOF.
fn drain_pipe(fd: &mut Option<std::fs::File>, out: &mut Vec<u8>, buf: &mut [u8]) -> bool {
    let Some(f) = fd else { return false };
    for _ in 0..16 {
        match f.read(buf) {
            Ok(0) => {
                *fd = None;
                return false;
            }
            Ok(n) => {
                let room = CAPTURE_LIMIT.saturating_sub(out.len());
                out.extend_from_slice(buf.get(..n.min(room)).unwrap_or_default());
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return true,
        }
    }
    true
}

/// How the engine reads a control packet (`sc.cpp handle_control_msg`).
fn interpret_control(raw: &[u8]) -> ControlMeaning {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(raw) else {
        return ControlMeaning::Ignored("not valid JSON".into());
    };
    let Some(ty) = v.get("type").and_then(|t| t.as_str()) else {
        return ControlMeaning::Ignored("no string `type`".into());
    };
    if ty != "peer_changeset" {
        return ControlMeaning::Ignored(format!(
            "unknown type `{ty}` (the engine handles only peer_changeset)"
        ));
    }
    fn peers(v: &serde_json::Value) -> Option<Vec<String>> {
        v.as_array()?
            .iter()
            .map(|p| {
                let s = p.as_str()?;
                let (host, port) = s.split_once(':')?;
                let ok = !host.is_empty()
                    && !port.contains(':')
                    && port.parse::<u16>().is_ok_and(|p| p > 0);
                ok.then(|| s.to_owned())
            })
            .collect()
    }
    let Some(add) = v.get("add").and_then(peers) else {
        return ControlMeaning::Ignored(
            "peer_changeset needs `add`: an array of \"host:port\"".into(),
        );
    };
    let remove = match v.get("remove") {
        Some(serde_json::Value::String(s)) if s == "*" => None,
        Some(r) => match peers(r) {
            Some(list) => Some(list),
            None => {
                return ControlMeaning::Ignored(
                    "peer_changeset needs `remove`: an array of \"host:port\" or \"*\"".into(),
                );
            }
        },
        None => return ControlMeaning::Ignored("peer_changeset without `remove`".into()),
    };
    ControlMeaning::PeerChangeset { add, remove }
}

fn reap(pid: libc::pid_t, block: bool) -> Option<(Exit, Usage)> {
    let mut status: libc::c_int = 0;
    // SAFETY: an all-zero rusage is a valid value of this plain C struct.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: status and ru are valid, writable, and outlive the call.
        let r = unsafe {
            libc::wait4(
                pid,
                &mut status,
                if block { 0 } else { libc::WNOHANG },
                &mut ru,
            )
        };
        if r == 0 {
            return None;
        }
        if r < 0 {
            if Errno::last() == Errno::EINTR {
                continue;
            }
            // Nothing to wait for (ECHILD): treat as gone without a status.
            return Some((Exit::Signal(libc::SIGKILL), Usage::default()));
        }
        break;
    }
    let exit = if libc::WIFEXITED(status) {
        Exit::Code(libc::WEXITSTATUS(status))
    } else if libc::WIFSIGNALED(status) {
        Exit::Signal(libc::WTERMSIG(status))
    } else {
        return None;
    };
    let tv = |t: libc::timeval| {
        Duration::from_secs(u64::try_from(t.tv_sec).unwrap_or(0))
            + Duration::from_micros(u64::try_from(t.tv_usec).unwrap_or(0))
    };
    let usage = Usage {
        user_cpu: tv(ru.ru_utime),
        sys_cpu: tv(ru.ru_stime),
        max_rss_kib: u64::try_from(ru.ru_maxrss).unwrap_or(0),
    };
    Some((exit, usage))
}

/// Marks node `.1` as ended in the NPL hub when dropped.
struct EndedOnDrop<'a>(Option<&'a NplHub>, usize);

impl Drop for EndedOnDrop<'_> {
    fn drop(&mut self) {
        if let Some(hub) = self.0 {
            hub.set_running(self.1, false);
        }
    }
}

/// Runs the contract once on one node and reports what it did. Errors are
/// the simulator's own (fds, files), never the contract's.
pub(crate) fn execute(spec: &ExecSpec<'_>, node: NodeExec<'_>) -> io::Result<NodeReport> {
    // However this returns (an error, a panic), the node counts as ended, so
    // that nodes held back by `start_after_npl` never wait for it forever.
    let _ended = EndedOnDrop(node.npl.as_ref().map(|(hub, _)| *hub), node.index);
    if let (Some(messages), Some((hub, _))) = (node.start_after_npl, &node.npl) {
        hub.wait_for_sent(node.index, messages);
    }
    if !node.start_delay.is_zero() {
        std::thread::sleep(node.start_delay);
    }
    let kind = spec.kind;
    let limits = &spec.config.round_limits;
    let mut hazards = Vec::new();

    let mut users = Vec::new();
    let mut contract_fds: Vec<OwnedFd> = Vec::new();
    let mut user_fds = Vec::new();
    for u in spec.users {
        let (sc, hp) = pair(SockType::Stream)?;
        user_fds.push(sc.as_raw_fd());
        contract_fds.push(sc);
        users.push(UserChan {
            name: u.name.clone(),
            public_key: u.public_key.clone(),
            fd: Some(hp),
            eof: false,
            deframer: Deframer::default(),
            split_flagged: false,
        });
    }
    let (control_sc, control_hp) = pair(SockType::SeqPacket)?;
    let control_fd = control_sc.as_raw_fd();
    contract_fds.push(control_sc);
    let mut npl_hp = None;
    let mut npl_fd = None;
    if kind != Mode::ReadRequest {
        let (sc, hp) = pair(SockType::SeqPacket)?;
        npl_fd = Some(sc.as_raw_fd());
        contract_fds.push(sc);
        npl_hp = Some(hp);
    }
    let mut input_fd = 0;
    if let Some(store) = node.inputs {
        // The engine hands over a dup of its live input store.
        let dup = store.try_clone()?;
        input_fd = dup.as_raw_fd();
        contract_fds.push(dup);
    }
    let mut leaked_fds = Vec::new();
    for path in spec.leak_files {
        let f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .custom_flags(libc::O_CLOEXEC)
            .open(path)?;
        let fd = avoid_stdio(OwnedFd::from(f))?;
        leaked_fds.push(fd.as_raw_fd());
        contract_fds.push(fd);
    }

    let user_args: Vec<UserArg<'_>> = spec
        .users
        .iter()
        .zip(&user_fds)
        .map(|(u, fd)| UserArg {
            public_key: &u.public_key,
            out_fd: *fd,
            inputs: &u.inputs,
        })
        .collect();
    let unl_args: Vec<UnlArg<'_>> = spec
        .unl
        .iter()
        .map(|n| UnlArg {
            public_key: &n.public_key,
            active_on: n.active_on,
            lcl_seq_no: n.lcl_seq_no,
            lcl_hash: &n.lcl_hash,
        })
        .collect();
    let mut args_json = Args {
        variant: spec.variant,
        kind,
        contract_id: spec.contract_id,
        public_key: node.public_key,
        private_key: node.private_key,
        timestamp: spec.timestamp,
        lcl_seq_no: spec.lcl_seq_no,
        lcl_hash: spec.lcl_hash,
        npl_fd,
        non_consensus_rounds: spec.non_consensus_rounds,
        control_fd,
        user_in_fd: input_fd,
        users: &user_args,
        unl: &unl_args,
    }
    .to_json();
    if let Some(map) = spec.map_args {
        args_json = map(node.index, &args_json);
    }
    if args_json.len() > PIPE_CAPACITY {
        hazards.push(Hazard::ArgsExceedPipe {
            bytes: args_json.len(),
        });
    }

    // Args as a regular file: the whole JSON in a memfd, rewound; the child
    // gets it as fd 0 (a dup sharing the offset, which nothing else moves).
    let stdin = if spec.args_via_file {
        let fd = nix::sys::memfd::memfd_create(c"args", nix::sys::memfd::MFdFlags::MFD_CLOEXEC)
            .map_err(io::Error::from)?;
        let mut f = std::fs::File::from(fd);
        f.write_all(args_json.as_bytes())?;
        io::Seek::rewind(&mut f)?;
        Stdio::from(f)
    } else {
        Stdio::piped()
    };

    let bin = bin_in(&spec.config.bin_path, &node.workdir);
    let mut cmd = Command::new(&bin);
    cmd.args(split_bin_args(&spec.config.bin_args))
        .env_clear()
        .envs(&spec.config.environment)
        .current_dir(&node.workdir)
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let keep: Vec<RawFd> = contract_fds.iter().map(AsRawFd::as_raw_fd).collect();
    let seek_fd = node.inputs.map(|_| input_fd);
    let rlimits = [
        (libc::RLIMIT_CPU, limits.proc_cpu_seconds),
        (libc::RLIMIT_DATA, limits.proc_mem_bytes),
        (libc::RLIMIT_NOFILE, limits.proc_ofd_count),
    ];
    // SAFETY: the closure runs in the forked child before exec, where only
    // async-signal-safe calls are allowed. It calls close_range, fcntl, lseek
    // and setrlimit (all async-signal-safe system calls), reads data captured before the fork
    // and allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            // Whatever the simulator itself inherited without CLOEXEC (a
            // jobserver pipe, a test harness's files) must not reach the
            // contract: mark every fd above stdio close-on-exec. Failure
            // (a kernel before 5.11) only means such fds leak.
            const CLOSE_RANGE_CLOEXEC: libc::c_uint = 4;
            libc::syscall(
                libc::SYS_close_range,
                3 as libc::c_uint,
                libc::c_uint::MAX,
                CLOSE_RANGE_CLOEXEC,
            );
            for &fd in &keep {
                // The contract must see its fds open and without CLOEXEC, as
                // after the engine's fork.
                if libc::fcntl(fd, libc::F_SETFD, 0) == -1 {
                    return Err(io::Error::last_os_error());
                }
            }
            if let Some(fd) = seek_fd {
                // The engine resets the shared offset of the input memfd.
                libc::lseek(fd, 0, libc::SEEK_SET);
            }
            for (resource, value) in rlimits {
                if value > 0 {
                    let lim = libc::rlimit {
                        rlim_cur: value as libc::rlim_t,
                        rlim_max: value as libc::rlim_t,
                    };
                    if libc::setrlimit(resource, &lim) == -1 {
                        return Err(io::Error::last_os_error());
                    }
                }
            }
            Ok(())
        });
    }

    let who = (node.index, node.public_key, node.observer);
    let (hub, wake) = match node.npl {
        Some((hub, wake)) => (Some(hub), Some(wake)),
        None => (None, None),
    };
    // The engine's execution context (which accepts NPL) exists from just
    // before the fork; messages arriving now are queued for the contract.
    if let Some(hub) = hub {
        hub.set_running(node.index, true);
    }
    let spawned_at = Instant::now();
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => {
            if let Some(hub) = hub {
                hub.set_running(node.index, false);
            }
            return Ok(NodeReport {
                stderr: format!("simulator: cannot start {}: {e}", bin.display()).into_bytes(),
                ..blank_report(who, Exit::NotStarted, hazards, args_json, leaked_fds)
            });
        }
    };
    // The contract's ends now live in the child only.
    drop(contract_fds);
    // A pid always fits pid_t; refusing beats wait4(0), which would reap any child.
    let pid =
        libc::pid_t::try_from(child.id()).map_err(|_| io::Error::other("pid out of range"))?;
    // A pidfd turns readable when the contract exits, so the loop notices the
    // exit at once instead of at its next 20 ms poll (the engine's latency,
    // which says nothing about the contract). Without pidfd_open (Linux < 5.3)
    // the loop falls back to polling.
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    let pidfd = match unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } {
        fd if fd >= 0 => i32::try_from(fd).ok().map(|fd| {
            // SAFETY: the kernel just returned this fd; nothing else owns it.
            unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) }
        }),
        _ => None,
    };

    // The engine writes the args before exec; small args fit the pipe at
    // once, large ones go through a thread so the simulator cannot deadlock.
    if let Some(mut stdin) = child.stdin.take() {
        let bytes = args_json.clone().into_bytes();
        if bytes.len() <= PIPE_CAPACITY {
            // EPIPE (the contract closed stdin early) is the contract's business.
            let _ = stdin.write_all(&bytes);
        } else {
            std::thread::spawn(move || {
                let _ = stdin.write_all(&bytes);
            });
        }
    }
    let mut stdout_pipe = child
        .stdout
        .take()
        .map(|p| std::fs::File::from(OwnedFd::from(p)));
    let mut stderr_pipe = child
        .stderr
        .take()
        .map(|p| std::fs::File::from(OwnedFd::from(p)));
    for f in stdout_pipe.iter().chain(stderr_pipe.iter()) {
        set_nonblocking(f)?;
    }
    for u in &users {
        if let Some(fd) = &u.fd {
            set_nonblocking(fd)?;
        }
    }
    set_nonblocking(&control_hp)?;
    if let Some(fd) = &npl_hp {
        set_nonblocking(fd)?;
    }

    let timeout_ms = match kind {
        // hpcore fallback-hpsh: end_before = round start + roundtime - 100 ms.
        Mode::ConsensusFallback => u64::from(spec.config.consensus.roundtime)
            .saturating_sub(100)
            .max(1),
        _ => limits.exec_timeout,
    };
    let control_hp = Some(control_hp);
    let mut control_eof = false;
    let mut npl_eof = false;
    let mut npl_closed_by_limit = false;
    let mut npl_total: u64 = 0;
    let mut pending_data: Option<Queued> = None;
    let mut control = Vec::new();
    let mut npl_sent = Vec::new();
    let mut npl_received = Vec::new();
    let mut stdout = Vec::new();
    let mut stderr = Vec::new();
    let mut status: Option<(Exit, Usage)> = None;
    let mut timed_out = false;
    let mut npl_write_failed = false;
    let mut packet_buf = vec![0u8; PACKET_BUF];
    let mut read_buf = vec![0u8; MAX_PACKET];
    let mut pipe_buf = vec![0u8; 64 * 1024];
    let mut handled = false;
    let start = Instant::now();

    loop {
        let now = Instant::now();
        let elapsed = now.duration_since(start);
        if timeout_ms > 0 && elapsed > Duration::from_millis(timeout_ms) {
            timed_out = true;
            break;
        }
        // After the exit only one more read pass is needed; waiting 20 ms for
        // it (as the engine does) would change nothing the contract sees.
        let mut wait = if handled || status.is_some() {
            Duration::ZERO
        } else {
            Duration::from_millis(POLL_MS)
        };
        if status.is_none()
            && let Some(due) = hub.and_then(|h| h.next_due(node.index))
        {
            wait = wait.min(due.saturating_duration_since(now));
        }
        if timeout_ms > 0 {
            wait = wait.min(
                Duration::from_millis(timeout_ms).saturating_sub(elapsed)
                    + Duration::from_millis(1),
            );
        }

        let mut slots = Vec::new();
        let mut pfds = Vec::new();
        let ev = PollFlags::POLLIN;
        for (i, u) in users.iter().enumerate() {
            if let (Some(fd), false) = (&u.fd, u.eof) {
                slots.push(Slot::User(i));
                pfds.push(PollFd::new(fd.as_fd(), ev));
            }
        }
        if let (Some(fd), false) = (&control_hp, control_eof) {
            slots.push(Slot::Control);
            pfds.push(PollFd::new(fd.as_fd(), ev));
        }
        if let (Some(fd), false) = (&npl_hp, npl_eof) {
            slots.push(Slot::Npl);
            pfds.push(PollFd::new(fd.as_fd(), ev));
        }
        if let Some(f) = &stdout_pipe {
            slots.push(Slot::Stdout);
            pfds.push(PollFd::new(f.as_fd(), ev));
        }
        if let Some(f) = &stderr_pipe {
            slots.push(Slot::Stderr);
            pfds.push(PollFd::new(f.as_fd(), ev));
        }
        if let Some(w) = &wake {
            slots.push(Slot::Wake);
            pfds.push(PollFd::new(w.as_fd(), ev));
        }
        if let (Some(p), None) = (&pidfd, &status) {
            slots.push(Slot::Exit);
            pfds.push(PollFd::new(p.as_fd(), ev));
        }
        let wait_ms = u16::try_from(wait.as_millis()).unwrap_or(u16::MAX);
        match poll(&mut pfds, wait_ms) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => return Err(to_io(e)),
        }
        let ready: Vec<(Slot, bool, bool)> = slots
            .iter()
            .zip(&pfds)
            .map(|(s, p)| {
                let r = p.revents().unwrap_or(PollFlags::empty());
                let readable =
                    r.intersects(PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR);
                (*s, readable, r.contains(PollFlags::POLLHUP))
            })
            .collect();
        drop(pfds);
        let is_ready = |slot: Slot| {
            ready
                .iter()
                .find(|(s, ..)| *s == slot)
                .map(|&(_, r, hup)| (r, hup))
        };

        let mut read_any = false;
        // Control: one packet per pass.
        if let (Some((true, hup)), Some(fd)) = (is_ready(Slot::Control), &control_hp) {
            match read_packet(fd.as_raw_fd(), &mut packet_buf, hup) {
                Packet::Data(raw, real) => {
                    read_any = true;
                    if real > MAX_PACKET {
                        hazards.push(Hazard::OversizedControlPacket { bytes: real });
                    }
                    let meaning = interpret_control(&raw);
                    // Unknown types (e.g. the retired `contract_end`) are dropped
                    // silently by the engine too; only what it logs as broken is a hazard.
                    if let ControlMeaning::Ignored(reason) = &meaning
                        && !reason.starts_with("unknown type")
                    {
                        hazards.push(Hazard::IgnoredControlMessage {
                            reason: reason.clone(),
                        });
                    }
                    control.push(ControlMessage { raw, meaning });
                }
                Packet::Eof => control_eof = true,
                Packet::Empty | Packet::Nothing => {}
            }
        }
        // NPL: one packet per pass.
        if let (Some((true, hup)), Some(fd)) = (is_ready(Slot::Npl), &npl_hp) {
            match read_packet(fd.as_raw_fd(), &mut packet_buf, hup) {
                Packet::Data(data, real) => {
                    read_any = true;
                    if real > MAX_PACKET {
                        hazards.push(Hazard::OversizedNplPacket { bytes: real });
                    }
                    npl_total += data.len() as u64;
                    if limits.npl_output_bytes > 0 && npl_total > limits.npl_output_bytes {
                        // The engine closes its NPL fd; the packet is not broadcast.
                        npl_hp = None;
                        npl_closed_by_limit = true;
                        hazards.push(Hazard::NplOutputLimit {
                            limit: limits.npl_output_bytes,
                        });
                    } else {
                        if let (Some(hub), false) = (hub, node.observer) {
                            hub.broadcast(node.index, data.clone());
                        }
                        npl_sent.push(data);
                    }
                    if let Some(hub) = hub {
                        hub.note_sent(node.index);
                    }
                }
                Packet::Empty => hazards.push(Hazard::EmptyNplPacket),
                Packet::Eof => npl_eof = true,
                Packet::Nothing => {}
            }
        }
        // User outputs: one read of up to 128 KiB per user per pass.
        for (i, u) in users.iter_mut().enumerate() {
            let Some((true, _)) = is_ready(Slot::User(i)) else {
                continue;
            };
            let Some(fd) = &u.fd else { continue };
            match nix::unistd::read(fd.as_fd(), &mut read_buf) {
                Ok(0) => u.eof = true,
                Ok(n) => {
                    read_any = true;
                    if let Some(message) = u.deframer.feed(read_buf.get(..n).unwrap_or_default())
                        && !u.split_flagged
                    {
                        u.split_flagged = true;
                        hazards.push(Hazard::SplitLengthHeader {
                            user: u.name.clone(),
                            message,
                        });
                    }
                    if limits.user_output_bytes > 0
                        && u.deframer.total_bytes() > limits.user_output_bytes
                    {
                        u.fd = None;
                        hazards.push(Hazard::UserOutputLimit {
                            user: u.name.clone(),
                            limit: limits.user_output_bytes,
                        });
                    }
                }
                Err(Errno::EAGAIN | Errno::EINTR) => {}
                Err(_) => u.eof = true,
            }
        }
        if matches!(is_ready(Slot::Stdout), Some((true, _))) {
            drain_pipe(&mut stdout_pipe, &mut stdout, &mut pipe_buf);
        }
        if matches!(is_ready(Slot::Stderr), Some((true, _))) {
            drain_pipe(&mut stderr_pipe, &mut stderr, &mut pipe_buf);
        }
        if let (Some((true, _)), Some(w)) = (is_ready(Slot::Wake), &wake) {
            while w.recv(&mut [0u8; 64]).is_ok() {}
        }

        let mut written = false;
        if status.is_some() {
            if !read_any {
                break;
            }
        } else if let Some(hub) = hub {
            // At most one incoming message per pass, as the engine does.
            let next = pending_data
                .take()
                .map(|q| (q, true))
                .or_else(|| hub.pop_due(node.index, Instant::now()).map(|q| (q, false)));
            if let Some((q, key_sent)) = next {
                if npl_closed_by_limit {
                    // hpcore writes to the fd it already closed, fails, and ends the loop.
                    hub.lose(
                        node.index,
                        &q,
                        "the engine had closed its NPL socket (npl_output_bytes)",
                    );
                    hazards.push(Hazard::NplWriteFailed);
                    npl_write_failed = true;
                    break;
                }
                match &npl_hp {
                    Some(fd) => {
                        let fd = fd.as_raw_fd();
                        let flags = MsgFlags::MSG_DONTWAIT | MsgFlags::MSG_NOSIGNAL;
                        let key_res = if key_sent {
                            Ok(0)
                        } else {
                            send(fd, hub.public_key(q.from).as_bytes(), flags)
                        };
                        match key_res {
                            Err(Errno::EAGAIN) => hub.push_front(node.index, q),
                            Err(_) => {
                                hub.lose(node.index, &q, "the contract closed its NPL socket")
                            }
                            Ok(_) => match send(fd, &q.data, flags) {
                                Err(Errno::EAGAIN) => pending_data = Some(q),
                                Err(_) => {
                                    hub.lose(node.index, &q, "the contract closed its NPL socket")
                                }
                                Ok(_) => {
                                    written = true;
                                    npl_received.push(NplReceived {
                                        from: q.from,
                                        public_key: hub.public_key(q.from).to_owned(),
                                        data: q.data.to_vec(),
                                    });
                                }
                            },
                        }
                    }
                    None => hub.lose(node.index, &q, "no NPL socket"),
                }
            }
        }
        if status.is_none() {
            status = reap(pid, false);
        }
        handled = read_any || written;
    }
    let wall = spawned_at.elapsed();

    // Close the host's ends, then make sure the process is gone.
    for u in &mut users {
        u.fd = None;
    }
    drop(control_hp);
    drop(npl_hp);
    if let Some(hub) = hub {
        if let Some(q) = pending_data.take() {
            hub.lose(
                node.index,
                &q,
                "the receiver's contract ended before delivery",
            );
        }
        hub.set_running(node.index, false);
    }
    let (exit, usage) = match status {
        Some(s) => s,
        None => {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
            reap(pid, true).unwrap_or((Exit::Signal(libc::SIGKILL), Usage::default()))
        }
    };
    drain_pipe(&mut stdout_pipe, &mut stdout, &mut pipe_buf);
    drain_pipe(&mut stderr_pipe, &mut stderr, &mut pipe_buf);

    if timed_out {
        hazards.push(Hazard::Timeout {
            limit_ms: timeout_ms,
        });
    } else if let (Exit::Signal(signal), false) = (exit, npl_write_failed) {
        hazards.push(Hazard::KilledBySignal { signal });
    }
    let mut outputs = Vec::new();
    for u in users {
        let done = u.deframer.finish();
        if let Some((declared, received)) = done.incomplete {
            hazards.push(Hazard::IncompleteOutput {
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
    Ok(NodeReport {
        outputs,
        control,
        npl_sent,
        npl_received,
        // Filled in by the cluster once every node is done: other nodes may
        // still offer messages to this one after its contract ended.
        npl_lost: Vec::new(),
        stdout,
        stderr,
        usage,
        wall,
        ..blank_report(who, exit, hazards, args_json, leaked_fds)
    })
}

/// A node's report with what every execution has and nothing observed; the
/// cluster adds state, post_exec and patch.cfg results afterwards.
fn blank_report(
    (index, public_key, observer): (usize, &str, bool),
    exit: Exit,
    hazards: Vec<Hazard>,
    args_json: String,
    leaked_fds: Vec<RawFd>,
) -> NodeReport {
    NodeReport {
        index,
        public_key: public_key.to_owned(),
        observer,
        exit,
        outputs: Vec::new(),
        control: Vec::new(),
        npl_sent: Vec::new(),
        npl_received: Vec::new(),
        npl_lost: Vec::new(),
        stdout: Vec::new(),
        stderr: Vec::new(),
        state: None,
        post_exec: None,
        patch_cfg: None,
        patch_change: None,
        hazards,
        args_json,
        leaked_fds,
        usage: Usage::default(),
        wall: Duration::ZERO,
    }
}

/// Runs `<workdir>/post_exec.sh` as the engine does after a successful
/// consensus execution (PROTOCOL.md §1.8): argv[1] is the single string
/// `"<seq> <hash>"`, the simulator's own environment is inherited, there is
/// no timeout. Exit 0 deletes the script, 3–125 keeps it, anything else fails.
pub(crate) fn run_post_exec(workdir: &Path, lcl_seq_no: u64, lcl_hash: &str) -> Option<PostExec> {
    let script = workdir.join("post_exec.sh");
    if !script.exists() {
        return None;
    }
    // How long another thread's child may take to reach its exec.
    let give_up = Instant::now() + Duration::from_secs(10);
    let result = loop {
        let out = Command::new(&script)
            .arg0("post_exec.sh")
            .arg(format!("{lcl_seq_no} {lcl_hash}"))
            .current_dir(workdir)
            .stdin(Stdio::null())
            .output();
        // ETXTBSY: another thread of this process (e.g. a parallel test) forked
        // while the script was open for writing; it clears at that child's exec.
        match out {
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && Instant::now() < give_up => {
                std::thread::sleep(Duration::from_millis(10));
            }
            other => break other,
        }
    };
    let (exit, output) = match result {
        // hpcore's child reports the failed execv and exits 1.
        Err(e) => (
            Exit::Code(1),
            format!("post_exec.sh: execv failed: {e}\n").into_bytes(),
        ),
        Ok(out) => {
            use std::os::unix::process::ExitStatusExt;
            let exit = match (out.status.code(), out.status.signal()) {
                (Some(c), _) => Exit::Code(c),
                (None, Some(s)) => Exit::Signal(s),
                (None, None) => Exit::Code(1),
            };
            let mut output = out.stdout;
            output.extend_from_slice(&out.stderr);
            (exit, output)
        }
    };
    let outcome = match exit {
        Exit::Code(0) => PostExecOutcome::Deleted,
        Exit::Code(3..=125) => PostExecOutcome::Kept,
        _ => PostExecOutcome::Failed,
    };
    if outcome == PostExecOutcome::Deleted {
        // A failure to delete is what hpcore reports as a failed execution too,
        // but then the script is still there for the next round to show it.
        let _ = std::fs::remove_file(&script);
    }
    Some(PostExec {
        exit,
        outcome,
        output,
    })
}
