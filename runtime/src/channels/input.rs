//! The engine's input store: each input read by its (offset, size), copied
//! or, when large, memory-mapped; a mapped input is remembered so a message
//! made of it can go to a socket with `sendfile`.

use std::fs::File;
use std::num::NonZeroUsize;
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::unix::fs::FileExt;
use std::ptr::NonNull;

use nix::sys::mman::{MapFlags, ProtFlags};

use crate::args::InputRef;
use crate::error::{Error, Result};

/// Inputs at least this large are memory-mapped instead of copied: copying
/// costs more than a mapping's page-table work only for large inputs.
const MMAP_THRESHOLD: u64 = 256 * 1024;

/// The engine's input store (a memfd). Each input is read by its (offset,
/// size) pair and nothing else is touched: the file also holds inputs of
/// other rounds and of read requests.
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
pub(super) fn mapped_source(payload: &[u8]) -> Option<(RawFd, u64)> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::channels::memfd_with;
    use std::os::unix::net::UnixStream;

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
}
