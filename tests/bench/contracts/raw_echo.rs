//! Raw baseline: echo every input back to its user, by hand. Small inputs are
//! read with `pread` straight into the user's output batch (no copy, no
//! allocation); large ones go from the input memfd to the socket with
//! `sendfile` (no copy in the process at all). Output framing follows the
//! rule in `raw.rs` (`Out`).

mod raw;

use raw::{Args, BATCH, Out};

fn main() {
    let json = raw::read_stdin();
    let args = Args::scan(&json);
    let in_fd = args.user_in_fd;
    let small_mmap = std::env::var_os("RAW_SMALL_MMAP").is_some();
    let mut win = Window::default();
    for u in &args.users {
        let mut out = Out::new(u.fd);
        for &(off, len) in &args.inputs[u.first..u.end] {
            let len_us = len as usize;
            if len_us + 4 <= BATCH {
                let dst = out.frame(len_us);
                if small_mmap {
                    dst.copy_from_slice(win.get(in_fd, off, len_us));
                } else {
                    raw::pread_exact(in_fd, dst, off);
                }
            } else {
                out.flush();
                out.pace(len_us + 4);
                raw::send_all(u.fd, &[&(len as u32).to_be_bytes()]);
                sendfile_all(u.fd, in_fd, off, len_us);
            }
        }
        out.flush();
    }
}

fn sendfile_all(out: i32, input: i32, off: u64, len: usize) {
    let mut off = off as libc::off_t;
    let mut left = len;
    while left > 0 {
        // SAFETY: plain syscall; `off` is a live local.
        let n = unsafe { libc::sendfile(out, input, &mut off, left) };
        if n > 0 {
            left -= n as usize;
        } else {
            assert!(
                n < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR),
                "sendfile failed"
            );
        }
    }
}

/// Experimental: a sliding 4 MiB read-only mapping of the input file.
#[derive(Default)]
struct Window {
    base: usize,
    start: u64,
    len: usize,
}

impl Window {
    const SIZE: u64 = 4 << 20;
    fn get(&mut self, fd: i32, off: u64, len: usize) -> &[u8] {
        if self.len == 0 || off < self.start || off + len as u64 > self.start + self.len as u64 {
            if self.len > 0 {
                // SAFETY: `base..base+len` is the mapping made below, and no
                // slice of it outlives this call (`get` borrows `self`).
                unsafe { libc::munmap(self.base as *mut _, self.len) };
            }
            let start = off - off % 4096;
            let want = (off + len as u64 - start).max(Self::SIZE);
            // SAFETY: a fresh read-only mapping; the result is checked.
            let p = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    want as usize,
                    libc::PROT_READ,
                    libc::MAP_SHARED,
                    fd,
                    start as libc::off_t,
                )
            };
            assert!(p != libc::MAP_FAILED, "mmap");
            self.base = p as usize;
            self.start = start;
            self.len = want as usize;
        }
        let at = self.base + (off - self.start) as usize;
        // SAFETY: the window covers `off..off+len` (checked above) and stays
        // mapped while the returned borrow of `self` lives.
        unsafe { std::slice::from_raw_parts(at as *const u8, len) }
    }
}
