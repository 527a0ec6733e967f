//! A user's output stream: length-prefixed frames, batched, written so that
//! the engine's reads never cut a length header (see [`OutputSocket`]).

use std::io::{self, IoSlice};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::socket::{self, MsgFlags};

use super::input::mapped_source;
use crate::error::OutputErrorKind;
use crate::wire::{self, FRAME_HEADER_LEN};

/// The largest batch of whole frames written with one `sendmsg`. A unix
/// stream write of at most this many bytes travels in one socket buffer
/// (skb): Linux (3.13 and later) puts up to `SKB_MAX_HEAD(0) + 32 KiB` (about
/// 36 KiB with 4 KiB pages) of a write in one skb, and at most
/// `sk_sndbuf / 2 - 64` (the engine's sockets have 212,992-byte buffers). A
/// read that finds the socket dry therefore ends at a batch's end, never
/// inside it; only a read's 128 KiB budget can end inside one (see
/// [`OutputSocket`]).
pub(crate) const BATCH: usize = 32 * 1024;

/// A user's output socket: each message is a 4-byte big-endian length and the
/// payload. Messages are batched: whole frames collect in a buffer of at most
/// [`BATCH`] bytes that goes out with one `sendmsg`; a larger message goes out
/// alone, as its head (header and all but the last [`BATCH`] bytes) and then
/// its tail.
///
/// # Framing safety
///
/// The engine de-frames each user's stream with one 128 KiB `read()` per
/// socket per pass of its monitor loop and assumes a length header never
/// straddles two reads. A unix stream `read()` returns early only where the
/// socket ran dry, which is always the end of a socket buffer (skb), here the
/// end of a write of at most [`BATCH`] bytes or a point inside a large
/// payload. Otherwise it returns the full 128 KiB, which can end anywhere.
/// And one `read()` does not stop at the data that was queued when it began:
/// it copies skb after skb, freeing each as it goes, and looks at the queue
/// again after each, so it carries on into data appended while it runs.
/// Watching the unread backlog (`SIOCOUTQ`) and keeping it under 128 KiB is
/// therefore not enough: the backlog shrinks while a read is still in
/// progress, and bytes written then belong to that read's remaining budget.
///
/// So each write waits until the socket is **drained** (`SIOCOUTQ` is 0:
/// every earlier byte has been read). A read that begins on a drained socket
/// starts on a frame boundary, finds at most one write, and ends where the
/// write ends or, inside a large message, in its payload. The one gap a
/// writer cannot see: between freeing the last skb and looking at the queue
/// again, the reading thread is still inside `read()`. If it is held up
/// there (preempted) long enough for this process to see the drained socket
/// and append a whole write, that write joins the read. Each such write is
/// at most 32 KiB and the read started on a frame boundary, so four of them
/// fit in its 128 KiB; a header can be split only if the engine's reading
/// thread stalls in that gap of a few instructions four times within one
/// `read()`, or twice after a large message (hence its tail goes as a write
/// of its own, after the head is drained). That residual risk is stated in
/// the bad-input guide.
#[derive(Debug)]
pub(crate) struct OutputSocket {
    fd: OwnedFd,
    /// Whether anything was written since the socket was last seen drained.
    written: std::cell::Cell<bool>,
    closed: std::cell::Cell<bool>,
    /// Whether frames are held back until [`release`](Self::release)
    /// instead of written as batches fill (a round whose state must be
    /// committed first).
    held: std::cell::Cell<bool>,
    /// How often a write waited for the engine to drain the socket (tests).
    #[cfg(test)]
    waits: std::cell::Cell<usize>,
    /// Whole frames not written yet (at most [`BATCH`] bytes).
    pending: std::cell::RefCell<Vec<u8>>,
}

impl OutputSocket {
    pub(crate) fn new(fd: OwnedFd) -> OutputSocket {
        OutputSocket {
            fd,
            written: std::cell::Cell::new(false),
            closed: std::cell::Cell::new(false),
            held: std::cell::Cell::new(false),
            #[cfg(test)]
            waits: std::cell::Cell::new(0),
            pending: std::cell::RefCell::new(Vec::new()),
        }
    }

    /// Queues one framed message (written at once if it is large).
    pub(crate) fn send(&self, payload: &[u8]) -> Result<(), OutputErrorKind> {
        if self.closed.get() {
            return Err(OutputErrorKind::Closed);
        }
        let header =
            wire::frame_header(payload.len()).ok_or(OutputErrorKind::TooLarge(payload.len()))?;
        let frame = payload.len() + FRAME_HEADER_LEN;
        if frame > BATCH && !self.held.get() {
            self.flush()?;
            if let Some((file, offset)) = mapped_source(payload) {
                return self.write_from_file(&header, file, offset, payload);
            }
            return self.write_large(&header, payload);
        }
        let mut pending = self.pending.borrow_mut();
        if pending.len() + frame > BATCH && !self.held.get() {
            self.write(&[&pending])?;
            pending.clear();
        }
        if pending.capacity() == 0 {
            // Grows (doubling) to BATCH only for users who get that much.
            pending.reserve_exact(frame.max(512));
        }
        pending.extend_from_slice(&header);
        pending.extend_from_slice(payload);
        Ok(())
    }

    /// Queues one framed message that `fill` writes (appends) straight into
    /// the batch buffer, so serialising an output allocates nothing. On a
    /// `fill` error nothing is queued and the error is returned.
    pub(crate) fn send_with<E>(
        &self,
        fill: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
    ) -> Result<Result<(), E>, OutputErrorKind> {
        if self.closed.get() {
            return Err(OutputErrorKind::Closed);
        }
        let mut pending = self.pending.borrow_mut();
        let start = pending.len();
        pending.extend_from_slice(&[0; FRAME_HEADER_LEN]);
        if let Err(e) = fill(&mut pending) {
            pending.truncate(start);
            return Ok(Err(e));
        }
        let len = pending.len() - start - FRAME_HEADER_LEN;
        let Some(header) = wire::frame_header(len) else {
            pending.truncate(start);
            return Err(OutputErrorKind::TooLarge(len));
        };
        if let Some(h) = pending.get_mut(start..start + FRAME_HEADER_LEN) {
            h.copy_from_slice(&header);
        }
        if pending.len() > BATCH && !self.held.get() {
            // The new frame does not fit in the batch: the frames before it
            // go first, then it alone (one batch or one large write).
            let (before, frame) = pending.split_at(start);
            let r = if before.is_empty() {
                Ok(())
            } else {
                self.write(&[before])
            };
            let r = r.and_then(|()| match frame.split_at_checked(FRAME_HEADER_LEN) {
                Some((header, payload)) if frame.len() > BATCH => self.write_large(header, payload),
                _ => self.write(&[frame]),
            });
            pending.clear();
            if pending.capacity() > BATCH {
                pending.shrink_to(BATCH);
            }
            r?;
        }
        Ok(Ok(()))
    }

    /// Writes the queued frames (nothing while they are held).
    pub(crate) fn flush(&self) -> Result<(), OutputErrorKind> {
        let mut pending = self.pending.borrow_mut();
        if pending.is_empty() || self.held.get() {
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

    /// Holds every frame from now on until [`release`](Self::release) or
    /// [`discard`](Self::discard): nothing reaches the engine meanwhile.
    pub(crate) fn hold(&self) {
        self.held.set(true);
    }

    /// Writes the held frames, as batches of at most [`BATCH`] bytes and
    /// large frames alone, exactly as if they had been written as sent, and
    /// stops holding.
    pub(crate) fn release(&self) -> Result<(), OutputErrorKind> {
        self.held.set(false);
        let held = std::mem::take(&mut *self.pending.borrow_mut());
        if held.is_empty() {
            return Ok(());
        }
        if self.closed.get() {
            return Err(OutputErrorKind::Closed);
        }
        let (mut batch, mut at) = (0usize, 0usize);
        while let Some(header) = held.get(at..at + FRAME_HEADER_LEN) {
            let len = header.try_into().map_or(0, |h: [u8; FRAME_HEADER_LEN]| {
                u32::from_be_bytes(h) as usize
            });
            let end = at + FRAME_HEADER_LEN + len;
            if end - at > BATCH {
                if at > batch {
                    self.write(&[held.get(batch..at).unwrap_or_default()])?;
                }
                let payload = held.get(at + FRAME_HEADER_LEN..end).unwrap_or_default();
                self.write_large(header, payload)?;
                batch = end;
            } else if end - batch > BATCH {
                self.write(&[held.get(batch..at).unwrap_or_default()])?;
                batch = at;
            }
            at = end;
        }
        if held.len() > batch {
            self.write(&[held.get(batch..).unwrap_or_default()])?;
        }
        Ok(())
    }

    /// Drops the held frames unwritten: the engine never sees them.
    pub(crate) fn discard(&self) {
        let mut pending = self.pending.borrow_mut();
        pending.clear();
        pending.shrink_to(BATCH);
    }

    /// Writes one frame larger than [`BATCH`]: its head (header and all but
    /// the payload's last [`BATCH`] bytes) with one `sendmsg`, then, once the
    /// engine has read the head, the tail (see the type: the read that ends
    /// the message then ends with it, unless the engine stalls twice).
    fn write_large(&self, header: &[u8], payload: &[u8]) -> Result<(), OutputErrorKind> {
        let (head, tail) = payload.split_at(payload.len() - large_tail(payload.len()));
        self.write(&[header, head])?;
        self.write(&[tail])
    }

    /// [`write_large`](Self::write_large) for a payload that is a range of the
    /// input file (and, identically, `payload` in memory): the head's payload
    /// goes with `sendfile`, without being copied by the process. The engine
    /// may see the header alone, which ends a read after it, never inside it.
    fn write_from_file(
        &self,
        header: &[u8; FRAME_HEADER_LEN],
        file: RawFd,
        offset: u64,
        payload: &[u8],
    ) -> Result<(), OutputErrorKind> {
        let (head, tail) = payload.split_at(payload.len() - large_tail(payload.len()));
        self.pace()?;
        let out = self.fd.as_raw_fd();
        let mut r = send_all(out, &[header]);
        let mut done = 0usize;
        let mut off = nix::libc::off_t::try_from(offset).unwrap_or(nix::libc::off_t::MAX);
        while r.is_ok() && done < head.len() {
            // SAFETY: plain system call on two open fds; `off` is a live local.
            let n = unsafe { nix::libc::sendfile(out, file, &mut off, head.len() - done) };
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
        if r.is_ok() && done < head.len() {
            r = send_all(out, &[head.get(done..).unwrap_or_default()]);
        }
        self.finish_write(r)?;
        self.write(&[tail])
    }

    /// Waits until the socket is drained, unless nothing was written since
    /// it last was (see the type).
    fn pace(&self) -> Result<(), OutputErrorKind> {
        if !self.written.get() {
            return Ok(());
        }
        let mut wait = Duration::from_micros(20);
        while outq(self.fd.as_raw_fd()).map_err(OutputErrorKind::Io)? != 0 {
            #[cfg(test)]
            self.waits.set(self.waits.get() + 1);
            std::thread::sleep(wait);
            wait = (wait * 2).min(Duration::from_millis(2));
        }
        Ok(())
    }

    /// Writes `parts` (whole frames, or a large frame's head or tail) with
    /// one `sendmsg`, once the socket is drained.
    fn write(&self, parts: &[&[u8]]) -> Result<(), OutputErrorKind> {
        self.pace()?;
        let r = send_all(self.fd.as_raw_fd(), parts);
        self.finish_write(r)
    }

    fn finish_write(&self, r: Result<(), Errno>) -> Result<(), OutputErrorKind> {
        match r {
            Ok(()) => {
                self.written.set(true);
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

/// How many of a large payload's last bytes go as a write of their own: a
/// batch's worth, or the whole payload when it is shorter (the head is then
/// the header alone, which a read may end after but never inside).
fn large_tail(payload_len: usize) -> usize {
    payload_len.min(BATCH)
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
fn send_all(fd: RawFd, parts: &[&[u8]]) -> Result<(), Errno> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::MAX_PACKET;
    use std::io::Read;
    use std::os::unix::net::UnixStream;

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

    /// Frame sizes from empty to several batches, in a fixed pseudo-random
    /// mix weighted towards the sizes that fill a batch to within a header.
    fn mixed_sizes(count: usize) -> Vec<usize> {
        let mut x = 0x2545_f491_4f6c_dd1du64;
        (0..count)
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
            .collect()
    }

    /// Reads `total` bytes the way hpcore's contract monitor loop does: each
    /// pass polls (without waiting when the last pass read something, else
    /// for up to 20 ms), then makes one 128 KiB `read()` if the socket is
    /// readable. Every `pause_every` passes it stops for 1 ms, as the
    /// engine does while it serves other users' sockets and the NPL channel.
    /// Returns the bytes and where each read ended.
    fn read_like_the_engine(
        b: &mut UnixStream,
        total: usize,
        pause_every: usize,
    ) -> (Vec<u8>, Vec<usize>) {
        use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
        use std::os::fd::AsFd;
        let mut buf = vec![0u8; MAX_PACKET];
        let (mut all, mut ends) = (Vec::new(), Vec::new());
        let mut handled = false;
        let mut pass = 0usize;
        while all.len() < total {
            pass += 1;
            if pause_every > 0 && pass.is_multiple_of(pause_every) {
                std::thread::sleep(Duration::from_millis(1));
            }
            let mut fds = [PollFd::new(b.as_fd(), PollFlags::POLLIN)];
            let wait = if handled { 0u8 } else { 20 };
            poll(&mut fds, PollTimeout::from(wait)).unwrap();
            handled = false;
            if fds[0]
                .revents()
                .is_some_and(|r| r.contains(PollFlags::POLLIN))
            {
                let n = b.read(&mut buf).unwrap();
                all.extend_from_slice(&buf[..n]);
                ends.push(all.len());
                handled = n > 0;
            }
        }
        (all, ends)
    }

    /// Writes `sizes` frames (a third of them through `send_with`) and
    /// returns how often a write waited for the socket to drain.
    fn write_frames(out: OutputSocket, sizes: Vec<usize>) -> usize {
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
        out.waits.get()
    }

    /// The engine's read pattern against the writer's pacing: no read may
    /// end inside a length header, whether the engine reads as fast as it
    /// can or with pauses. The writer must have outrun the reader (waited
    /// for drains), or the pacing was not exercised.
    #[test]
    fn batched_frames_never_split_a_header_across_engine_reads() {
        for pause_every in [0, 3] {
            let (a, mut b) = UnixStream::pair().unwrap();
            let expect = mixed_sizes(3000);
            let sizes = expect.clone();
            let writer = std::thread::spawn(move || {
                write_frames(OutputSocket::new(OwnedFd::from(a)), sizes)
            });
            let total: usize = expect.iter().map(|n| n + 4).sum();
            let (all, ends) = read_like_the_engine(&mut b, total, pause_every);
            let waits = writer.join().unwrap();
            let mut boundaries = std::collections::BTreeMap::new();
            let mut at = 0;
            for (i, n) in expect.iter().enumerate() {
                boundaries.insert(at, i);
                at += n + 4;
            }
            for (r, &end) in ends.iter().enumerate() {
                if let Some((&start, &i)) = boundaries.range(..end).next_back() {
                    assert!(
                        end - start >= 4,
                        "read #{r} ended at {end}, inside the header of frame #{i} at {start} \
                         (size {}); pause_every {pause_every}",
                        expect[i]
                    );
                }
            }
            assert!(
                waits > 0,
                "the reader never fell behind (pause_every {pause_every})"
            );
            let mut at = 0;
            for (i, n) in expect.iter().enumerate() {
                assert_eq!(&all[at..at + 4], &(*n as u32).to_be_bytes());
                assert!(all[at + 4..at + 4 + n].iter().all(|&c| c == i as u8));
                at += n + 4;
            }
        }
    }

    /// Held frames reach the engine only on release, byte for byte as if
    /// written as sent, in writes an engine-faithful reader never cuts in a
    /// header; discarded frames never reach it.
    #[test]
    fn held_frames_go_out_on_release_and_never_after_discard() {
        let (a, mut b) = UnixStream::pair().unwrap();
        b.set_nonblocking(true).unwrap();
        let out = OutputSocket::new(OwnedFd::from(a));
        out.hold();
        out.send(b"gone").unwrap();
        out.send(&vec![1u8; 3 * BATCH]).unwrap();
        out.flush().unwrap();
        let mut buf = vec![0u8; MAX_PACKET];
        assert!(b.read(&mut buf).is_err(), "nothing is written while held");
        out.discard();
        b.set_nonblocking(false).unwrap();
        let expect = mixed_sizes(600);
        let sizes = expect.clone();
        let writer = std::thread::spawn(move || {
            out.hold();
            for (i, n) in sizes.into_iter().enumerate() {
                out.send(&vec![i as u8; n]).unwrap();
            }
            out.release().unwrap();
        });
        let total: usize = expect.iter().map(|n| n + 4).sum();
        let (all, ends) = read_like_the_engine(&mut b, total, 2);
        writer.join().unwrap();
        let mut at = 0;
        let mut starts = std::collections::BTreeSet::new();
        for (i, n) in expect.iter().enumerate() {
            starts.insert(at);
            assert_eq!(&all[at..at + 4], &(*n as u32).to_be_bytes(), "frame #{i}");
            assert!(all[at + 4..at + 4 + n].iter().all(|&c| c == i as u8));
            at += n + 4;
        }
        assert_eq!(all.len(), total, "the discarded frames never arrived");
        for end in ends {
            if let Some(&start) = starts.range(..end).next_back() {
                assert!(
                    end - start >= 4,
                    "a read ended inside the header at {start}"
                );
            }
        }
    }

    /// A large message goes as its head and then, once that is read, its
    /// last batch's worth: a reader that reads only after a pause sees the
    /// head alone first.
    #[test]
    fn a_large_message_ends_with_a_write_of_its_own() {
        let (a, mut b) = UnixStream::pair().unwrap();
        let payload = vec![7u8; 3 * BATCH];
        let writer = std::thread::spawn(move || {
            let out = OutputSocket::new(OwnedFd::from(a));
            out.send(&payload).unwrap();
            out.waits.get()
        });
        std::thread::sleep(Duration::from_millis(50));
        let mut buf = vec![0u8; MAX_PACKET];
        let mut first = 0;
        while first < 4 + 2 * BATCH {
            first += b.read(&mut buf[first..]).unwrap();
        }
        assert_eq!(
            first,
            4 + 2 * BATCH,
            "only the head was written before the drain"
        );
        let mut rest = 0;
        while rest < BATCH {
            rest += b.read(&mut buf[rest..]).unwrap();
        }
        assert!(
            writer.join().unwrap() > 0,
            "the tail waited for the head to drain"
        );
        assert_eq!(large_tail(10), 10);
        assert_eq!(large_tail(5 * BATCH), BATCH);
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
}
