//! The control and NPL channels: `SOCK_SEQPACKET` sockets, one packet per
//! message. An NPL message arrives as two packets, the sender's key and the
//! data.

use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{self, MsgFlags};

use crate::error::{Error, Result};
use crate::wire::{self, Channel, MAX_PACKET, NPL_PUBKEY_LEN};

/// A `SOCK_SEQPACKET` channel (control or NPL): one packet per message.
#[derive(Debug)]
pub(crate) struct PacketSocket {
    fd: OwnedFd,
    channel: Channel,
    /// The receive timeout last set on the socket (`None`: not set or unknown).
    rcv_timeout: std::cell::Cell<Option<Duration>>,
}

/// What waiting for one packet produced.
#[derive(Debug, PartialEq, Eq)]
enum Packet {
    /// A packet of n bytes, at the start of the buffer.
    Data(usize),
    /// The deadline passed.
    Timeout,
    /// The engine closed the channel.
    Closed,
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
    pub(crate) fn new(fd: OwnedFd, channel: Channel) -> PacketSocket {
        PacketSocket {
            fd,
            channel,
            rcv_timeout: std::cell::Cell::new(None),
        }
    }

    /// Sends one packet of 1 byte to 128 KiB.
    pub(crate) fn send(&self, packet: &[u8]) -> Result<()> {
        let err = |m: String| self.channel.error(m);
        wire::check_packet(packet.len()).map_err(err)?;
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

    /// Waits for one packet until `deadline`.
    ///
    /// One blocking `recv` per packet: the socket's receive timeout
    /// (`SO_RCVTIMEO`) bounds the wait and is refreshed only when it would
    /// overshoot the deadline by a millisecond or more, so a steady stream of
    /// messages costs one system call per packet instead of poll + recv.
    fn recv_packet(&self, buf: &mut [u8], deadline: Instant) -> Result<Packet> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(Packet::Timeout);
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
                Ok(0) => return Ok(Packet::Closed),
                Ok(n) if n > buf.len() => {
                    return Err(self.channel.error(format!(
                        "received a {n}-byte packet, larger than the engine's {MAX_PACKET}-byte limit"
                    )));
                }
                Ok(n) => return Ok(Packet::Data(n)),
                Err(Errno::EINTR) => {}
                Err(Errno::EAGAIN) => {
                    // The timeout passed, or the socket is non-blocking:
                    // wait with poll for whatever is left.
                    if !self.poll_in(deadline)? {
                        return Ok(Packet::Timeout);
                    }
                }
                Err(Errno::ECONNRESET) => return Ok(Packet::Closed),
                Err(e) => return Err(self.channel.error(format!("recv failed: {e}"))),
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
                Err(e) => return Err(self.channel.error(format!("poll failed: {e}"))),
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
            Packet::Timeout => return Ok(NplRecv::Timeout),
            Packet::Closed => return Ok(NplRecv::Closed),
            Packet::Data(n) => n,
        };
        let from = buf.get(..n).unwrap_or_default();
        if !wire::is_npl_pubkey(from) {
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
            Packet::Timeout => Err(Error::Npl(format!(
                "message from {}: the data packet never came",
                String::from_utf8_lossy(key)
            ))),
            Packet::Closed => Ok(NplRecv::Closed),
            Packet::Data(n) => Ok(NplRecv::Message(n)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::sys::socket::{AddressFamily, SockFlag, SockType, socketpair};

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
        let s = PacketSocket::new(a, Channel::Npl);
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
        let c = PacketSocket::new(seqpacket().0, Channel::Control);
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
        let s = PacketSocket::new(a, Channel::Npl);
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
        let s = PacketSocket::new(a, Channel::Npl);
        socket::send(b.as_raw_fd(), b"not-a-key", MsgFlags::empty()).unwrap();
        let e = s
            .recv_npl(&mut Vec::new(), Instant::now() + Duration::from_millis(50))
            .unwrap_err();
        assert!(e.to_string().contains("public key packet"), "{e}");
    }
}
