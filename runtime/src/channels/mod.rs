//! The engine's channels, byte for byte, one file per channel: descriptor
//! hygiene ([`fds`]), the input file ([`input`]), the users' output streams
//! ([`output`]) and the control and NPL packet sockets ([`packet`]). Nothing
//! here knows about handlers or rounds; it moves bytes and reports precisely
//! what went wrong. The limits come from [`crate::wire`].

pub(crate) mod fds;
pub(crate) mod input;
pub(crate) mod output;
pub(crate) mod packet;

pub(crate) use fds::{check_socket, close_unnamed_fds, read_to_end, stdin_fd, take_fd};
pub(crate) use input::{InputBytes, InputFile};
pub(crate) use output::OutputSocket;
pub(crate) use packet::{NplRecv, PacketSocket};

/// A memfd holding `chunks` at their offsets (tests).
#[cfg(test)]
pub(crate) fn memfd_with(chunks: &[(u64, &[u8])]) -> std::os::fd::OwnedFd {
    use std::os::unix::fs::FileExt;
    let fd = nix::sys::memfd::memfd_create(c"buffer_store", nix::sys::memfd::MFdFlags::MFD_CLOEXEC)
        .unwrap();
    let file = std::fs::File::from(fd);
    for (off, bytes) in chunks {
        file.write_all_at(bytes, *off).unwrap();
    }
    std::os::fd::OwnedFd::from(file)
}
