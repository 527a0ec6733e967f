//! Descriptor hygiene: taking the engine's fds by number (checked), closing
//! the ones it leaked, and checking a socket's type before use.

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::sys::socket;

use crate::error::{Error, Result};

/// Takes ownership of an fd the engine passed, after checking that it is open,
/// so that a bad number in the arguments is an error instead of I/O on a
/// stranger's descriptor (or a double close).
/// `field` names the argument for the error message; it is only called on error.
pub(crate) fn take_fd(field: impl Fn() -> String, fd: RawFd) -> Result<OwnedFd> {
    // SAFETY: F_GETFD only queries the descriptor table; any int is allowed.
    let flags = unsafe { nix::libc::fcntl(fd, nix::libc::F_GETFD) };
    if flags < 0 {
        return Err(Error::args(
            field(),
            format!("file descriptor {fd} is not open"),
        ));
    }
    // SAFETY: the descriptor is open (checked above) and the engine hands each
    // one to the contract for exactly one purpose; `run` takes every fd once.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The process's stdin (fd 0), without `std::io::stdin()`: that handle's
/// first use allocates std's 8 KiB stdin buffer and its lock, which the one
/// read of the round's arguments does not need (it reads to EOF into its own
/// buffer) and which every empty round would pay for at start-up.
/// Only for the start of the run, before any engine fd is taken: the
/// argument checks refuse 0 for every channel but a fallback round's
/// `user_in_fd`, which is never taken (such a round has no users).
pub(crate) fn stdin_fd() -> BorrowedFd<'static> {
    // SAFETY: fd 0 is the process's stdin, which nothing in the runtime
    // closes before the round's arguments are read (see above). Were it not
    // open, the calls made on it fail with EBADF and touch nothing else.
    unsafe { BorrowedFd::borrow_raw(0) }
}

/// Reads `fd` to EOF (retrying on EINTR) into a buffer that starts at 4 KiB,
/// which holds the arguments of a round without many users in one page, and
/// is never zeroed (the kernel writes what is read into its spare capacity).
pub(crate) fn read_to_end(fd: BorrowedFd<'_>) -> std::io::Result<Vec<u8>> {
    let mut buf: Vec<u8> = Vec::with_capacity(4096);
    loop {
        if buf.len() == buf.capacity() {
            buf.reserve(buf.capacity());
        }
        let spare = buf.spare_capacity_mut();
        // SAFETY: the kernel writes at most `spare.len()` bytes into the
        // vector's spare capacity, which is valid for writes.
        let n = unsafe { nix::libc::read(fd.as_raw_fd(), spare.as_mut_ptr().cast(), spare.len()) };
        match usize::try_from(n) {
            Ok(0) => return Ok(buf),
            // SAFETY: the kernel initialised the first `n` spare bytes, and
            // `n <= spare.len()`.
            Ok(n) => unsafe { buf.set_len(buf.len() + n) },
            Err(_) => {
                let e = std::io::Error::last_os_error();
                if e.kind() != std::io::ErrorKind::Interrupted {
                    return Err(e);
                }
            }
        }
    }
}

/// Closes every open descriptor above 2 that is not in `keep` (see
/// `Contract::CLOSE_INHERITED_FDS`): `close_range` over the gaps between the
/// kept descriptors (a few system calls, however many fds the engine leaked),
/// or, on kernels without it (before 5.9), every fd listed in `/proc/self/fd`.
pub(crate) fn close_unnamed_fds(keep: &[RawFd]) {
    // Sized up front (a filtered iterator would grow it one push at a time).
    let mut kept: Vec<u32> = Vec::with_capacity(keep.len());
    kept.extend(
        keep.iter()
            .filter_map(|&fd| u32::try_from(fd).ok())
            .filter(|&fd| fd > 2),
    );
    kept.sort_unstable();
    kept.dedup();
    let mut from: u32 = 3;
    for k in kept.iter().copied().map(Some).chain([None]) {
        // The gap [from, k - 1], or [from, max] after the last kept fd.
        let to = match k {
            Some(k) if k <= from => {
                from = k.saturating_add(1);
                continue;
            }
            Some(k) => k - 1,
            None => u32::MAX,
        };
        // SAFETY: closes descriptors nothing in this process owns (this runs
        // before any fd is taken or any contract code runs); see below.
        let rc = unsafe { nix::libc::syscall(nix::libc::SYS_close_range, from, to, 0u32) };
        if rc != 0 {
            close_unnamed_fds_by_listing(keep);
            return;
        }
        match k {
            Some(k) => from = k.saturating_add(1),
            None => break,
        }
    }
}

fn close_unnamed_fds_by_listing(keep: &[RawFd]) {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return;
    };
    let open: Vec<RawFd> = dir
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    // Sorted for lookups: a round may name 10,000 user sockets.
    let mut keep = keep.to_vec();
    keep.sort_unstable();
    // The directory's own descriptor is in the list; it is closed by now, so
    // closing it again fails harmlessly with EBADF.
    for fd in open {
        if fd > 2 && keep.binary_search(&fd).is_err() {
            // SAFETY: nothing in this process owns these descriptors: they
            // were inherited from the engine and no Rust object wraps them
            // (this runs before any fd is taken or any contract code runs).
            unsafe { nix::libc::close(fd) };
        }
    }
}

/// Checks that `fd` is a socket of the given type (`SOCK_STREAM` /
/// `SOCK_SEQPACKET`), so a swapped or stale fd number fails early and clearly.
pub(crate) fn check_socket(
    field: impl Fn() -> String,
    fd: &OwnedFd,
    want: socket::SockType,
) -> Result<()> {
    match socket::getsockopt(fd, socket::sockopt::SockType) {
        Ok(t) if t == want => Ok(()),
        Ok(t) => Err(Error::args(
            field(),
            format!(
                "file descriptor {} is a {t:?} socket; expected {want:?}",
                fd.as_raw_fd()
            ),
        )),
        Err(e) => Err(Error::args(
            field(),
            format!(
                "file descriptor {} is not a socket ({e}); expected {want:?}",
                fd.as_raw_fd()
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::memfd_with;
    use nix::sys::socket::{AddressFamily, SockFlag, SockType, socketpair};
    use std::io::Write;
    use std::os::unix::net::UnixStream;

    /// `close_unnamed_fds` (the `close_range` path on Linux 5.9+) closes an fd
    /// nothing names and leaves the named ones and stdio open. It runs in a
    /// forked child: in the test process it would close the harness's fds.
    #[test]
    fn close_unnamed_fds_closes_leaked_fds_and_keeps_named_ones() {
        use std::os::fd::IntoRawFd;
        let open = || {
            std::fs::File::open("/dev/null")
                .expect("open /dev/null")
                .into_raw_fd()
        };
        let (named, leaked, named2, leaked2) = (open(), open(), open(), open());
        // SAFETY: the child only makes system calls (and one small allocation,
        // which glibc's fork handlers make safe) before _exit.
        let pid = unsafe { nix::libc::fork() };
        assert!(pid >= 0, "fork");
        if pid == 0 {
            close_unnamed_fds(&[named2, named]);
            // SAFETY: F_GETFD only queries the descriptor table.
            let is_open = |fd: RawFd| unsafe { nix::libc::fcntl(fd, nix::libc::F_GETFD) } >= 0;
            let ok = is_open(named)
                && is_open(named2)
                && !is_open(leaked)
                && !is_open(leaked2)
                && (0..=2).all(is_open);
            // SAFETY: ends the forked child without running the parent's atexit handlers.
            unsafe { nix::libc::_exit(if ok { 0 } else { 1 }) };
        }
        let mut status = 0;
        // SAFETY: waits for the child forked above.
        let waited = unsafe { nix::libc::waitpid(pid, &mut status, 0) };
        for fd in [named, leaked, named2, leaked2] {
            // SAFETY: the test opened these fds and nothing else owns them.
            unsafe { nix::libc::close(fd) };
        }
        assert_eq!(waited, pid);
        assert!(
            nix::libc::WIFEXITED(status) && nix::libc::WEXITSTATUS(status) == 0,
            "in the child, a leaked fd stayed open or a named one was closed (status {status})"
        );
    }

    fn seqpacket() -> (OwnedFd, OwnedFd) {
        socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .unwrap()
    }

    #[test]
    fn take_fd_refuses_closed_descriptors_and_checks_socket_type() {
        let e = take_fd(|| "npl_fd".into(), 987_654).unwrap_err();
        assert_eq!(
            e.to_string(),
            "round arguments: field `npl_fd`: file descriptor 987654 is not open"
        );
        let (a, _b) = seqpacket();
        let e = check_socket(|| "users.x[0]".into(), &a, SockType::Stream).unwrap_err();
        assert!(e.to_string().contains("SeqPacket"), "{e}");
        let f = memfd_with(&[]);
        let e = check_socket(|| "control_fd".into(), &f, SockType::SeqPacket).unwrap_err();
        assert!(e.to_string().contains("not a socket"), "{e}");
        let _ = UnixStream::pair().unwrap().0.write(b"");
    }
}
