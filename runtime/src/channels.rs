//! The engine's channels, byte for byte: the input file, user output sockets,
//! the control socket and the NPL socket (PROTOCOL.md §1.3). Nothing here
//! knows about handlers or rounds; it moves bytes and reports precisely what
//! went wrong.

use std::fs::File;
use std::io::{self, IoSlice};
use std::num::NonZeroUsize;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::FileExt;
use std::ptr::NonNull;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::mman::{MapFlags, ProtFlags};
use nix::sys::socket::{self, MsgFlags};

use crate::args::InputRef;
use crate::error::{Error, OutputErrorKind, Result};

/// The engine reads control and NPL packets, and user output streams, with a
/// 128 KiB buffer (`READ_BUFFER_SIZE` in hpcore `sc.cpp`). A packet larger
/// than that is truncated by the engine, so it is refused here.
pub const MAX_PACKET: usize = 128 * 1024;

/// The length of a public key as the engine writes it on the NPL channel:
/// `ed` + 64 hex characters.
pub(crate) const NPL_PUBKEY_LEN: usize = 66;

/// Inputs at least this large are memory-mapped instead of copied: copying
/// costs more than a mapping's page-table work only for large inputs.
const MMAP_THRESHOLD: u64 = 256 * 1024;

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

/// Closes every open descriptor above 2 that is not in `keep` (see
/// `Contract::CLOSE_INHERITED_FDS`): `close_range` over the gaps between the
/// kept descriptors (a few system calls, however many fds the engine leaked),
/// or, on kernels without it (before 5.9), every fd listed in `/proc/self/fd`.
pub(crate) fn close_unnamed_fds(keep: &[RawFd]) {
    let mut kept: Vec<u32> = keep
        .iter()
        .filter_map(|&fd| u32::try_from(fd).ok())
        .filter(|&fd| fd > 2)
        .collect();
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

/// The engine's input store (a memfd). Each input is read by its (offset,
/// size) pair and nothing else is touched: the file also holds inputs of
/// other rounds and of read requests (PROTOCOL.md §6.6).
#[derive(Debug)]
pub(crate) struct InputFile {
    file: File,
    len: u64,
    buf: Vec<u8>,
}

/// One input's bytes: copied into a reused buffer, or mapped.
pub(crate) enum InputBytes<'a> {
    Copied(&'a [u8]),
    Mapped(Mapping),
}

impl std::ops::Deref for InputBytes<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            InputBytes::Copied(b) => b,
            InputBytes::Mapped(m) => m.as_slice(),
        }
    }
}

/// A read-only mapping of part of the input file, unmapped on drop so a round
/// of many large inputs does not keep them all resident.
pub(crate) struct Mapping {
    base: NonNull<nix::libc::c_void>,
    map_len: usize,
    skip: usize,
    len: usize,
}

impl Mapping {
    fn as_slice(&self) -> &[u8] {
        // SAFETY: `base` points to `map_len` readable bytes for the lifetime of
        // `self`, and `skip + len <= map_len` by construction in `map`.
        unsafe {
            std::slice::from_raw_parts(self.base.as_ptr().cast::<u8>().add(self.skip), self.len)
        }
    }
}

/// The large input currently mapped for a handler: where its bytes are in
/// memory and in the input file. A message that is (part of) it goes from the
/// file to the socket with `sendfile`, without being copied by the process.
#[derive(Clone, Copy)]
struct MappedInput {
    addr: usize,
    len: usize,
    fd: RawFd,
    offset: u64,
}

thread_local! {
    static MAPPED_INPUT: std::cell::Cell<Option<MappedInput>> = const { std::cell::Cell::new(None) };
}

/// Where `payload` lies in the input file, if it lies within the mapped input.
fn mapped_source(payload: &[u8]) -> Option<(RawFd, u64)> {
    let m = MAPPED_INPUT.with(std::cell::Cell::get)?;
    let at = (payload.as_ptr() as usize).checked_sub(m.addr)?;
    if at.checked_add(payload.len())? > m.len {
        return None;
    }
    Some((m.fd, m.offset.checked_add(u64::try_from(at).ok()?)?))
}

impl Drop for Mapping {
    fn drop(&mut self) {
        MAPPED_INPUT.with(|m| m.set(None));
        // SAFETY: `base`/`map_len` are exactly what mmap returned; nothing
        // borrows the slice past `self`.
        let _ = unsafe { nix::sys::mman::munmap(self.base, self.map_len) };
    }
}

impl InputFile {
    pub(crate) fn new(fd: OwnedFd) -> Result<InputFile> {
        let raw = fd.as_raw_fd();
        let st = nix::sys::stat::fstat(&fd)
            .map_err(|e| Error::io(format!("fstat on user_in_fd {raw}"), e.into()))?;
        if st.st_mode & nix::libc::S_IFMT != nix::libc::S_IFREG {
            return Err(Error::args(
                "user_in_fd",
                format!("file descriptor {raw} is not a regular file or memfd"),
            ));
        }
        Ok(InputFile {
            file: File::from(fd),
            len: u64::try_from(st.st_size).unwrap_or(0),
            buf: Vec::new(),
        })
    }

    /// Reads one input, checking its range against the file first.
    pub(crate) fn read(&mut self, r: InputRef) -> std::result::Result<InputBytes<'_>, String> {
        let end = r
            .offset
            .checked_add(r.size)
            .ok_or("offset + size overflows")?;
        if end > self.len {
            return Err(format!(
                "range [{}, {end}) lies beyond the input file ({} bytes)",
                r.offset, self.len
            ));
        }
        let size = usize::try_from(r.size)
            .map_err(|_| "input larger than this platform's address space")?;
        if size == 0 {
            return Ok(InputBytes::Copied(&[]));
        }
        if r.size >= MMAP_THRESHOLD
            && let Some(m) = self.map(r.offset, size)
        {
            let slice = m.as_slice();
            MAPPED_INPUT.with(|c| {
                c.set(Some(MappedInput {
                    addr: slice.as_ptr() as usize,
                    len: slice.len(),
                    fd: self.file.as_raw_fd(),
                    offset: r.offset,
                }));
            });
            return Ok(InputBytes::Mapped(m));
        }
        if self.buf.len() < size {
            self.buf.resize(size, 0);
        }
        let buf = self.buf.get_mut(..size).ok_or("input buffer")?;
        self.file
            .read_exact_at(buf, r.offset)
            .map_err(|e| format!("reading the input file: {e}"))?;
        Ok(InputBytes::Copied(buf))
    }

    fn map(&self, offset: u64, size: usize) -> Option<Mapping> {
        let page = 4096u64;
        let start = offset - offset % page;
        let skip = usize::try_from(offset - start).ok()?;
        let map_len = skip.checked_add(size)?;
        let off = nix::libc::off_t::try_from(start).ok()?;
        // SAFETY: a fresh private read-only mapping of a file range we checked
        // lies within the file. The engine never shrinks its input store
        // (it punches holes, KEEP_SIZE), so the pages stay valid.
        let base = unsafe {
            nix::sys::mman::mmap(
                None,
                NonZeroUsize::new(map_len)?,
                ProtFlags::PROT_READ,
                MapFlags::MAP_PRIVATE,
                self.file.as_fd(),
                off,
            )
        }
        .ok()?;
        Some(Mapping {
            base,
            map_len,
            skip,
            len: size,
        })
    }
}

/// The largest batch of whole frames written with one `sendmsg`. A unix
/// stream write of at most this many bytes travels in one socket buffer
/// (skb): Linux (3.13 and later) puts up to `SKB_MAX_HEAD(0) + 32 KiB` (about
/// 36 KiB with 4 KiB pages) of a write in one skb, and at most
/// `sk_sndbuf / 2 - 64` (the engine's sockets have 212,992-byte buffers). The
/// engine's reader therefore sees a batch entirely or not at all.
pub(crate) const BATCH: usize = 32 * 1024;

/// A user's output socket: each message is a 4-byte big-endian length and the
/// payload. Messages are batched: whole frames collect in a buffer of at most
/// [`BATCH`] bytes that goes out with one `sendmsg`; a larger message goes out
/// alone with one `sendmsg` of header + payload.
///
/// Framing safety: the engine de-frames with 128 KiB `read()`s and assumes a
/// length header never straddles two reads (PROTOCOL.md §6.3). A read ends
/// either where the socket ran dry, which is the end of an skb (here always
/// the end of a batch or, inside a large message, somewhere in its payload),
/// or after exactly 128 KiB, which can fall anywhere. So a write of n bytes
/// is made only when the engine's unread backlog q is 0 or q + n <= 128 KiB:
/// any read then covers the whole backlog and ends on a frame boundary. The
/// kernel's `SIOCOUTQ` (which over-counts, so errs on the safe side) tells q;
/// a local upper bound avoids asking it for most writes.
#[derive(Debug)]
pub(crate) struct OutputSocket {
    fd: OwnedFd,
    /// An upper bound on the bytes written that the engine has not read yet.
    unread: std::cell::Cell<usize>,
    closed: std::cell::Cell<bool>,
    /// Whole frames not written yet (at most [`BATCH`] bytes).
    pending: std::cell::RefCell<Vec<u8>>,
}

impl OutputSocket {
    pub(crate) fn new(fd: OwnedFd) -> OutputSocket {
        OutputSocket {
            fd,
            unread: std::cell::Cell::new(0),
            closed: std::cell::Cell::new(false),
            pending: std::cell::RefCell::new(Vec::new()),
        }
    }

    /// Queues one framed message (written at once if it is large).
    pub(crate) fn send(&self, payload: &[u8]) -> std::result::Result<(), OutputErrorKind> {
        if self.closed.get() {
            return Err(OutputErrorKind::Closed);
        }
        let len =
            u32::try_from(payload.len()).map_err(|_| OutputErrorKind::TooLarge(payload.len()))?;
        let frame = payload.len() + 4;
        if frame > BATCH {
            self.flush()?;
            if let Some((file, offset)) = mapped_source(payload) {
                return self.write_from_file(&len.to_be_bytes(), file, offset, payload);
            }
            return self.write(&[&len.to_be_bytes(), payload]);
        }
        let mut pending = self.pending.borrow_mut();
        if pending.len() + frame > BATCH {
            self.write(&[&pending])?;
            pending.clear();
        }
        if pending.capacity() == 0 {
            // Grows (doubling) to BATCH only for users who get that much.
            pending.reserve_exact(frame.max(512));
        }
        pending.extend_from_slice(&len.to_be_bytes());
        pending.extend_from_slice(payload);
        Ok(())
    }

    /// Queues one framed message that `fill` writes (appends) straight into
    /// the batch buffer, so serialising an output allocates nothing. On a
    /// `fill` error nothing is queued and the error is returned.
    pub(crate) fn send_with<E>(
        &self,
        fill: impl FnOnce(&mut Vec<u8>) -> std::result::Result<(), E>,
    ) -> std::result::Result<std::result::Result<(), E>, OutputErrorKind> {
        if self.closed.get() {
            return Err(OutputErrorKind::Closed);
        }
        let mut pending = self.pending.borrow_mut();
        let start = pending.len();
        pending.extend_from_slice(&[0; 4]);
        if let Err(e) = fill(&mut pending) {
            pending.truncate(start);
            return Ok(Err(e));
        }
        let len = pending.len() - start - 4;
        let Ok(len32) = u32::try_from(len) else {
            pending.truncate(start);
            return Err(OutputErrorKind::TooLarge(len));
        };
        if let Some(h) = pending.get_mut(start..start + 4) {
            h.copy_from_slice(&len32.to_be_bytes());
        }
        if pending.len() > BATCH {
            // The new frame does not fit in the batch: the frames before it
            // go first, then it alone (one batch or one large write).
            let (before, frame) = pending.split_at(start);
            let r = if before.is_empty() {
                Ok(())
            } else {
                self.write(&[before])
            };
            let r = r.and_then(|()| self.write(&[frame]));
            pending.clear();
            if pending.capacity() > BATCH {
                pending.shrink_to(BATCH);
            }
            r?;
        }
        Ok(Ok(()))
    }

    /// Writes the queued frames.
    pub(crate) fn flush(&self) -> std::result::Result<(), OutputErrorKind> {
        let mut pending = self.pending.borrow_mut();
        if pending.is_empty() {
            return Ok(());
        }
        if self.closed.get() {
            pending.clear();
            return Err(OutputErrorKind::Closed);
        }
        let r = self.write(&[&pending]);
        pending.clear();
        r
    }

    /// Writes one large frame whose payload is a range of the input file
    /// (and, identically, `payload` in memory): the header, then the payload
    /// with `sendfile`, paced as one frame. The engine may see the header
    /// alone, which ends a read after it, never inside it.
    fn write_from_file(
        &self,
        header: &[u8; 4],
        file: RawFd,
        offset: u64,
        payload: &[u8],
    ) -> std::result::Result<(), OutputErrorKind> {
        let unread = self.pace(header.len() + payload.len())?;
        let out = self.fd.as_raw_fd();
        let mut r = send_all(out, &[header]);
        let mut done = 0usize;
        let mut off = nix::libc::off_t::try_from(offset).unwrap_or(nix::libc::off_t::MAX);
        while r.is_ok() && done < payload.len() {
            // SAFETY: plain system call on two open fds; `off` is a live local.
            let n = unsafe { nix::libc::sendfile(out, file, &mut off, payload.len() - done) };
            match usize::try_from(n) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(_) => match Errno::last() {
                    Errno::EINTR => {}
                    e @ (Errno::EPIPE | Errno::ECONNRESET) => r = Err(e),
                    // No sendfile here: the rest goes from memory.
                    _ => break,
                },
            }
        }
        if r.is_ok() && done < payload.len() {
            r = send_all(out, &[payload.get(done..).unwrap_or_default()]);
        }
        self.finish_write(r, unread)
    }

    /// Waits until `n` more bytes may be written (see the type) and returns
    /// the new bound on the unread backlog.
    fn pace(&self, n: usize) -> std::result::Result<usize, OutputErrorKind> {
        let mut unread = self.unread.get().saturating_add(n);
        if unread > MAX_PACKET {
            let mut wait = Duration::from_micros(20);
            loop {
                let queued = outq(self.fd.as_raw_fd()).map_err(OutputErrorKind::Io)?;
                if queued == 0 || queued + n <= MAX_PACKET {
                    unread = queued + n;
                    break;
                }
                std::thread::sleep(wait);
                wait = (wait * 2).min(Duration::from_millis(2));
            }
        }
        Ok(unread)
    }

    /// Writes `parts` (whole frames) with one `sendmsg`, paced as described
    /// on the type.
    fn write(&self, parts: &[&[u8]]) -> std::result::Result<(), OutputErrorKind> {
        let n: usize = parts.iter().map(|p| p.len()).sum();
        let unread = self.pace(n)?;
        let r = send_all(self.fd.as_raw_fd(), parts);
        self.finish_write(r, unread)
    }

    fn finish_write(
        &self,
        r: std::result::Result<(), Errno>,
        unread: usize,
    ) -> std::result::Result<(), OutputErrorKind> {
        match r {
            Ok(()) => {
                self.unread.set(unread);
                Ok(())
            }
            Err(e) if e == Errno::EPIPE || e == Errno::ECONNRESET => {
                self.closed.set(true);
                Err(OutputErrorKind::Closed)
            }
            Err(e) => Err(OutputErrorKind::Io(e.into())),
        }
    }
}

impl Drop for OutputSocket {
    fn drop(&mut self) {
        // The lifecycle flushes every user before the end; this only keeps
        // outputs of a path that did not (e.g. a test) from being lost.
        let _ = self.flush();
    }
}

/// Bytes queued on a socket that the peer has not read (kernel accounting,
/// which includes per-buffer overhead).
fn outq(fd: RawFd) -> io::Result<usize> {
    let mut n: nix::libc::c_int = 0;
    // SAFETY: TIOCOUTQ (== SIOCOUTQ) writes one int through the pointer.
    let rc = unsafe { nix::libc::ioctl(fd, nix::libc::TIOCOUTQ, &mut n) };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(usize::try_from(n).unwrap_or(0))
}

/// Sends `parts` as one `sendmsg`, resuming after partial writes and `EINTR`.
/// `MSG_NOSIGNAL` keeps a closed socket from raising SIGPIPE whatever the
/// process's signal disposition.
fn send_all(fd: RawFd, parts: &[&[u8]]) -> std::result::Result<(), Errno> {
    let total: usize = parts.iter().map(|p| p.len()).sum();
    let mut done = 0usize;
    while done < total {
        // Skip what was sent: at most two parts are ever passed.
        let mut skip = done;
        let mut iov: [IoSlice<'_>; 2] = [IoSlice::new(&[]), IoSlice::new(&[])];
        let mut k = 0;
        for p in parts {
            if skip >= p.len() {
                skip -= p.len();
                continue;
            }
            if let (Some(slot), Some(rest)) = (iov.get_mut(k), p.get(skip..)) {
                *slot = IoSlice::new(rest);
                k += 1;
            }
            skip = 0;
        }
        let sent = socket::sendmsg::<()>(
            fd,
            iov.get(..k).unwrap_or_default(),
            &[],
            MsgFlags::MSG_NOSIGNAL,
            None,
        );
        match sent {
            Ok(n) => done += n,
            Err(Errno::EINTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// A `SOCK_SEQPACKET` channel (control or NPL): one packet per message.
#[derive(Debug)]
pub(crate) struct PacketSocket {
    fd: OwnedFd,
    name: &'static str,
    /// The receive timeout last set on the socket (`None`: not set or unknown).
    rcv_timeout: std::cell::Cell<Option<Duration>>,
}

/// What [`PacketSocket::recv_npl_into`] produced.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum NplRecv {
    /// A message whose data is the first n bytes of the buffer.
    Message(usize),
    /// The deadline passed.
    Timeout,
    /// The engine closed the channel.
    Closed,
}

/// What waiting for an NPL message produced (tests).
#[cfg(test)]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum NplEvent {
    /// A message from a UNL node (possibly this node itself).
    Message { from: String, data: Vec<u8> },
    /// The deadline passed.
    Timeout,
    /// The engine closed the channel.
    Closed,
}

impl PacketSocket {
    pub(crate) fn new(fd: OwnedFd, name: &'static str) -> PacketSocket {
        PacketSocket {
            fd,
            name,
            rcv_timeout: std::cell::Cell::new(None),
        }
    }

    /// Sends one packet of 1 byte to 128 KiB.
    pub(crate) fn send(&self, packet: &[u8]) -> Result<()> {
        let err = |m: String| {
            if self.name == "NPL" {
                Error::Npl(m)
            } else {
                Error::Control(m)
            }
        };
        if packet.is_empty() {
            return Err(err(
                "empty messages are not delivered by the engine; refused".into(),
            ));
        }
        if packet.len() > MAX_PACKET {
            return Err(err(format!(
                "message of {} bytes exceeds the engine's {MAX_PACKET}-byte packet limit",
                packet.len()
            )));
        }
        loop {
            match socket::send(self.fd.as_raw_fd(), packet, MsgFlags::MSG_NOSIGNAL) {
                Ok(_) => return Ok(()),
                Err(Errno::EINTR) => {}
                Err(e) if e == Errno::EPIPE || e == Errno::ECONNRESET => {
                    return Err(err("the engine closed the channel".into()));
                }
                Err(e) => return Err(err(format!("send failed: {e}"))),
            }
        }
    }

    /// Waits for one packet until `deadline`. `Ok(None)` on timeout,
    /// `Ok(Some(None))` when the engine closed the channel.
    ///
    /// One blocking `recv` per packet: the socket's receive timeout
    /// (`SO_RCVTIMEO`) bounds the wait and is refreshed only when it would
    /// overshoot the deadline by a millisecond or more, so a steady stream of
    /// messages costs one system call per packet instead of poll + recv.
    fn recv_packet(&self, buf: &mut [u8], deadline: Instant) -> Result<Option<Option<usize>>> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            let set = self.rcv_timeout.get();
            if set.is_none_or(|t| t.saturating_sub(left) >= Duration::from_millis(1)) {
                // The kernel takes a timeval; a zero one would mean "forever".
                let wait = left.max(Duration::from_micros(1));
                let tv = nix::sys::time::TimeVal::new(
                    i64::try_from(wait.as_secs()).unwrap_or(i64::MAX / 2),
                    i64::from(wait.subsec_micros()),
                );
                if socket::setsockopt(&self.fd, socket::sockopt::ReceiveTimeout, &tv).is_ok() {
                    self.rcv_timeout.set(Some(left));
                } else {
                    self.rcv_timeout.set(None);
                }
            }
            match socket::recv(self.fd.as_raw_fd(), buf, MsgFlags::MSG_TRUNC) {
                Ok(0) => return Ok(Some(None)),
                Ok(n) if n > buf.len() => {
                    return Err(Error::Npl(format!(
                        "received a {n}-byte packet, larger than the engine's {MAX_PACKET}-byte limit"
                    )));
                }
                Ok(n) => return Ok(Some(Some(n))),
                Err(Errno::EINTR) => {}
                Err(Errno::EAGAIN) => {
                    // The timeout passed, or the socket is non-blocking:
                    // wait with poll for whatever is left.
                    if !self.poll_in(deadline)? {
                        return Ok(None);
                    }
                }
                Err(Errno::ECONNRESET) => return Ok(Some(None)),
                Err(e) => return Err(Error::Npl(format!("recv failed: {e}"))),
            }
        }
    }

    /// Polls for input until `deadline`; true when something is readable.
    fn poll_in(&self, deadline: Instant) -> Result<bool> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(false);
            }
            let ms = u32::try_from(left.as_millis().min(u128::from(u32::MAX / 2))).unwrap_or(0);
            // Round up so a sub-millisecond remainder still waits instead of spinning.
            let ms = if left > Duration::from_millis(u64::from(ms)) {
                ms + 1
            } else {
                ms
            };
            let mut fds = [PollFd::new(self.fd.as_fd(), PollFlags::POLLIN)];
            match nix::poll::poll(
                &mut fds,
                PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX),
            ) {
                Ok(0) => {}
                Ok(_) => return Ok(true),
                Err(Errno::EINTR) => {}
                Err(e) => return Err(Error::Npl(format!("poll failed: {e}"))),
            }
        }
    }

    /// Receives one NPL message: the engine sends the sender's public key
    /// (66 hex characters) and then the data as two packets.
    #[cfg(test)]
    pub(crate) fn recv_npl(&self, buf: &mut Vec<u8>, deadline: Instant) -> Result<NplEvent> {
        let mut key = [0u8; NPL_PUBKEY_LEN];
        Ok(match self.recv_npl_into(&mut key, buf, deadline)? {
            NplRecv::Message(n) => NplEvent::Message {
                from: String::from_utf8_lossy(&key).into_owned(),
                data: buf.get(..n).unwrap_or_default().to_vec(),
            },
            NplRecv::Timeout => NplEvent::Timeout,
            NplRecv::Closed => NplEvent::Closed,
        })
    }

    /// [`recv_npl`](Self::recv_npl) without allocating: the sender's key goes
    /// to `key` (hex ASCII), the data to the start of `buf`.
    pub(crate) fn recv_npl_into(
        &self,
        key: &mut [u8; NPL_PUBKEY_LEN],
        buf: &mut Vec<u8>,
        deadline: Instant,
    ) -> Result<NplRecv> {
        if buf.len() < MAX_PACKET {
            buf.resize(MAX_PACKET, 0);
        }
        let n = match self.recv_packet(buf, deadline)? {
            None => return Ok(NplRecv::Timeout),
            Some(None) => return Ok(NplRecv::Closed),
            Some(Some(n)) => n,
        };
        let from = buf.get(..n).unwrap_or_default();
        if n != NPL_PUBKEY_LEN || !from.iter().all(u8::is_ascii_hexdigit) {
            return Err(Error::Npl(format!(
                "expected a {NPL_PUBKEY_LEN}-character hex public key packet, got {n} bytes"
            )));
        }
        key.copy_from_slice(from);
        // The engine writes both packets back to back; the data is already
        // there or about to be. Waiting past the round's deadline here would
        // lose the message, so allow a short grace period.
        let grace = Instant::now() + Duration::from_millis(1000);
        match self.recv_packet(buf, deadline.max(grace))? {
            None => Err(Error::Npl(format!(
                "message from {}: the data packet never came",
                String::from_utf8_lossy(key)
            ))),
            Some(None) => Ok(NplRecv::Closed),
            Some(Some(n)) => Ok(NplRecv::Message(n)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::socket::{AddressFamily, SockFlag, SockType, socketpair};
    use std::io::{Read, Write};
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

    fn memfd_with(chunks: &[(u64, &[u8])]) -> OwnedFd {
        let fd =
            nix::sys::memfd::memfd_create(c"buffer_store", nix::sys::memfd::MFdFlags::MFD_CLOEXEC)
                .unwrap();
        let file = File::from(fd);
        for (off, bytes) in chunks {
            file.write_all_at(bytes, *off).unwrap();
        }
        OwnedFd::from(file)
    }

    #[test]
    fn reads_inputs_by_offset_and_size() {
        let big: Vec<u8> = (0..1024 * 1024).map(|i| (i * 7 % 251) as u8).collect();
        let fd = memfd_with(&[
            (0, b"hello"),
            (4096, b"\x00\xffbin"),
            (8192, &big),
            (8192 + 1024 * 1024 + 100, b"x"),
        ]);
        let mut f = InputFile::new(fd).unwrap();
        assert_eq!(&*f.read(InputRef { offset: 0, size: 5 }).unwrap(), b"hello");
        assert_eq!(
            &*f.read(InputRef {
                offset: 4096,
                size: 5
            })
            .unwrap(),
            b"\x00\xffbin"
        );
        assert_eq!(
            &*f.read(InputRef {
                offset: 4096,
                size: 0
            })
            .unwrap(),
            b""
        );
        let got = f
            .read(InputRef {
                offset: 8192,
                size: 1024 * 1024,
            })
            .unwrap();
        assert!(
            matches!(got, InputBytes::Mapped(_)),
            "large inputs are mapped"
        );
        assert_eq!(&*got, &big[..]);
        drop(got);
        // An unaligned large input is mapped from its page and offset into it.
        let got = f
            .read(InputRef {
                offset: 8192 + 100,
                size: 512 * 1024,
            })
            .unwrap();
        assert_eq!(&*got, &big[100..100 + 512 * 1024]);
    }

    #[test]
    fn out_of_range_inputs_are_errors() {
        let fd = memfd_with(&[(0, b"abc")]);
        let mut f = InputFile::new(fd).unwrap();
        let e = f.read(InputRef { offset: 0, size: 4 }).err().unwrap();
        assert!(e.contains("beyond the input file (3 bytes)"), "{e}");
        let e = f
            .read(InputRef {
                offset: u64::MAX,
                size: 2,
            })
            .err()
            .unwrap();
        assert!(e.contains("overflows"), "{e}");
        let e = f
            .read(InputRef {
                offset: 1 << 40,
                size: 0,
            })
            .err()
            .unwrap();
        assert!(e.contains("beyond"), "{e}");
    }

    #[test]
    fn input_fd_must_be_a_file() {
        let (a, _b) = UnixStream::pair().unwrap();
        let e = InputFile::new(OwnedFd::from(a)).unwrap_err();
        assert!(e.to_string().contains("user_in_fd"), "{e}");
    }

    #[test]
    fn output_frames_are_length_prefixed_big_endian() {
        let (a, mut b) = UnixStream::pair().unwrap();
        let out = OutputSocket::new(OwnedFd::from(a));
        out.send(b"hi").unwrap();
        out.send(b"").unwrap();
        let big = vec![0xABu8; 300_000];
        let reader = std::thread::spawn(move || {
            // Read in small pieces: messages split across reads on the reading side.
            let mut all = Vec::new();
            let mut buf = [0u8; 1000];
            while all.len() < 6 + 4 + 4 + 300_000 {
                let n = b.read(&mut buf).unwrap();
                all.extend_from_slice(&buf[..n]);
            }
            all
        });
        out.send(&big).unwrap();
        let all = reader.join().unwrap();
        assert_eq!(&all[..6], b"\x00\x00\x00\x02hi");
        assert_eq!(&all[6..10], b"\x00\x00\x00\x00");
        assert_eq!(&all[10..14], &300_000u32.to_be_bytes());
        assert!(all[14..].iter().all(|&x| x == 0xAB));
    }

    #[test]
    fn closed_output_is_a_typed_error_not_sigpipe() {
        let (a, b) = UnixStream::pair().unwrap();
        let out = OutputSocket::new(OwnedFd::from(a));
        drop(b);
        // Batched: the closed socket shows when the batch is written.
        out.send(b"x").unwrap();
        assert!(matches!(out.flush(), Err(OutputErrorKind::Closed)));
        assert!(matches!(out.send(b"y"), Err(OutputErrorKind::Closed)));
        assert!(matches!(
            out.send(&vec![0; BATCH + 1]),
            Err(OutputErrorKind::Closed)
        ));
    }

    #[test]
    fn batched_frames_never_split_a_header_across_engine_reads() {
        let (a, mut b) = UnixStream::pair().unwrap();
        // Frame sizes from empty to several batches, in a fixed pseudo-random mix.
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let sizes: Vec<usize> = (0..3000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                match x % 10 {
                    0 => (x >> 8) as usize % (3 * BATCH),
                    1 => BATCH - 4 - (x >> 8) as usize % 3,
                    _ => (x >> 8) as usize % 300,
                }
            })
            .collect();
        let expect: Vec<usize> = sizes.clone();
        let writer = std::thread::spawn(move || {
            let out = OutputSocket::new(OwnedFd::from(a));
            for (i, n) in sizes.into_iter().enumerate() {
                if i % 3 == 0 {
                    out.send_with(|buf: &mut Vec<u8>| {
                        buf.extend(std::iter::repeat_n(i as u8, n));
                        Ok::<(), ()>(())
                    })
                    .unwrap()
                    .unwrap();
                } else {
                    out.send(&vec![i as u8; n]).unwrap();
                }
            }
            out.flush().unwrap();
        });
        // Read like the engine: 128 KiB reads, slowly; every read must end on
        // a frame boundary or inside a payload, never inside a header.
        let total: usize = expect.iter().map(|n| n + 4).sum();
        let mut boundaries = std::collections::BTreeMap::new();
        let mut at = 0;
        for (i, n) in expect.iter().enumerate() {
            boundaries.insert(at, i);
            at += n + 4;
        }
        let mut buf = vec![0u8; MAX_PACKET];
        let mut all = Vec::new();
        let mut reads = 0;
        while all.len() < total {
            if reads % 7 == 0 {
                std::thread::sleep(Duration::from_millis(1));
            }
            reads += 1;
            let n = b.read(&mut buf).unwrap();
            all.extend_from_slice(&buf[..n]);
            let end = all.len();
            if let Some((&start, &i)) = boundaries.range(..end).next_back()
                && end - start < 4
            {
                {
                    panic!(
                        "a read ended inside the header of the frame at {start} (frame #{i}, size {}), read n={n} end={end}; prev sizes {:?}, next {:?}",
                        expect[i],
                        &expect[i.saturating_sub(12)..i],
                        &expect[i..(i + 3).min(expect.len())]
                    );
                }
            }
        }
        writer.join().unwrap();
        let mut at = 0;
        for (i, n) in expect.iter().enumerate() {
            assert_eq!(&all[at..at + 4], &(*n as u32).to_be_bytes());
            assert!(all[at + 4..at + 4 + n].iter().all(|&c| c == i as u8));
            at += n + 4;
        }
    }

    #[test]
    fn pacing_keeps_unread_backlog_within_one_engine_read() {
        let (a, mut b) = UnixStream::pair().unwrap();
        let out = OutputSocket::new(OwnedFd::from(a));
        let writer = std::thread::spawn(move || {
            for i in 0..5000u32 {
                out.send(&[i as u8; 100]).unwrap();
            }
        });
        // A slow reader reading 128 KiB at a time, like the engine: every
        // read must end on a frame boundary.
        let mut buf = vec![0u8; MAX_PACKET];
        let mut total = Vec::new();
        while total.len() < 5000 * 104 {
            std::thread::sleep(Duration::from_millis(2));
            let n = b.read(&mut buf).unwrap();
            total.extend_from_slice(&buf[..n]);
            assert_eq!(total.len() % 104, 0, "a read ended inside a frame");
        }
        writer.join().unwrap();
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
    fn packet_size_limits() {
        let (a, b) = seqpacket();
        let s = PacketSocket::new(a, "NPL");
        assert!(s.send(b"").unwrap_err().to_string().contains("empty"));
        assert!(
            s.send(&vec![1; MAX_PACKET + 1])
                .unwrap_err()
                .to_string()
                .contains("131072")
        );
        s.send(&vec![1; MAX_PACKET]).unwrap();
        let mut buf = vec![0u8; MAX_PACKET + 10];
        assert_eq!(
            socket::recv(b.as_raw_fd(), &mut buf, MsgFlags::empty()).unwrap(),
            MAX_PACKET
        );
        let c = PacketSocket::new(seqpacket().0, "control");
        assert!(
            c.send(&vec![1; MAX_PACKET + 1])
                .unwrap_err()
                .to_string()
                .starts_with("control channel")
        );
    }

    #[test]
    fn npl_two_packet_reassembly_timeout_and_close() {
        let (a, b) = seqpacket();
        let s = PacketSocket::new(a, "NPL");
        let sender = "ed".to_owned() + &"ab".repeat(32);
        socket::send(b.as_raw_fd(), sender.as_bytes(), MsgFlags::empty()).unwrap();
        socket::send(b.as_raw_fd(), b"vote:7", MsgFlags::empty()).unwrap();
        let mut buf = Vec::new();
        let soon = || Instant::now() + Duration::from_millis(50);
        assert_eq!(
            s.recv_npl(&mut buf, soon()).unwrap(),
            NplEvent::Message {
                from: sender.clone(),
                data: b"vote:7".to_vec()
            }
        );
        let t = Instant::now();
        assert_eq!(s.recv_npl(&mut buf, soon()).unwrap(), NplEvent::Timeout);
        assert!(t.elapsed() >= Duration::from_millis(40));
        // A pubkey packet whose data follows a little later is still paired.
        socket::send(b.as_raw_fd(), sender.as_bytes(), MsgFlags::empty()).unwrap();
        let late = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            socket::send(b.as_raw_fd(), b"late", MsgFlags::empty()).unwrap();
            b
        });
        assert_eq!(
            s.recv_npl(&mut buf, Instant::now() + Duration::from_millis(5))
                .unwrap(),
            NplEvent::Message {
                from: sender,
                data: b"late".to_vec()
            }
        );
        drop(late.join().unwrap());
        assert_eq!(s.recv_npl(&mut buf, soon()).unwrap(), NplEvent::Closed);
    }

    #[test]
    fn npl_bad_sender_packet_is_an_error() {
        let (a, b) = seqpacket();
        let s = PacketSocket::new(a, "NPL");
        socket::send(b.as_raw_fd(), b"not-a-key", MsgFlags::empty()).unwrap();
        let e = s
            .recv_npl(&mut Vec::new(), Instant::now() + Duration::from_millis(50))
            .unwrap_err();
        assert!(e.to_string().contains("public key packet"), "{e}");
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
