//! `cargo bench --bench round_cost -- empty-deploy`: the empty round of the
//! raw baseline and of the framework, both built the way README.md ("The
//! release profile to deploy with") says to deploy, run as the engine runs
//! an empty consensus round, interleaved, with the CPU of each execution
//! from `wait4`.
//!
//! The two contracts (tests/bench/contracts/raw_echo.rs and fw_echo.rs) are
//! built by the package in tests/bench/deploy (its own workspace: `hotpocket`
//! without `sim`, the README's `[profile.release]`) with
//! `RUSTFLAGS="-C target-feature=+crt-static"`, in a target directory of
//! their own (`<target>/bench-deploy`), so the workspace's build cache is
//! left alone. Each round is set up here rather than by the simulator: the
//! simulator forks from a large multi-threaded process and prepares the
//! child before exec, which the child's CPU counts and which has nothing to
//! do with either contract. Here the child is started with the args JSON in
//! a pipe on stdin, fresh control and NPL SEQPACKET pairs, an empty input
//! memfd, no users, an empty environment, stdout and stderr to pipes, in a
//! state directory whose parent holds `patch.cfg`: what hpcore hands it.
//! Every binary runs from a copy whose page cache was dropped, so that each
//! is read back by its first exec the same way (see `main`).
//!
//! Environment: `BENCH_REPS=n` rounds of each (default 400, after one
//! warm-up each); `BENCH_DEPLOY_RUSTFLAGS`: flags added to both builds (to
//! try another profile; the target directory is shared, so cargo rebuilds);
//! `BENCH_DEPLOY_MORE=name=path:name=path`: more binaries to run in the same
//! interleaved series (other builds of the same contracts), each compared to raw.

use std::io::Write as _;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::ROOT;
use crate::report::{median, ms};

/// One execution: CPU (user + system) and minor page faults.
#[derive(Clone, Copy, Debug)]
struct Run {
    cpu: Duration,
    minflt: u64,
}

/// Builds both contracts with the deploy profile; their paths (raw, framework).
fn build() -> (PathBuf, PathBuf) {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let host = Command::new(std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into()))
        .arg("-vV")
        .output()
        .ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .find_map(|l| l.strip_prefix("host: ").map(str::to_owned))
        })
        .unwrap_or_else(|| "x86_64-unknown-linux-gnu".into());
    let outer = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(ROOT).join("target"));
    let target_dir = outer.join("bench-deploy");
    let manifest = Path::new(ROOT).join("tests/bench/deploy/Cargo.toml");
    let mut rustflags = "-C target-feature=+crt-static".to_owned();
    if let Ok(extra) = std::env::var("BENCH_DEPLOY_RUSTFLAGS") {
        rustflags = format!("{rustflags} {extra}");
    }
    eprintln!(
        "empty-deploy: building {} (release, {host}, RUSTFLAGS={rustflags}) into {}",
        manifest.display(),
        target_dir.display()
    );
    let status = Command::new(cargo)
        .args(["build", "--release", "--locked", "--target", &host])
        .arg("--manifest-path")
        .arg(&manifest)
        .env("CARGO_TARGET_DIR", &target_dir)
        // With `--target`, RUSTFLAGS reaches the contracts but not build
        // scripts or proc macros (which cannot be static).
        .env("RUSTFLAGS", &rustflags)
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .status();
    assert!(
        status.as_ref().is_ok_and(|s| s.success()),
        "empty-deploy: building tests/bench/deploy failed: {status:?}"
    );
    let dir = target_dir.join(&host).join("release");
    (dir.join("bench-raw-echo"), dir.join("bench-fw-echo"))
}

/// A SEQPACKET pair: the contract's end (first) open across exec, the
/// host's close-on-exec, as after the engine's fork (the host's ends do not
/// reach the contract).
fn seqpacket_pair() -> (OwnedFd, OwnedFd) {
    let mut fds = [0 as RawFd; 2];
    // SAFETY: socketpair writes two fds into the array.
    let rc = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    };
    assert_eq!(rc, 0, "socketpair: {}", std::io::Error::last_os_error());
    // SAFETY: the kernel just returned these fds; nothing else owns them.
    let (contract, host) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    inheritable(&contract);
    (contract, host)
}

/// Clears CLOEXEC (this bench spawns from one thread, so no other spawn
/// inherits the fd meanwhile).
fn inheritable(fd: &OwnedFd) {
    // SAFETY: fcntl on an fd we own, with integer arguments.
    assert_eq!(unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_SETFD, 0) }, 0);
}

/// hpcore 0.6.4's args for an empty consensus round of a 1-node cluster.
fn args_json(npl_fd: RawFd, control_fd: RawFd, user_in_fd: RawFd) -> String {
    let key = format!("ed{}", "5a".repeat(32));
    format!(
        "{{\"hp_version\":\"0.6.4\",\"contract_id\":\"3c5e4a2e-6b8b-4a7e-9a43-0c4d9b1f2e17\",\
         \"public_key\":\"{key}\",\"private_key\":\"ed{priv}\",\"timestamp\":1780000000000,\
         \"readonly\":false,\"lcl_seq_no\":42,\"lcl_hash\":\"{hash}\",\"npl_fd\":{npl_fd},\
         \"control_fd\":{control_fd},\"user_in_fd\":{user_in_fd},\"users\":{{}},\
         \"unl\":{{\"{key}\":{{\"active_on\":1}}}}}}",
        priv = "7b".repeat(64),
        hash = "c1".repeat(32),
    )
}

/// One empty round of `bin` in `state_dir`.
// The child is reaped by `wait4` (for its rusage), not by `Child::wait`.
#[allow(clippy::zombie_processes)]
fn run_once(bin: &Path, state_dir: &Path) -> Run {
    let (control_sc, control_hp) = seqpacket_pair();
    let (npl_sc, npl_hp) = seqpacket_pair();
    // SAFETY: memfd_create takes a C string and flags; the result is checked.
    let input = unsafe { libc::memfd_create(c"user_in".as_ptr(), libc::MFD_CLOEXEC) };
    assert!(input >= 0, "memfd_create");
    // SAFETY: the fd was just created and is owned by nothing else.
    let input = unsafe { OwnedFd::from_raw_fd(input) };
    inheritable(&input);
    let json = args_json(
        npl_sc.as_raw_fd(),
        control_sc.as_raw_fd(),
        input.as_raw_fd(),
    );
    let mut p = [0 as RawFd; 2];
    // SAFETY: pipe2 writes two fds into the array.
    assert_eq!(unsafe { libc::pipe2(p.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    // SAFETY: fresh fds owned by nothing else.
    let (stdin_r, stdin_w) = unsafe { (OwnedFd::from_raw_fd(p[0]), OwnedFd::from_raw_fd(p[1])) };
    // The args are in the pipe before the contract starts: hpcore's forked
    // child writes them before its execv.
    let mut w = std::fs::File::from(stdin_w);
    w.write_all(json.as_bytes()).expect("args into the pipe");
    drop(w);
    let mut child = Command::new(bin)
        .env_clear()
        .current_dir(state_dir)
        .stdin(Stdio::from(stdin_r))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn the contract");
    drop((control_sc, npl_sc, input));
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: a zeroed rusage is valid; wait4 fills it for our own child.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for the child just spawned; both pointers are live.
    let rc = unsafe { libc::wait4(pid, &mut status, 0, &mut ru) };
    assert_eq!(rc, pid, "wait4");
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut err);
    }
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{}: empty round failed (status {status:#x}): {err}",
        bin.display()
    );
    // The framework says it is done on the control channel.
    drop((control_hp, npl_hp));
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    Run {
        cpu: tv(ru.ru_utime) + tv(ru.ru_stime),
        minflt: ru.ru_minflt as u64,
    }
}

/// Writes `path` back and drops its pages from the page cache.
fn drop_page_cache(path: &Path) {
    let f = std::fs::File::open(path).expect("open the copy");
    f.sync_all().expect("fsync the copy");
    // SAFETY: posix_fadvise on an fd we own, with integer arguments.
    let rc = unsafe { libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
    assert_eq!(rc, 0, "posix_fadvise(DONTNEED)");
}

/// The `empty-deploy` mode of `round_cost`.
pub(crate) fn main() {
    let reps: usize = std::env::var("BENCH_REPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(400);
    let (raw, fw) = build();
    let dir = std::env::temp_dir().join(format!("hp-empty-deploy-{}", std::process::id()));
    let state = dir.join("state");
    std::fs::create_dir_all(&state).expect("state directory");
    std::fs::write(dir.join("patch.cfg"), br#"{"version":"2.0","unl":[],"bin_path":"contract","bin_args":"","environment":"","max_input_ledger_offset":10,"consensus":{"mode":"public","roundtime":1000,"stage_slice":25,"threshold":80},"npl":{"mode":"private"},"round_limits":{"user_input_bytes":0,"user_output_bytes":0,"npl_output_bytes":0,"proc_cpu_seconds":0,"proc_mem_bytes":0,"proc_ofd_count":0,"exec_timeout":0}}"#).expect("patch.cfg");
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let mut bins: Vec<(String, PathBuf)> = vec![("raw".into(), raw), ("framework".into(), fw)];
    // More builds to compare (other flags, musl, ...): `name=path:name=path`.
    if let Ok(more) = std::env::var("BENCH_DEPLOY_MORE") {
        for item in more.split(':').filter(|s| !s.is_empty()) {
            let (name, path) = item.split_once('=').expect("BENCH_DEPLOY_MORE: name=path");
            bins.push((name.to_owned(), PathBuf::from(path)));
        }
    }
    // Every binary runs from a copy whose page cache is dropped first, so
    // that the first (warm-up) exec reads it back the same way for all. How a
    // file's page cache came to be (the linker's writes, a copy) decides its
    // folio sizes and with them how many page faults mapping the code takes:
    // the same binary differed by up to 6 faults per run between the file
    // the linker wrote, a `cp` of it and a `copy_file_range` of it; once
    // dropped and read back, all three take the same number.
    for (i, (_, path)) in bins.iter_mut().enumerate() {
        let copy = dir.join(format!("contract-{i}"));
        std::fs::copy(&*path, &copy).expect("copy the contract");
        drop_page_cache(&copy);
        *path = copy;
    }
    let n = bins.len();
    let mut runs: Vec<Vec<Run>> = vec![Vec::new(); n];
    for rep in 0..=reps {
        // Rotate which goes first, so none always follows another.
        for k in 0..n {
            let i = (k + rep) % n;
            let r = run_once(&bins[i].1, &state);
            if rep > 0 {
                runs[i].push(r);
            }
        }
    }
    let load_after = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    let size = |p: &Path| std::fs::metadata(p).map_or(0, |m| m.len());
    println!(
        "empty round, deploy profile (README: lto = \"fat\", codegen-units = 1, +crt-static; hotpocket without `sim`), {reps} rounds each, interleaved"
    );
    println!(
        "load average at the start: {}; at the end: {}",
        load.split_whitespace().next().unwrap_or("?"),
        load_after.split_whitespace().next().unwrap_or("?")
    );
    println!("| contract | binary | CPU median | min | mean | minor faults (median) |");
    println!("|---|--:|--:|--:|--:|--:|");
    let mut medians = vec![Duration::ZERO; n];
    for (i, (name, path)) in bins.iter().enumerate() {
        let cpu: Vec<Duration> = runs[i].iter().map(|r| r.cpu).collect();
        let mean = cpu.iter().sum::<Duration>() / cpu.len().max(1) as u32;
        let min = cpu.iter().min().copied().unwrap_or_default();
        medians[i] = median(cpu);
        let faults = median(runs[i].iter().map(|r| r.minflt).collect());
        println!(
            "| {name} | {} KiB | {} ms | {} ms | {} ms | {faults} |",
            size(path) / 1024,
            ms(medians[i]),
            ms(min),
            ms(mean),
        );
    }
    for (i, (name, _)) in bins.iter().enumerate().skip(1) {
        let ratio = medians[i].as_secs_f64() / medians[0].as_secs_f64().max(1e-9);
        println!("{name} / raw (medians): {ratio:.2}x");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
