//! Shared helpers of the "raw" test contracts: the engine protocol spoken by
//! hand with std and serde_json only, independent of the hotpocket runtime,
//! so the simulator is checked against code that does not share its
//! assumptions.

#![allow(dead_code, unreachable_pub)]

use std::fs::File;
use std::io::{Read, Write};
use std::mem::ManuallyDrop;
use std::os::fd::{FromRawFd, RawFd};
use std::os::unix::fs::FileExt;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The round's arguments plus convenience accessors.
pub struct Ctx {
    pub args: Value,
    pub raw: String,
}

pub fn read_args() -> Ctx {
    let mut raw = String::new();
    std::io::stdin().read_to_string(&mut raw).expect("stdin");
    let args: Value = serde_json::from_str(&raw).expect("args JSON");
    Ctx { args, raw }
}

/// A borrowed fd as a socket (works for SOCK_STREAM and SOCK_SEQPACKET alike:
/// read/write on a SEQPACKET socket move one packet).
pub fn sock(fd: RawFd) -> ManuallyDrop<UnixStream> {
    // SAFETY: the engine handed us this fd; ManuallyDrop never closes it.
    ManuallyDrop::new(unsafe { UnixStream::from_raw_fd(fd) })
}

impl Ctx {
    pub fn str(&self, k: &str) -> &str {
        self.args[k].as_str().unwrap_or("")
    }
    pub fn read_only(&self) -> bool {
        self.args["readonly"].as_bool().unwrap_or(false) || self.args["mode"] == "read_req"
    }
    pub fn fallback(&self) -> bool {
        self.args["mode"] == "consensus_fallback"
    }
    pub fn npl_fd(&self) -> Option<RawFd> {
        self.args["npl_fd"].as_i64().map(|f| f as RawFd)
    }
    pub fn control_fd(&self) -> RawFd {
        self.args["control_fd"].as_i64().unwrap_or(-1) as RawFd
    }
    pub fn unl_count(&self) -> usize {
        self.args["unl"].as_object().map_or(0, |m| m.len())
    }
    /// (public key, out fd, inputs) per user, in the JSON's (sorted) order.
    pub fn users(&self) -> Vec<(String, RawFd, Vec<Vec<u8>>)> {
        let in_fd = self.args["user_in_fd"].as_i64().unwrap_or(-1) as RawFd;
        // SAFETY: as above; never closed.
        let input = ManuallyDrop::new(unsafe { File::from_raw_fd(in_fd) });
        let mut out = Vec::new();
        for (pk, arr) in self.args["users"].as_object().into_iter().flatten() {
            let arr = arr.as_array().expect("user array");
            let fd = arr[0].as_i64().expect("out fd") as RawFd;
            let mut inputs = Vec::new();
            for pair in &arr[1..] {
                let off = pair[0].as_u64().expect("offset");
                let len = pair[1].as_u64().expect("len") as usize;
                let mut buf = vec![0; len];
                input.read_exact_at(&mut buf, off).expect("pread input");
                inputs.push(buf);
            }
            out.push((pk.clone(), fd, inputs));
        }
        out
    }
}

/// One output message: header and payload in one write.
pub fn send(fd: RawFd, msg: &[u8]) -> std::io::Result<()> {
    let mut buf = (msg.len() as u32).to_be_bytes().to_vec();
    buf.extend_from_slice(msg);
    sock(fd).write_all(&buf)
}

/// Sends one NPL (or control) packet.
pub fn packet(fd: RawFd, data: &[u8]) -> std::io::Result<usize> {
    sock(fd).write(data)
}

/// Reads NPL messages (key packet + data packet) until `want` arrived or
/// `timeout` passed.
pub fn npl_collect(fd: RawFd, want: usize, timeout: Duration) -> Vec<(String, Vec<u8>)> {
    let s = sock(fd);
    let end = Instant::now() + timeout;
    let mut got = Vec::new();
    let mut key: Option<String> = None;
    let mut buf = vec![0u8; 256 * 1024];
    while got.len() < want {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        s.set_read_timeout(Some(left)).ok();
        match (&*s).read(&mut buf) {
            Ok(0) => break,
            Ok(n) => match key.take() {
                None => key = Some(String::from_utf8_lossy(&buf[..n]).into_owned()),
                Some(k) => got.push((k, buf[..n].to_vec())),
            },
            Err(_) => break,
        }
    }
    got
}

/// Bytes written to the socket `fd` that its peer has not read yet
/// (`SIOCOUTQ`); 0 once the peer read everything.
pub fn unread_by_peer(fd: RawFd) -> usize {
    unsafe extern "C" {
        fn ioctl(fd: i32, request: std::ffi::c_ulong, ...) -> i32;
    }
    const SIOCOUTQ: std::ffi::c_ulong = 0x5411;
    let mut pending: i32 = 0;
    // SAFETY: SIOCOUTQ writes one int through the pointer, which is valid.
    let r = unsafe { ioctl(fd, SIOCOUTQ, &mut pending as *mut i32) };
    assert!(
        r == 0,
        "ioctl(SIOCOUTQ): {}",
        std::io::Error::last_os_error()
    );
    pending.max(0) as usize
}
