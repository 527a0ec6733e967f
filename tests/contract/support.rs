//! Helpers shared by the bad-input catalogue's test modules: the catalogue
//! contract, JSON edits of the round's arguments, and the secret check every
//! case runs.

#![allow(dead_code, unreachable_pub)]

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::FileExt;
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use hotpocket::sim::{KeyPair, NodeReport, RoundReport};
use nix::sys::socket::{AddressFamily, SockFlag, SockType, socketpair};
use serde_json::Value;

/// The catalogue contract (tests/contracts/catalogue.rs).
pub const BIN: &str = env!("CARGO_BIN_EXE_test-catalogue");

/// A node's stderr as text.
pub fn stderr(n: &NodeReport) -> String {
    String::from_utf8_lossy(&n.stderr).into_owned()
}

/// Rewrites the args JSON through a `serde_json::Value` (key order is lost,
/// which the runtime does not care about).
pub fn edit(json: &str, f: impl FnOnce(&mut serde_json::Map<String, Value>)) -> String {
    let mut v: Value = serde_json::from_str(json).expect("the simulator's args are JSON");
    f(v.as_object_mut().expect("an object"));
    v.to_string()
}

/// User alice's entry (`[out_fd, [offset, size], ...]`) in the args: the
/// user every catalogue case gives inputs to.
pub fn first_user(args: &mut serde_json::Map<String, Value>) -> &mut Vec<Value> {
    let alice = KeyPair::user("alice").public_key;
    args.get_mut("users")
        .and_then(Value::as_object_mut)
        .and_then(|u| u.get_mut(&alice))
        .and_then(Value::as_array_mut)
        .expect("alice among the users")
}

/// True when the contract said goodbye on the control channel, which the
/// runtime does at the end of every round that got past its arguments.
pub fn sent_contract_end(n: &NodeReport) -> bool {
    n.control
        .iter()
        .any(|c| c.raw == br#"{"type":"contract_end"}"#)
}

/// Pieces of a private key worth searching for. An ed25519 secret key in
/// the engine's form is `ed` + seed (64 hex) + public key (64 hex); the
/// public half is no secret (it appears in UNL paths of error messages), so
/// the needles are the seed and both its halves (a partial leak is still a
/// leak).
fn secret_needles(private_key: &str) -> Vec<String> {
    let hex = private_key.trim_start_matches("ed");
    [0..64, 0..32, 32..64]
        .into_iter()
        .filter_map(|r| hex.get(r).map(str::to_owned))
        .collect()
}

/// Fails if any node's private key, or a piece of it, appears in anything
/// the node's contract made visible: stdout, stderr, outputs, control and
/// NPL messages.
#[track_caller]
pub fn assert_no_secret(r: &RoundReport) {
    for n in &r.nodes {
        let key = KeyPair::node(n.index).private_key;
        let mut seen: Vec<(String, Vec<u8>)> = vec![
            ("stdout".into(), n.stdout.clone()),
            ("stderr".into(), n.stderr.clone()),
        ];
        for u in &n.outputs {
            for (i, m) in u.messages.iter().enumerate() {
                seen.push((format!("output #{i} to {}", u.user), m.clone()));
            }
        }
        for (i, c) in n.control.iter().enumerate() {
            seen.push((format!("control message #{i}"), c.raw.clone()));
        }
        for (i, m) in n.npl_sent.iter().enumerate() {
            seen.push((format!("NPL message #{i}"), m.clone()));
        }
        for needle in secret_needles(&key) {
            for (what, bytes) in &seen {
                let text = String::from_utf8_lossy(bytes);
                assert!(
                    !text.contains(&needle),
                    "node {}'s private key leaked into its {what}",
                    n.index
                );
            }
        }
    }
}

/// What a [`HandRound`] left: exit code (`None` for a signal), stderr, and
/// user alice's outputs.
pub struct HandRun {
    pub code: Option<i32>,
    pub stderr: String,
    pub outputs: Vec<String>,
}

/// One consensus round of the catalogue contract for user alice with
/// channels made by hand, for what the simulator does not do: the engine's
/// side of control or NPL closed from the start, or a kill at a precise
/// moment. The node is the simulator's node 0 (its keys).
pub struct HandRound {
    child: Child,
    spawned: Instant,
    reader: JoinHandle<Vec<u8>>,
    stderr: JoinHandle<Vec<u8>>,
    stderr_seen: std::sync::mpsc::Receiver<Instant>,
    _engine_ends: (Option<OwnedFd>, Option<OwnedFd>),
}

fn pair(ty: SockType) -> (OwnedFd, OwnedFd) {
    // CLOEXEC: other tests spawn processes concurrently; the child clears
    // the flag on its own ends only.
    socketpair(AddressFamily::Unix, ty, None, SockFlag::SOCK_CLOEXEC).unwrap()
}

impl HandRound {
    /// Starts the contract in `state` (its working directory) with alice's inputs.
    pub fn spawn(state: &Path, inputs: &[&str], close_control: bool, close_npl: bool) -> HandRound {
        Self::spawn_with(state, inputs, close_control, close_npl, &[])
    }

    /// [`spawn`](Self::spawn) with an environment.
    pub fn spawn_with(
        state: &Path,
        inputs: &[&str],
        close_control: bool,
        close_npl: bool,
        env: &[(&str, &str)],
    ) -> HandRound {
        Self::spawn_inner(state, inputs, close_control, close_npl, env, false)
    }

    /// [`spawn`](Self::spawn) with a broken stderr: a pipe nobody reads
    /// (its read end closed), so every write to it fails with EPIPE.
    pub fn spawn_stderr_broken(state: &Path, inputs: &[&str]) -> HandRound {
        Self::spawn_inner(state, inputs, false, false, &[], true)
    }

    fn spawn_inner(
        state: &Path,
        inputs: &[&str],
        close_control: bool,
        close_npl: bool,
        env: &[(&str, &str)],
        stderr_broken: bool,
    ) -> HandRound {
        let node = KeyPair::node(0);
        let alice = KeyPair::user("alice");
        let store = File::from(
            nix::sys::memfd::memfd_create(c"buffer_store", nix::sys::memfd::MFdFlags::MFD_CLOEXEC)
                .unwrap(),
        );
        let mut refs = String::new();
        let mut offset = 0u64;
        for input in inputs {
            store.write_all_at(input.as_bytes(), offset).unwrap();
            refs.push_str(&format!(",[{offset},{}]", input.len()));
            offset = (offset + input.len() as u64).div_ceil(4096) * 4096;
        }
        let (user_sc, user_hp) = pair(SockType::Stream);
        let (control_sc, control_hp) = pair(SockType::SeqPacket);
        let (npl_sc, npl_hp) = pair(SockType::SeqPacket);
        let (u, c, n, i) = (
            user_sc.as_raw_fd(),
            control_sc.as_raw_fd(),
            npl_sc.as_raw_fd(),
            store.as_raw_fd(),
        );
        let args = format!(
            r#"{{"hp_version":"0.6.4","contract_id":"c","public_key":"{}","private_key":"{}","timestamp":1,"readonly":false,"lcl_seq_no":1,"lcl_hash":"{}","npl_fd":{n},"control_fd":{c},"user_in_fd":{i},"users":{{"{}":[{u}{refs}]}},"unl":{{"{}":{{"active_on":1}}}}}}"#,
            node.public_key,
            node.private_key,
            "ab".repeat(32),
            alice.public_key,
            node.public_key,
        );
        let mut cmd = Command::new(BIN);
        cmd.env_clear()
            .envs(env.iter().copied())
            .current_dir(state)
            .stdin(Stdio::piped())
            .stdout(Stdio::null());
        if stderr_broken {
            let (read_end, write_end) = nix::unistd::pipe().unwrap();
            drop(read_end);
            cmd.stderr(Stdio::from(write_end));
        } else {
            cmd.stderr(Stdio::piped());
        }
        let keep = [u, c, n, i];
        // SAFETY: only fcntl, an async-signal-safe call, between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                for fd in keep {
                    if nix::libc::fcntl(fd, nix::libc::F_SETFD, 0) == -1 {
                        return Err(std::io::Error::last_os_error());
                    }
                }
                Ok(())
            });
        }
        let control_hp = (!close_control).then_some(control_hp);
        let npl_hp = (!close_npl).then_some(npl_hp);
        let mut child = cmd.spawn().unwrap();
        let spawned = Instant::now();
        drop((user_sc, control_sc, npl_sc, store));
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(args.as_bytes()).unwrap();
        drop(stdin);
        let reader = std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = UnixStream::from(user_hp).read_to_end(&mut bytes);
            bytes
        });
        let err_pipe = child.stderr.take();
        let (lines_tx, lines) = std::sync::mpsc::channel();
        let stderr = std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let Some(mut err_pipe) = err_pipe else {
                return bytes;
            };
            let mut buf = [0u8; 4096];
            loop {
                match err_pipe.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        bytes.extend_from_slice(&buf[..n]);
                        let _ = lines_tx.send(Instant::now());
                    }
                }
            }
            bytes
        });
        HandRound {
            child,
            spawned,
            reader,
            stderr,
            stderr_seen: lines,
            _engine_ends: (control_hp, npl_hp),
        }
    }

    /// Waits until the contract first writes to stderr (at most `limit`);
    /// returns when that was seen, or `None` if it exited or the limit passed.
    pub fn wait_for_stderr(&self, limit: Duration) -> Option<Instant> {
        self.stderr_seen.recv_timeout(limit).ok()
    }

    /// When the contract was spawned.
    pub fn spawned(&self) -> Instant {
        self.spawned
    }

    /// SIGKILLs the contract at `when`, unless it exited before; returns
    /// whether it was killed.
    pub fn kill_at_instant(self, when: Instant) -> bool {
        let at = when.saturating_duration_since(self.spawned);
        self.kill_at(at)
    }

    /// SIGKILLs the contract `at` after it was spawned, unless it exited
    /// before; returns whether it was killed.
    pub fn kill_at(mut self, at: Duration) -> bool {
        let deadline = self.spawned + at;
        loop {
            if self.child.try_wait().unwrap().is_some() {
                self.finish();
                return false;
            }
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            std::thread::sleep((deadline - now).min(Duration::from_micros(200)));
        }
        // Not reaped yet, so the pid is still ours (if it has just exited,
        // the signal goes nowhere and the exit code says so).
        self.child.kill().unwrap();
        self.finish().code.is_none()
    }

    /// Waits for the contract to exit.
    pub fn finish(mut self) -> HandRun {
        let status = self.child.wait().unwrap();
        drop(self._engine_ends);
        let bytes = self.reader.join().unwrap();
        let stderr = String::from_utf8_lossy(&self.stderr.join().unwrap()).into_owned();
        let mut outputs = Vec::new();
        let mut rest = &bytes[..];
        while let [a, b, c, d, tail @ ..] = rest {
            let len = (u32::from_be_bytes([*a, *b, *c, *d]) as usize).min(tail.len());
            outputs.push(String::from_utf8_lossy(&tail[..len]).into_owned());
            rest = &tail[len..];
        }
        let seed = &KeyPair::node(0).private_key[2..66];
        assert!(!stderr.contains(seed), "the private key leaked");
        HandRun {
            code: status.code(),
            stderr,
            outputs,
        }
    }
}
