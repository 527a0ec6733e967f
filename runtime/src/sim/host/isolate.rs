//! A node's own host, as far as one machine can give it one: the contract
//! enters a user namespace with its own UTS (host name), mount (a per-node
//! file over the kernel's boot id) and time namespace (per-node monotonic and
//! boot-time offsets), and runs on a per-node set of CPUs.
//!
//! Everything here runs in the forked child before exec, so it uses plain
//! system calls on data prepared before the fork and allocates nothing.

use std::ffi::CString;
use std::io;
use std::path::PathBuf;
use std::sync::OnceLock;

use nix::libc;

/// How one node's host differs from the others'.
#[derive(Debug, Default)]
pub(crate) struct NodeHost {
    /// The node's own copy of the contract binary, run instead of the
    /// cluster's (an absolute path in the node's directory).
    pub(crate) bin: Option<PathBuf>,
    /// This node logs its contract (`contract.log.enable` is a node's own
    /// setting), so the engine's `/bin/sh -c` adds `PWD` to the environment
    /// of its consensus executions.
    pub(crate) shell_pwd: bool,
    /// The CPUs the contract may run on (`None`: the simulator's own).
    pub(crate) cpus: Option<Vec<usize>>,
    /// The namespaces the contract enters (`None`: the simulator's own).
    pub(crate) ns: Option<Namespaces>,
}

/// What the contract's namespaces hold, as C strings ready for the child.
#[derive(Clone, Debug)]
pub(crate) struct Namespaces {
    hostname: CString,
    boot_id_file: CString,
    time_offsets: Option<CString>,
    uid_map: CString,
    gid_map: CString,
}

impl Namespaces {
    /// Namespaces with host name `hostname`, the file `boot_id_file` seen as
    /// the boot id, and (`Some`) clocks `offset_s` seconds ahead of the
    /// machine's monotonic and boot-time clocks. The simulator's own uid and
    /// gid map to themselves, so the contract owns what it owns outside.
    pub(crate) fn new(
        hostname: &str,
        boot_id_file: &std::path::Path,
        offset_s: Option<u64>,
    ) -> io::Result<Namespaces> {
        let c = |s: String| CString::new(s).map_err(io::Error::other);
        // SAFETY: geteuid and getegid cannot fail and take no arguments.
        let (uid, gid) = unsafe { (libc::geteuid(), libc::getegid()) };
        Ok(Namespaces {
            hostname: c(hostname.to_owned())?,
            boot_id_file: c(boot_id_file.to_string_lossy().into_owned())?,
            time_offsets: offset_s
                .map(|s| c(format!("monotonic {s} 0\nboottime {s} 0\n")))
                .transpose()?,
            uid_map: c(format!("{uid} {uid} 1\n"))?,
            gid_map: c(format!("{gid} {gid} 1\n"))?,
        })
    }
}

const BOOT_ID: &std::ffi::CStr = c"/proc/sys/kernel/random/boot_id";

/// Writes `data` to the file at `path` (child side: no allocation).
fn write_file(path: &std::ffi::CStr, data: &std::ffi::CStr) -> io::Result<()> {
    // SAFETY: path is a valid C string; open returns a new fd or -1.
    let fd = unsafe { libc::open(path.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    let bytes = data.to_bytes();
    // SAFETY: bytes is valid for its length; fd was just opened.
    let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
    let err = io::Error::last_os_error();
    // SAFETY: fd is ours and closed once.
    unsafe { libc::close(fd) };
    if n < 0 || n.unsigned_abs() != bytes.len() {
        return Err(err);
    }
    Ok(())
}

/// Fails with the last OS error when a system call returned -1.
fn check(ret: libc::c_int) -> io::Result<()> {
    if ret == -1 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// Enters the namespaces (child side, before exec). The time namespace
/// holds the process's children and, from exec on, the process itself.
pub(crate) fn enter(ns: &Namespaces) -> io::Result<()> {
    let mut flags = libc::CLONE_NEWUSER | libc::CLONE_NEWUTS | libc::CLONE_NEWNS;
    if ns.time_offsets.is_some() {
        flags |= libc::CLONE_NEWTIME;
    }
    // SAFETY: unshare takes flags only; the forked child is single-threaded.
    check(unsafe { libc::unshare(flags) })?;
    write_file(c"/proc/self/setgroups", c"deny")?;
    write_file(c"/proc/self/uid_map", &ns.uid_map)?;
    write_file(c"/proc/self/gid_map", &ns.gid_map)?;
    let name = ns.hostname.to_bytes();
    // SAFETY: name is valid for its length.
    check(unsafe { libc::sethostname(name.as_ptr().cast(), name.len()) })?;
    // SAFETY: mount with valid C strings or null where the call allows it.
    check(unsafe {
        libc::mount(
            std::ptr::null(),
            c"/".as_ptr(),
            std::ptr::null(),
            libc::MS_REC | libc::MS_PRIVATE,
            std::ptr::null(),
        )
    })?;
    // SAFETY: as above; a bind mount of one file over another.
    check(unsafe {
        libc::mount(
            ns.boot_id_file.as_ptr(),
            BOOT_ID.as_ptr(),
            std::ptr::null(),
            libc::MS_BIND,
            std::ptr::null(),
        )
    })?;
    if let Some(offsets) = &ns.time_offsets {
        write_file(c"/proc/self/timens_offsets", offsets)?;
    }
    Ok(())
}

/// A CPU set for `sched_setaffinity`, built before the fork.
pub(crate) fn cpu_set(cpus: &[usize]) -> libc::cpu_set_t {
    // SAFETY: cpu_set_t is plain bits; all zero is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    for &c in cpus {
        // SAFETY: CPU_SET bounds-checks against the set's size.
        unsafe { libc::CPU_SET(c, &mut set) };
    }
    set
}

/// Restricts the calling process to `set` (child side, before exec).
pub(crate) fn pin(set: &libc::cpu_set_t) -> io::Result<()> {
    // SAFETY: set is a valid cpu_set_t of the size given.
    check(unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), set) })
}

/// The CPUs the simulator may run on, in ascending order.
pub(crate) fn own_cpus() -> Vec<usize> {
    // SAFETY: as in cpu_set; sched_getaffinity fills the set it is given.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    let size = std::mem::size_of::<libc::cpu_set_t>();
    // SAFETY: set is valid for size bytes.
    if unsafe { libc::sched_getaffinity(0, size, &mut set) } != 0 {
        return Vec::new();
    }
    (0..libc::CPU_SETSIZE as usize)
        // SAFETY: c is below CPU_SETSIZE.
        .filter(|&c| unsafe { libc::CPU_ISSET(c, &set) })
        .collect()
}

/// What this machine lets the simulator do, probed once in forked children
/// that enter the namespaces as a contract would: `Err` says why not.
#[derive(Clone, Debug)]
pub(crate) struct Support {
    /// The user, UTS and mount namespaces.
    pub(crate) namespaces: Result<(), String>,
    /// A time namespace on top of them.
    pub(crate) time: Result<(), String>,
}

/// [`Support`] on this machine (`boot_id_file`: any readable file).
pub(crate) fn support(boot_id_file: &std::path::Path) -> Support {
    static PROBE: OnceLock<Support> = OnceLock::new();
    PROBE
        .get_or_init(|| {
            let try_ns = |offset| {
                Namespaces::new("probe", boot_id_file, offset)
                    .map_err(|e| format!("cannot prepare the probe: {e}"))
                    .and_then(|ns| probe(&ns))
            };
            let namespaces = try_ns(None);
            let time = match &namespaces {
                Ok(()) => try_ns(Some(1)),
                Err(_) => Err("no user namespace to hold it".into()),
            };
            Support { namespaces, time }
        })
        .clone()
}

fn probe(ns: &Namespaces) -> Result<(), String> {
    // SAFETY: the child only calls async-signal-safe system calls (unshare,
    // open, write, close, sethostname, mount) on data prepared before the
    // fork, then _exit; it never returns into Rust code of the parent.
    let pid = unsafe { libc::fork() };
    if pid < 0 {
        return Err(format!("fork failed: {}", io::Error::last_os_error()));
    }
    if pid == 0 {
        let code = match enter(ns) {
            Ok(()) => 0,
            Err(e) => e.raw_os_error().unwrap_or(255).clamp(1, 255),
        };
        // SAFETY: ends the child without running the parent's destructors.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: waits for the child just forked; status is a valid pointer.
    if unsafe { libc::waitpid(pid, &mut status, 0) } != pid {
        return Err(format!("waitpid failed: {}", io::Error::last_os_error()));
    }
    match libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status)) {
        Some(0) => Ok(()),
        Some(errno) => Err(format!(
            "unshare, hostname or mount: {}",
            io::Error::from_raw_os_error(errno)
        )),
        None => Err("the namespace probe was killed".into()),
    }
}
