//! Runs a program with `fsync` and `fdatasync` failing with EIO, the way a
//! failing disk reports a lost write: a seccomp filter installed here is
//! kept across `exec`. For tests/contract/state_commit_failure.rs.
//! Usage: `test-fsync-eio <program> [args...]`.

use std::os::unix::process::CommandExt;

use libc::{
    BPF_ABS, BPF_JEQ, BPF_JMP, BPF_K, BPF_LD, BPF_RET, BPF_W, EIO, PR_SET_NO_NEW_PRIVS,
    SECCOMP_MODE_FILTER, SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO, sock_filter, sock_fprog,
};

/// `AUDIT_ARCH_*` of the target: a filter must check it, since syscall
/// numbers differ between architectures.
#[cfg(target_arch = "x86_64")]
const ARCH: u32 = 0xC000_003E;
#[cfg(target_arch = "aarch64")]
const ARCH: u32 = 0xC000_00B7;

/// Offsets in `struct seccomp_data`: the syscall number, then the arch.
const NR: u32 = 0;
const ARCH_OFFSET: u32 = 4;

fn stmt(code: u32, k: u32) -> sock_filter {
    sock_filter {
        code: code as u16,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump_eq(k: u32, jt: u8, jf: u8) -> sock_filter {
    sock_filter {
        code: (BPF_JMP | BPF_JEQ | BPF_K) as u16,
        jt,
        jf,
        k,
    }
}

fn install() -> std::io::Result<()> {
    let eio = SECCOMP_RET_ERRNO | (EIO as u32);
    let mut prog = [
        stmt(BPF_LD | BPF_W | BPF_ABS, ARCH_OFFSET),
        // Another architecture's calls pass untouched.
        jump_eq(ARCH, 0, 4),
        stmt(BPF_LD | BPF_W | BPF_ABS, NR),
        jump_eq(libc::SYS_fsync as u32, 2, 0),
        jump_eq(libc::SYS_fdatasync as u32, 1, 0),
        stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
        stmt(BPF_RET | BPF_K, eio),
    ];
    let fprog = sock_fprog {
        len: prog.len() as u16,
        filter: prog.as_mut_ptr(),
    };
    // SAFETY: plain prctl calls; fprog points at `prog`, alive for the call.
    let r = unsafe {
        if libc::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 {
            -1
        } else {
            libc::prctl(
                libc::PR_SET_SECCOMP,
                SECCOMP_MODE_FILTER,
                &fprog as *const sock_fprog,
            )
        }
    };
    if r == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

fn main() {
    let mut args = std::env::args_os().skip(1);
    let Some(program) = args.next() else {
        eprintln!("usage: test-fsync-eio <program> [args...]");
        std::process::exit(2);
    };
    if let Err(e) = install() {
        eprintln!("test-fsync-eio: installing the seccomp filter: {e}");
        std::process::exit(2);
    }
    let e = std::process::Command::new(program).args(args).exec();
    eprintln!("test-fsync-eio: exec: {e}");
    std::process::exit(2);
}
