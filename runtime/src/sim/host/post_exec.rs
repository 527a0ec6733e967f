//! `post_exec.sh`, run after a successful consensus execution.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use nix::libc;

use super::super::report::{Exit, PostExec, PostExecOutcome};

/// Runs `<workdir>/post_exec.sh` as the engine does after a successful
/// consensus execution ([`guide::protocol`](crate::guide::protocol#post_execsh)): argv[1] is the single string
/// `"<seq> <hash>"`, the simulator's own environment is inherited, there is
/// no timeout. Exit 0 deletes the script, 3–125 keeps it, anything else fails.
pub(crate) fn run_post_exec(workdir: &Path, lcl_seq_no: u64, lcl_hash: &str) -> Option<PostExec> {
    let script = workdir.join("post_exec.sh");
    if !script.exists() {
        return None;
    }
    // How long another thread's child may take to reach its exec.
    let give_up = Instant::now() + Duration::from_secs(10);
    let result = loop {
        let out = Command::new(&script)
            .arg0("post_exec.sh")
            .arg(format!("{lcl_seq_no} {lcl_hash}"))
            .current_dir(workdir)
            .stdin(Stdio::null())
            .output();
        // ETXTBSY: another thread of this process (e.g. a parallel test) forked
        // while the script was open for writing; it clears at that child's exec.
        match out {
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && Instant::now() < give_up => {
                std::thread::sleep(Duration::from_millis(10));
            }
            other => break other,
        }
    };
    let (exit, output) = match result {
        // hpcore's child reports the failed execv and exits 1.
        Err(e) => (
            Exit::Code(1),
            format!("post_exec.sh: execv failed: {e}\n").into_bytes(),
        ),
        Ok(out) => {
            use std::os::unix::process::ExitStatusExt;
            let exit = match (out.status.code(), out.status.signal()) {
                (Some(c), _) => Exit::Code(c),
                (None, Some(s)) => Exit::Signal(s),
                (None, None) => Exit::Code(1),
            };
            let mut output = out.stdout;
            output.extend_from_slice(&out.stderr);
            (exit, output)
        }
    };
    let outcome = match exit {
        Exit::Code(0) => PostExecOutcome::Deleted,
        Exit::Code(3..=125) => PostExecOutcome::Kept,
        _ => PostExecOutcome::Failed,
    };
    if outcome == PostExecOutcome::Deleted {
        // A failure to delete is what hpcore reports as a failed execution too,
        // but then the script is still there for the next round to show it.
        let _ = std::fs::remove_file(&script);
    }
    Some(PostExec {
        exit,
        outcome,
        output,
    })
}
