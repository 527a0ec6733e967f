//! Set-up of one execution: the socket pairs, the input and leaked fds, the
//! args JSON, and the contract process started the way the engine forks it.

use std::fs::OpenOptions;
use std::io::{self, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::process::{Child, ChildStdin, Command, Stdio};

use nix::libc;
use nix::sys::socket::SockType;

use super::super::args::{Args, UnlArg, UserArg};
use super::super::config::{bin_in, split_bin_args};
use super::super::frame::Deframer;
use super::super::report::{Hazard, Mode};
use super::isolate;
use super::sys::{avoid_stdio, pair};
use super::{ExecSpec, NodeExec, PIPE_CAPACITY};

/// One user's socket, host side.
pub(super) struct UserChan {
    pub(super) name: String,
    pub(super) public_key: String,
    pub(super) fd: Option<OwnedFd>,
    pub(super) eof: bool,
    pub(super) deframer: Deframer,
    pub(super) split_flagged: bool,
}

/// The fds of one execution before the fork: the contract's ends (handed to
/// the child, then closed here) and the host's.
pub(super) struct Fds {
    pub(super) users: Vec<UserChan>,
    user_fds: Vec<RawFd>,
    /// The contract's ends, open in the child without CLOEXEC.
    pub(super) contract: Vec<OwnedFd>,
    control_fd: RawFd,
    pub(super) control_hp: OwnedFd,
    npl_fd: Option<RawFd>,
    pub(super) npl_hp: Option<OwnedFd>,
    /// The input memfd's number in the child (0 in fallback rounds).
    input_fd: RawFd,
    pub(super) leaked_fds: Vec<RawFd>,
}

impl Fds {
    /// One stream pair per user, SEQPACKET pairs for control and NPL (no NPL
    /// in read requests), a dup of the input store, the files to leak.
    pub(super) fn open(spec: &ExecSpec<'_>, node: &NodeExec<'_>) -> io::Result<Fds> {
        let mut users = Vec::new();
        let mut contract = Vec::new();
        let mut user_fds = Vec::new();
        for u in spec.users {
            let (sc, hp) = pair(SockType::Stream)?;
            user_fds.push(sc.as_raw_fd());
            contract.push(sc);
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
        contract.push(control_sc);
        let mut npl_hp = None;
        let mut npl_fd = None;
        if spec.kind != Mode::ReadRequest {
            let (sc, hp) = pair(SockType::SeqPacket)?;
            npl_fd = Some(sc.as_raw_fd());
            contract.push(sc);
            npl_hp = Some(hp);
        }
        let mut input_fd = 0;
        if let Some(store) = node.inputs {
            // The engine hands over a dup of its live input store.
            let dup = store.try_clone()?;
            input_fd = dup.as_raw_fd();
            contract.push(dup);
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
            contract.push(fd);
        }
        Ok(Fds {
            users,
            user_fds,
            contract,
            control_fd,
            control_hp,
            npl_fd,
            npl_hp,
            input_fd,
            leaked_fds,
        })
    }
}

/// The args JSON this node's contract reads on stdin, after the test's
/// rewrite, and the hazard of a JSON too large for the pipe.
pub(super) fn args_json(
    spec: &ExecSpec<'_>,
    node: &NodeExec<'_>,
    fds: &Fds,
) -> (String, Option<Hazard>) {
    let user_args: Vec<UserArg<'_>> = spec
        .users
        .iter()
        .zip(&fds.user_fds)
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
    let mut json = Args {
        variant: spec.variant,
        kind: spec.kind,
        contract_id: spec.contract_id,
        public_key: node.public_key,
        private_key: node.private_key,
        timestamp: spec.timestamp,
        lcl_seq_no: spec.lcl_seq_no,
        lcl_hash: spec.lcl_hash,
        npl_fd: fds.npl_fd,
        non_consensus_rounds: spec.non_consensus_rounds,
        control_fd: fds.control_fd,
        user_in_fd: fds.input_fd,
        users: &user_args,
        unl: &unl_args,
    }
    .to_json();
    if let Some(map) = spec.map_args {
        json = map(node.index, &json);
    }
    let hazard =
        (json.len() > PIPE_CAPACITY).then_some(Hazard::ArgsExceedPipe { bytes: json.len() });
    (json, hazard)
}

/// Stdin for the child: a pipe, or (`args_via_file`) a rewound memfd holding
/// the whole JSON, shared with the child as fd 0 (nothing else moves its offset).
fn stdin_for(spec: &ExecSpec<'_>, args_json: &str) -> io::Result<Stdio> {
    if !spec.args_via_file {
        return Ok(Stdio::piped());
    }
    let fd = nix::sys::memfd::memfd_create(c"args", nix::sys::memfd::MFdFlags::MFD_CLOEXEC)
        .map_err(io::Error::from)?;
    let mut f = std::fs::File::from(fd);
    f.write_all(args_json.as_bytes())?;
    io::Seek::rewind(&mut f)?;
    Ok(Stdio::from(f))
}

/// The command the engine runs: `bin_path` in the node's directory with
/// `bin_args`, only the configured environment, the node's directory as
/// working directory, the contract's fds inherited and the rlimits set.
pub(super) fn command(
    spec: &ExecSpec<'_>,
    node: &NodeExec<'_>,
    fds: &Fds,
    args_json: &str,
) -> io::Result<Command> {
    let mut cmd = Command::new(node_bin(spec, node));
    cmd.args(split_bin_args(&spec.config.bin_args))
        .env_clear()
        .envs(&spec.config.environment)
        .current_dir(&node.workdir)
        .stdin(stdin_for(spec, args_json)?)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if node.host.shell_pwd
        && spec.kind != Mode::ReadRequest
        && !spec.config.environment.contains_key("PWD")
    {
        // What the shell sets: the working directory as getcwd gives it.
        let pwd = std::fs::canonicalize(&node.workdir).unwrap_or_else(|_| node.workdir.clone());
        cmd.env("PWD", pwd);
    }
    let keep: Vec<RawFd> = fds.contract.iter().map(AsRawFd::as_raw_fd).collect();
    let seek_fd = node.inputs.map(|_| fds.input_fd);
    let limits = &spec.config.round_limits;
    let rlimits = [
        limits.proc_cpu_seconds,
        limits.proc_mem_bytes,
        limits.proc_ofd_count,
    ];
    let cpus = node.host.cpus.as_deref().map(isolate::cpu_set);
    let ns = node.host.ns.clone();
    // SAFETY: the closure runs in the forked child before exec, where only
    // async-signal-safe calls are allowed. It calls close_range, fcntl,
    // lseek, setrlimit, sched_setaffinity, unshare, open, write, close,
    // sethostname and mount (all async-signal-safe system calls), reads data
    // captured before the fork and allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            // Before the rlimits: a low RLIMIT_NOFILE must not stop the
            // namespace set-up from opening its files.
            if let Some(set) = &cpus {
                isolate::pin(set)?;
            }
            if let Some(ns) = &ns {
                isolate::enter(ns)?;
            }
            in_child(&keep, seek_fd, rlimits)
        });
    }
    Ok(cmd)
}

/// The binary this node executes: its own copy when the configuration names
/// the cluster's binary, otherwise `bin_path` in the node's directory.
pub(super) fn node_bin(spec: &ExecSpec<'_>, node: &NodeExec<'_>) -> std::path::PathBuf {
    match &node.host.bin {
        Some(copy) if spec.cluster_bin == Some(spec.config.bin_path.as_str()) => copy.clone(),
        _ => bin_in(&spec.config.bin_path, &node.workdir),
    }
}

/// The child's side of the fork, before exec (async-signal-safe calls only).
/// `[cpu, data, nofile]` are the rlimits to set (0: leave alone).
fn in_child(
    keep: &[RawFd],
    seek_fd: Option<RawFd>,
    [cpu, data, nofile]: [u64; 3],
) -> io::Result<()> {
    // Whatever the simulator itself inherited without CLOEXEC (a jobserver
    // pipe, a test harness's files) must not reach the contract: mark every
    // fd above stdio close-on-exec. Failure (a kernel before 5.11) only means
    // such fds leak.
    const CLOSE_RANGE_CLOEXEC: libc::c_uint = 4;
    // SAFETY: close_range takes plain integers and touches only fd flags.
    unsafe {
        libc::syscall(
            libc::SYS_close_range,
            3 as libc::c_uint,
            libc::c_uint::MAX,
            CLOSE_RANGE_CLOEXEC,
        );
    }
    for &fd in keep {
        // The contract must see its fds open and without CLOEXEC, as after
        // the engine's fork.
        // SAFETY: fcntl on an fd number with plain integer arguments.
        if unsafe { libc::fcntl(fd, libc::F_SETFD, 0) } == -1 {
            return Err(io::Error::last_os_error());
        }
    }
    if let Some(fd) = seek_fd {
        // The engine resets the shared offset of the input memfd.
        // SAFETY: lseek on an fd number with plain integer arguments.
        unsafe { libc::lseek(fd, 0, libc::SEEK_SET) };
    }
    let rlimits = [
        (libc::RLIMIT_CPU, cpu),
        (libc::RLIMIT_DATA, data),
        (libc::RLIMIT_NOFILE, nofile),
    ];
    for (resource, value) in rlimits {
        if value > 0 {
            let lim = libc::rlimit {
                rlim_cur: value as libc::rlim_t,
                rlim_max: value as libc::rlim_t,
            };
            // SAFETY: lim is a valid rlimit that outlives the call.
            if unsafe { libc::setrlimit(resource, &lim) } == -1 {
                return Err(io::Error::last_os_error());
            }
        }
    }
    Ok(())
}

/// A pidfd that turns readable when the contract exits, so the monitor
/// notices the exit at once instead of at its next 20 ms poll (the engine's
/// latency, which says nothing about the contract). `None` without
/// pidfd_open (Linux < 5.3): the monitor then polls.
pub(super) fn pidfd(pid: libc::pid_t) -> Option<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1.
    match unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } {
        fd if fd >= 0 => i32::try_from(fd).ok().map(|fd| {
            // SAFETY: the kernel just returned this fd; nothing else owns it.
            unsafe { OwnedFd::from_raw_fd(fd) }
        }),
        _ => None,
    }
}

/// Writes the args as the engine does before exec: small args fit the pipe
/// at once, large ones go through a thread so the simulator cannot deadlock.
pub(super) fn write_args(child: &mut Child, args_json: &str) {
    let Some(mut stdin): Option<ChildStdin> = child.stdin.take() else {
        return;
    };
    let bytes = args_json.as_bytes().to_vec();
    if bytes.len() <= PIPE_CAPACITY {
        // EPIPE (the contract closed stdin early) is the contract's business.
        let _ = stdin.write_all(&bytes);
    } else {
        std::thread::spawn(move || {
            let _ = stdin.write_all(&bytes);
        });
    }
}
