//! The system calls one execution needs: socket pairs, non-blocking fds,
//! SEQPACKET reads that measure oversized packets, capture pipes, `wait4`.

use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::libc;
use nix::poll::{PollFd, PollFlags, poll};
use nix::sys::socket::{AddressFamily, MsgFlags, SockFlag, SockType, recv, socketpair};

use super::super::report::{Exit, Usage};
use crate::wire::MAX_PACKET;

/// Cap on captured stdout/stderr per execution, so a chatty contract cannot
/// exhaust the simulator's memory.
const CAPTURE_LIMIT: usize = 8 * 1024 * 1024;

/// Sets `O_NONBLOCK` on a host-side fd.
pub(super) fn set_nonblocking(fd: impl AsFd) -> io::Result<()> {
    let flags = fcntl(fd.as_fd(), FcntlArg::F_GETFL)?;
    fcntl(
        fd.as_fd(),
        FcntlArg::F_SETFL(OFlag::from_bits_retain(flags) | OFlag::O_NONBLOCK),
    )?;
    Ok(())
}

/// A socket pair: the contract's end (above stdio), the host's end.
pub(super) fn pair(ty: SockType) -> io::Result<(OwnedFd, OwnedFd)> {
    // CLOEXEC on both ends: other nodes' contracts are spawned concurrently and
    // must not inherit these. The child clears the flag on its own ends only.
    let (sc, hp) = socketpair(AddressFamily::Unix, ty, None, SockFlag::SOCK_CLOEXEC)?;
    Ok((avoid_stdio(sc)?, hp))
}

/// Moves an fd numbered 0–2 (possible when the simulator runs with closed
/// stdio) above 2, so the child's stdio set-up cannot overwrite it.
pub(super) fn avoid_stdio(fd: OwnedFd) -> io::Result<OwnedFd> {
    if fd.as_raw_fd() > 2 {
        Ok(fd)
    } else {
        fd.try_clone()
    }
}

/// An errno as an `io::Error`.
pub(super) fn to_io(e: Errno) -> io::Error {
    io::Error::from_raw_os_error(e as i32)
}

/// Result of one SEQPACKET read.
pub(super) enum Packet {
    /// The bytes (at most 128 KiB) and the packet's real size.
    Data(Vec<u8>, usize),
    Empty,
    Eof,
    Nothing,
}

pub(super) fn read_packet(fd: BorrowedFd<'_>, buf: &mut [u8], hup: bool) -> Packet {
    // MSG_TRUNC makes AF_UNIX report the packet's real length even when it
    // is longer than the buffer.
    let flags = MsgFlags::MSG_TRUNC | MsgFlags::MSG_DONTWAIT;
    let mut got = recv(fd.as_raw_fd(), buf, flags);
    let mut closed = hup;
    if got == Err(Errno::ECONNRESET) {
        // The contract closed its end with packets of ours unread: the
        // kernel reports that once, ahead of the packets it had written
        // before, which are still queued (the report clears the error).
        // Stopping here lost a contract's last NPL message whenever it
        // exited before the host's next read.
        closed = true;
        got = recv(fd.as_raw_fd(), buf, flags);
    }
    match got {
        // A read of 0 is an empty packet or the end: the end when the peer
        // is gone, which it may have become since the poll that said
        // readable (else a contract's exit read as an empty packet).
        Ok(0) if closed || peer_gone(fd) => Packet::Eof,
        Ok(0) => Packet::Empty,
        Ok(n) => Packet::Data(buf.get(..n.min(MAX_PACKET)).unwrap_or(buf).to_vec(), n),
        Err(Errno::EAGAIN | Errno::EINTR) => Packet::Nothing,
        Err(_) => Packet::Eof,
    }
}

/// Whether the socket's peer has closed its end (POLLHUP now).
fn peer_gone(fd: BorrowedFd<'_>) -> bool {
    let mut p = [PollFd::new(fd, PollFlags::POLLIN)];
    matches!(poll(&mut p, 0u16), Ok(n) if n > 0)
        && p[0]
            .revents()
            .is_some_and(|r| r.contains(PollFlags::POLLHUP))
}

/// Reads what is available from a capture pipe; returns false at EOF.
pub(super) fn drain_pipe(
    fd: &mut Option<std::fs::File>,
    out: &mut Vec<u8>,
    buf: &mut [u8],
) -> bool {
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

/// Waits for the contract (`block`) or checks whether it exited; its exit
/// status and resource usage.
pub(super) fn reap(pid: libc::pid_t, block: bool) -> Option<(Exit, Usage)> {
    // The exited child stays a zombie until wait4, so its I/O counters can
    // still be read; once reaped, /proc/<pid> is gone.
    let written = match exited_unreaped(pid, block) {
        Some(true) => storage_write_bytes(pid),
        Some(false) => return None,
        None => 0,
    };
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
        write_bytes: written,
    };
    Some((exit, usage))
}

/// Whether the child has exited (left a zombie, not reaped: `WNOWAIT`);
/// `None` if waitid failed, and the caller's wait4 then finds out.
fn exited_unreaped(pid: libc::pid_t, block: bool) -> Option<bool> {
    let flags = libc::WEXITED | libc::WNOWAIT | if block { 0 } else { libc::WNOHANG };
    loop {
        // SAFETY: an all-zero siginfo_t is a valid value of this plain C struct.
        let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
        // SAFETY: info is valid and writable for the call; pid is our child.
        let r = unsafe { libc::waitid(libc::P_PID, pid as libc::id_t, &mut info, flags) };
        if r < 0 {
            if Errno::last() == Errno::EINTR {
                continue;
            }
            return None;
        }
        // SAFETY: waitid filled info (or left it zeroed under WNOHANG).
        return Some(unsafe { info.si_pid() } != 0);
    }
}

/// `write_bytes` of `/proc/<pid>/io`: the bytes the process caused to be
/// sent to storage (page-cache pages it dirtied, counted once per page
/// until written back); 0 where the kernel has no I/O accounting.
fn storage_write_bytes(pid: libc::pid_t) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/io"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("write_bytes:"))
                .and_then(|v| v.trim().parse().ok())
        })
        .unwrap_or(0)
}

/// Whether process `pid` is blocked waiting for something (state `S` in
/// `/proc/<pid>/stat`: in poll, a read, a sleep), as opposed to running,
/// runnable or paging in. Waiting for the end of its arguments on stdin does
/// not count: the engine writes them before the contract starts, while here
/// another node's fork may hold the pipe open a moment longer. False when
/// it cannot be read.
pub(super) fn is_waiting(pid: libc::pid_t) -> bool {
    let Ok(stat) = std::fs::read(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The state follows the command name, which is in parentheses and may
    // itself contain them: look after the last ')'.
    let after = stat.iter().rposition(|&b| b == b')').map(|i| i + 2);
    if after.and_then(|i| stat.get(i)) != Some(&b'S') {
        return false;
    }
    // "<number> <arg0> ...", or "running"; unreadable: count as waiting.
    let syscall = std::fs::read_to_string(format!("/proc/{pid}/syscall")).unwrap_or_default();
    let mut fields = syscall.split_whitespace();
    let reading_stdin =
        fields.next() == Some(&libc::SYS_read.to_string()) && fields.next() == Some("0x0");
    !reading_stdin
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};
    use std::time::{Duration, Instant};

    /// Polls `is_waiting` for up to `ms`: whether it ever said yes.
    fn ever_waiting(pid: libc::pid_t, ms: u64) -> bool {
        let end = Instant::now() + Duration::from_millis(ms);
        while Instant::now() < end {
            if is_waiting(pid) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        false
    }

    #[test]
    fn an_empty_packet_is_not_the_end_and_the_end_is_not_an_empty_packet() {
        let (host, contract) = pair(SockType::SeqPacket).unwrap();
        let mut buf = [0u8; 16];
        nix::sys::socket::send(contract.as_raw_fd(), b"", MsgFlags::empty()).unwrap();
        assert!(matches!(
            read_packet(host.as_fd(), &mut buf, false),
            Packet::Empty
        ));
        drop(contract);
        // The poll before this read saw the socket readable but not yet hung
        // up: the read of 0 is still the end.
        assert!(matches!(
            read_packet(host.as_fd(), &mut buf, false),
            Packet::Eof
        ));
    }

    #[test]
    fn a_sleeper_waits_a_reader_of_its_stdin_does_not() {
        let mut sleeper = Command::new("sleep").arg("5").spawn().unwrap();
        let mut reader = Command::new("cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .unwrap();
        let sleeping = ever_waiting(sleeper.id() as libc::pid_t, 2000);
        let reading = ever_waiting(reader.id() as libc::pid_t, 300);
        for c in [&mut sleeper, &mut reader] {
            let _ = c.kill();
            let _ = c.wait();
        }
        assert!(sleeping, "sleep(1) blocks in a sleep");
        assert!(
            !reading,
            "cat blocked on its stdin is waiting for its arguments"
        );
        assert!(!is_waiting(i32::MAX), "no such process");
    }
}
