//! Raw baseline: the NPL exchange. Sends `NPL_COUNT` messages of `NPL_SIZE`
//! bytes, then receives until it has heard `NPL_COUNT` from every UNL node
//! (itself included), or `NPL_TIMEOUT_MS` passed. Receiving uses blocking
//! `recv` with `SO_RCVTIMEO` (one system call per packet, no poll), the
//! timeout refreshed as the deadline approaches.

mod raw;

use std::time::{Duration, Instant};

use raw::{Args, ENGINE_READ};

fn env(k: &str, d: usize) -> usize {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(d)
}

fn main() {
    let json = raw::read_stdin();
    let args = Args::scan(&json);
    let Some(fd) = args.npl_fd else { return };
    let count = env("NPL_COUNT", 1000);
    let size = env("NPL_SIZE", 256);
    let deadline = Instant::now() + Duration::from_millis(env("NPL_TIMEOUT_MS", 10_000) as u64);
    let msg = vec![b'n'; size];
    for _ in 0..count {
        loop {
            // SAFETY: sends from a live buffer.
            let n = unsafe { libc::send(fd, msg.as_ptr().cast(), msg.len(), libc::MSG_NOSIGNAL) };
            if n >= 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                break;
            }
        }
    }
    let want = count * args.unl_count;
    let mut got = 0;
    let mut buf = vec![0u8; ENGINE_READ];
    let mut timeout_set = Duration::ZERO;
    let mut key = true;
    while got < want {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        if timeout_set.saturating_sub(left) >= Duration::from_millis(1) || timeout_set.is_zero() {
            let tv = libc::timeval {
                tv_sec: left.as_secs() as _,
                tv_usec: left.subsec_micros().max(1) as _,
            };
            // SAFETY: passes a live timeval.
            unsafe {
                libc::setsockopt(
                    fd,
                    libc::SOL_SOCKET,
                    libc::SO_RCVTIMEO,
                    (&tv as *const libc::timeval).cast(),
                    std::mem::size_of::<libc::timeval>() as _,
                )
            };
            timeout_set = left;
        }
        // SAFETY: receives into a live buffer.
        let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n == 0 {
            break;
        }
        if n < 0 {
            match std::io::Error::last_os_error().raw_os_error() {
                Some(libc::EINTR) => continue,
                Some(libc::EAGAIN) => continue,
                _ => break,
            }
        }
        if !key {
            got += 1;
        }
        key = !key;
    }
    if got < want {
        eprintln!("npl: heard {got} of {want}");
    }
}
