//! The engine's wire limits and the checks that follow from them, in one
//! place: the runtime's sockets, its in-memory test doubles and the
//! simulator all use these, so a limit has one name and one message.
//!
//! Nothing here does I/O; every function is pure.

/// The engine's read size: it reads control and NPL packets, and each user's
/// output stream, with one 128 KiB buffer (hpcore's `READ_BUFFER_SIZE`). A
/// packet larger than that is cut short by the engine, so the runtime refuses
/// it; one read of a user's output stream returns at most this many bytes.
pub const MAX_PACKET: usize = 128 * 1024;

/// The length header in front of every user output message: a 4-byte
/// big-endian payload length.
pub(crate) const FRAME_HEADER_LEN: usize = 4;

/// The length of a public key as the engine writes it on the NPL channel:
/// `ed` + 64 hex characters.
pub(crate) const NPL_PUBKEY_LEN: usize = 66;

/// A packet channel between the contract and the engine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Channel {
    /// The node party line.
    Npl,
    /// The control channel.
    Control,
}

impl Channel {
    /// The channel's error, carrying `message`.
    pub(crate) fn error(self, message: String) -> crate::Error {
        match self {
            Channel::Npl => crate::Error::Npl(message),
            Channel::Control => crate::Error::Control(message),
        }
    }
}

/// Checks that a packet of `len` bytes is one the engine delivers whole: 1 to
/// [`MAX_PACKET`] bytes (an empty packet reads as nothing, a larger one is
/// cut). The message goes into the channel's error, which names the channel.
pub(crate) fn check_packet(len: usize) -> Result<(), String> {
    if len == 0 {
        return Err("empty messages are not delivered by the engine; refused".into());
    }
    if len > MAX_PACKET {
        return Err(format!(
            "message of {len} bytes exceeds the engine's {MAX_PACKET}-byte packet limit"
        ));
    }
    Ok(())
}

/// The length header for a payload of `len` bytes, or `None` when the length
/// does not fit the 4-byte header.
pub(crate) fn frame_header(len: usize) -> Option<[u8; FRAME_HEADER_LEN]> {
    u32::try_from(len).ok().map(u32::to_be_bytes)
}

/// Whether `packet` has the shape of a sender's key on the NPL channel.
pub(crate) fn is_npl_pubkey(packet: &[u8]) -> bool {
    packet.len() == NPL_PUBKEY_LEN && packet.iter().all(u8::is_ascii_hexdigit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packet_limits_have_one_message() {
        assert!(check_packet(1).is_ok());
        assert!(check_packet(MAX_PACKET).is_ok());
        assert_eq!(
            check_packet(0).unwrap_err(),
            "empty messages are not delivered by the engine; refused"
        );
        assert_eq!(
            Channel::Npl
                .error(check_packet(MAX_PACKET + 1).unwrap_err())
                .to_string(),
            "NPL: message of 131073 bytes exceeds the engine's 131072-byte packet limit"
        );
    }

    #[test]
    fn headers_are_big_endian_and_bounded() {
        assert_eq!(frame_header(0x0102_0304), Some([1, 2, 3, 4]));
        assert_eq!(frame_header(usize::MAX), None);
        assert!(is_npl_pubkey(
            ("ed".to_owned() + &"ab".repeat(32)).as_bytes()
        ));
        assert!(!is_npl_pubkey(b"ed12"));
    }
}
