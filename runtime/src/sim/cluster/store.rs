//! The engine's input store, and freeing memory before a fork.

use std::io;
use std::os::fd::OwnedFd;

use nix::fcntl::FallocateFlags;
use nix::sys::memfd::{MFdFlags, memfd_create};

/// Returns the allocator's free memory to the OS (glibc), so that a contract
/// forked next does not inherit it into its peak RSS (see `Cluster::run`).
pub(super) fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists.
    unsafe {
        nix::libc::malloc_trim(0);
    }
}

/// The engine's input store: one memfd per node that only grows, each input
/// at the next 4096-aligned offset (`util/buffer_store.cpp`).
pub(super) struct InputStore {
    pub(super) fd: OwnedFd,
    next: u64,
}

impl InputStore {
    pub(super) fn new() -> io::Result<InputStore> {
        let fd = memfd_create(c"buffer_store", MFdFlags::MFD_CLOEXEC).map_err(io::Error::from)?;
        Ok(InputStore { fd, next: 0 })
    }

    pub(super) fn write(&mut self, data: &[u8]) -> io::Result<(u64, u64)> {
        let offset = self.next;
        let mut done = 0;
        while done < data.len() {
            let at = i64::try_from(offset + done as u64)
                .map_err(|_| io::Error::other("input store too large"))?;
            let rest = data.get(done..).unwrap_or_default();
            done += nix::sys::uio::pwrite(&self.fd, rest, at).map_err(io::Error::from)?;
        }
        self.next = (offset + data.len() as u64).div_ceil(4096) * 4096;
        Ok((offset, data.len() as u64))
    }

    /// Frees consumed inputs like the engine (the file keeps its size).
    pub(super) fn punch(&self, offset: u64, len: u64) {
        if let (Ok(off), Ok(len)) = (i64::try_from(offset), i64::try_from(len))
            && len > 0
        {
            let mode = FallocateFlags::FALLOC_FL_PUNCH_HOLE | FallocateFlags::FALLOC_FL_KEEP_SIZE;
            // Only a memory optimisation; the engine ignores failures too.
            let _ = nix::fcntl::fallocate(&self.fd, mode, off, len);
        }
    }
}
