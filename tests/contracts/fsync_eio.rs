//! Runs a program with `fsync` and `fdatasync` failing with EIO, the way a
//! failing disk reports a lost write: a seccomp filter installed here is
//! kept across `exec`. For tests/contract/state_commit_failure.rs.
//! Usage: `test-fsync-eio <program> [args...]`.

use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;

use seccompiler::{BpfProgram, SeccompAction, SeccompFilter};

/// fsync and fdatasync fail with EIO; every other call passes.
fn install() -> Result<(), String> {
    let rules = [libc::SYS_fsync, libc::SYS_fdatasync]
        .into_iter()
        .map(|nr| (nr, Vec::new()))
        .collect::<BTreeMap<_, _>>();
    let arch = std::env::consts::ARCH
        .try_into()
        .map_err(|e| format!("{e:?}"))?;
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EIO as u32),
        arch,
    )
    .map_err(|e| e.to_string())?;
    let program: BpfProgram = filter.try_into().map_err(|e| format!("{e:?}"))?;
    // Sets no_new_privs first, so no privilege is needed.
    seccompiler::apply_filter(&program).map_err(|e| e.to_string())
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
