//! Shared code of the raw baseline contracts: the engine protocol by hand,
//! with direct system calls (libc), no framework, no allocation per input.
//! They are the practical limit the framework is measured against
//! (BENCHMARKS.md), so nothing here is held back, except one rule both sides
//! must follow to stay correct under the real engine: output framing (see
//! [`Out`]).

#![allow(dead_code, unreachable_pub, clippy::missing_safety_doc)]

use std::os::fd::RawFd;
use std::time::Duration;

/// The engine reads user outputs (and NPL/control packets) 128 KiB at a time.
pub const ENGINE_READ: usize = 128 * 1024;
/// The largest batch of frames written with one `send`: it must travel in one
/// socket buffer (skb) so the engine can never see only part of it. Linux
/// (3.13+) puts up to `SKB_MAX_HEAD(0) + 32 KiB` (about 36 KiB with 4 KiB
/// pages) of one stream write in one skb, and at most `sk_sndbuf / 2 - 64`.
pub const BATCH: usize = 32 * 1024;

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// Reads stdin to EOF.
pub fn read_stdin() -> Vec<u8> {
    let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
    loop {
        if buf.capacity() - buf.len() < 32 * 1024 {
            buf.reserve(buf.capacity());
        }
        let spare = buf.spare_capacity_mut();
        // SAFETY: reads into the vector's spare capacity, then commits only
        // what the kernel wrote.
        let n = unsafe { libc::read(0, spare.as_mut_ptr().cast(), spare.len()) };
        if n > 0 {
            // SAFETY: the kernel initialised the first `n` spare bytes.
            unsafe { buf.set_len(buf.len() + n as usize) };
        } else if n == 0 {
            return buf;
        } else if errno() != libc::EINTR {
            panic!("reading stdin failed");
        }
    }
}

/// One user: output fd and the range of its inputs in [`Args::inputs`].
pub struct User {
    pub fd: RawFd,
    pub first: usize,
    pub end: usize,
}

/// The fields the baselines need, scanned from the engine's compact JSON.
pub struct Args {
    pub user_in_fd: RawFd,
    pub npl_fd: Option<RawFd>,
    pub users: Vec<User>,
    /// (offset, size) of every input, user after user.
    pub inputs: Vec<(u64, u64)>,
    pub unl_count: usize,
}

struct Scan<'a> {
    b: &'a [u8],
    p: usize,
}

impl Scan<'_> {
    fn find(&mut self, pat: &[u8]) -> bool {
        match self.b[self.p..].windows(pat.len()).position(|w| w == pat) {
            Some(i) => {
                self.p += i + pat.len();
                true
            }
            None => false,
        }
    }
    fn peek(&self) -> u8 {
        self.b.get(self.p).copied().unwrap_or(0)
    }
    fn eat(&mut self, c: u8) {
        assert_eq!(self.peek(), c, "args JSON at byte {}", self.p);
        self.p += 1;
    }
    fn num(&mut self) -> i64 {
        let neg = self.peek() == b'-';
        if neg {
            self.p += 1;
        }
        let mut n: i64 = 0;
        while let Some(d @ b'0'..=b'9') = self.b.get(self.p).copied() {
            n = n * 10 + i64::from(d - b'0');
            self.p += 1;
        }
        if neg { -n } else { n }
    }
}

impl Args {
    /// Scans the arguments. Relies on the engine's layout (no whitespace,
    /// hex keys) as a hand-written contract for the engine may.
    pub fn scan(json: &[u8]) -> Args {
        let mut s = Scan { b: json, p: 0 };
        let npl_fd = if s.find(b"\"npl_fd\":") {
            Some(s.num() as RawFd)
        } else {
            s.p = 0;
            None
        };
        assert!(s.find(b"\"user_in_fd\":"), "user_in_fd");
        let user_in_fd = s.num() as RawFd;
        assert!(s.find(b"\"users\":{"), "users");
        let mut users = Vec::new();
        let mut inputs = Vec::new();
        if s.peek() == b'}' {
            s.p += 1;
        } else {
            loop {
                s.eat(b'"');
                while s.peek() != b'"' {
                    s.p += 1;
                }
                s.p += 1;
                s.eat(b':');
                s.eat(b'[');
                let fd = s.num() as RawFd;
                let first = inputs.len();
                while s.peek() == b',' {
                    s.p += 1;
                    s.eat(b'[');
                    let off = s.num() as u64;
                    s.eat(b',');
                    let len = s.num() as u64;
                    s.eat(b']');
                    inputs.push((off, len));
                }
                s.eat(b']');
                users.push(User {
                    fd,
                    first,
                    end: inputs.len(),
                });
                if s.peek() == b',' {
                    s.p += 1;
                } else {
                    s.eat(b'}');
                    break;
                }
            }
        }
        assert!(s.find(b"\"unl\":{"), "unl");
        let unl_count = s.b[s.p..]
            .windows(11)
            .filter(|w| w == b"\"active_on\"")
            .count();
        Args {
            user_in_fd,
            npl_fd,
            users,
            inputs,
            unl_count,
        }
    }
}

/// Bytes queued on a socket that its reader has not consumed (SIOCOUTQ; for
/// unix sockets the kernel's buffer accounting, which over-counts).
pub fn outq(fd: RawFd) -> usize {
    let mut n: libc::c_int = 0;
    // SAFETY: TIOCOUTQ writes one int.
    let rc = unsafe { libc::ioctl(fd, libc::TIOCOUTQ, &mut n) };
    assert!(rc >= 0, "SIOCOUTQ failed");
    n.max(0) as usize
}

/// Writes all of `iov` with `sendmsg`, resuming after partial writes.
pub fn send_all(fd: RawFd, parts: &[&[u8]]) {
    let mut iov: Vec<libc::iovec> = parts
        .iter()
        .map(|p| libc::iovec {
            iov_base: p.as_ptr() as *mut _,
            iov_len: p.len(),
        })
        .collect();
    let mut first = 0;
    while first < iov.len() {
        // SAFETY: a zeroed msghdr is valid; the iovecs point into live slices.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = iov[first..].as_mut_ptr();
        msg.msg_iovlen = (iov.len() - first) as _;
        // SAFETY: `msg` and the iovecs it points to outlive the call.
        let n = unsafe { libc::sendmsg(fd, &msg, libc::MSG_NOSIGNAL) };
        if n < 0 {
            assert_eq!(errno(), libc::EINTR, "sendmsg failed");
            continue;
        }
        let mut n = n as usize;
        while first < iov.len() && n >= iov[first].iov_len {
            n -= iov[first].iov_len;
            first += 1;
        }
        if n > 0 {
            // SAFETY: `n` is less than this iovec's length, so the pointer
            // stays inside the slice it was made from.
            iov[first].iov_base = unsafe { (iov[first].iov_base as *mut u8).add(n).cast() };
            iov[first].iov_len -= n;
        }
    }
}

/// A user's output stream.
///
/// The rule (the same in the framework): the engine reads a user's stream in
/// 128 KiB `read()`s and assumes no 4-byte length header straddles two reads.
/// A read ends after exactly 128 KiB or where the queue ran dry, which for a
/// unix stream socket is the end of an skb. So (1) every `send` is either a
/// batch of whole frames of at most [`BATCH`] bytes (one skb, so the reader
/// sees all of it or none) or one frame; and (2) a `send` of n bytes is made
/// only when the unread backlog q (SIOCOUTQ, an over-estimate) is 0 or
/// q + n <= 128 KiB, so any read covers the whole backlog and ends on a frame
/// boundary. A local upper bound on q avoids most SIOCOUTQ calls.
pub struct Out {
    pub fd: RawFd,
    buf: Box<[u8]>,
    pos: usize,
    unread: usize,
}

impl Out {
    pub fn new(fd: RawFd) -> Out {
        Out {
            fd,
            buf: vec![0u8; BATCH].into_boxed_slice(),
            pos: 0,
            unread: 0,
        }
    }

    /// Appends a frame of `len` bytes (len + 4 <= BATCH) and returns its
    /// payload space to fill.
    pub fn frame(&mut self, len: usize) -> &mut [u8] {
        if self.pos + 4 + len > BATCH {
            self.flush();
        }
        let at = self.pos;
        self.buf[at..at + 4].copy_from_slice(&(len as u32).to_be_bytes());
        self.pos = at + 4 + len;
        &mut self.buf[at + 4..at + 4 + len]
    }

    /// Appends a frame of any size.
    pub fn send(&mut self, payload: &[u8]) {
        if payload.len() + 4 <= BATCH {
            self.frame(payload.len()).copy_from_slice(payload);
        } else {
            self.flush();
            self.pace(payload.len() + 4);
            send_all(self.fd, &[&(payload.len() as u32).to_be_bytes(), payload]);
        }
    }

    /// Waits until `n` more bytes may be queued (rule (2) above).
    pub fn pace(&mut self, n: usize) {
        self.unread += n;
        if self.unread <= ENGINE_READ {
            return;
        }
        let mut wait = Duration::from_micros(20);
        loop {
            let q = outq(self.fd);
            if q == 0 || q + n <= ENGINE_READ {
                self.unread = q + n;
                return;
            }
            std::thread::sleep(wait);
            wait = (wait * 2).min(Duration::from_millis(2));
        }
    }

    pub fn flush(&mut self) {
        if self.pos > 0 {
            self.pace(self.pos);
            send_all(self.fd, &[&self.buf[..self.pos]]);
            self.pos = 0;
        }
    }
}

/// Reads `len` bytes at `off` of the input file into `dst`.
pub fn pread_exact(fd: RawFd, dst: &mut [u8], off: u64) {
    let mut done = 0;
    while done < dst.len() {
        // SAFETY: writes into the live slice.
        let n = unsafe {
            libc::pread(
                fd,
                dst[done..].as_mut_ptr().cast(),
                dst.len() - done,
                (off + done as u64) as libc::off_t,
            )
        };
        if n > 0 {
            done += n as usize;
        } else {
            assert!(n < 0 && errno() == libc::EINTR, "pread failed");
        }
    }
}
