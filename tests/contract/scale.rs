//! The catalogue's size cases, as processes under the simulator: 10,000
//! users in one round, arguments far larger than a pipe, a 100 MiB input.
//! Each checks that everything is delivered and the contract's memory stays
//! near what the data itself needs.

use crate::support::{BIN, assert_no_secret, stderr};
use hotpocket::sim::{Cluster, Exit, HazardKind, KeyPair};

/// Raises this process's descriptor limit (inherited by the contract) to at
/// least `want` if it can; returns the soft limit in force.
fn raise_nofile(want: u64) -> u64 {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    if soft >= want {
        return soft;
    }
    if setrlimit(Resource::RLIMIT_NOFILE, want, want.max(hard)).is_ok() {
        return want;
    }
    let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
    getrlimit(Resource::RLIMIT_NOFILE).unwrap().0
}

/// The contract's own peak resident memory, from the `VmHWM` line it
/// writes with `CATALOGUE_PEAK_MEMORY` set. (`wait4`'s figure in the
/// simulator's report also counts the pages of the test process the
/// contract was forked from.)
fn peak_kib(stderr: &str) -> u64 {
    stderr
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmHWM line in {stderr:?}"))
}

/// Under the simulator, which like the engine holds both ends of every
/// user's socket pair while it starts the contract: two descriptors per
/// user, so the number of users is bounded by the descriptor limit
/// (RLIMIT_NOFILE 20000, the engine's own observed limit, allows about
/// 9,000 with a margin). As many users as the limit allows, up to 10,000.
#[test]
fn ten_thousand_users_in_one_round_under_the_simulator() {
    let wanted: usize = 10_000;
    let limit = raise_nofile(2 * wanted as u64 + 2000);
    let users = wanted.min((limit.saturating_sub(2000) / 2) as usize);
    if users < wanted {
        eprintln!(
            "RLIMIT_NOFILE is {limit} and cannot be raised: {users} users under the simulator \
             (10,000 run in ten_thousand_users_in_one_round_by_hand)"
        );
    }
    let mut c = Cluster::builder(BIN)
        .env("CATALOGUE_PEAK_MEMORY", "1")
        .build()
        .unwrap();
    for i in 0..users {
        c.input(&format!("u{i:05}"), format!(r#"{{"Echo":"{i}"}}"#));
    }
    let r = c.round().unwrap();
    assert_no_secret(&r);
    let n = r.node(0);
    assert_eq!(n.exit, Exit::Code(0), "{}", stderr(n));
    assert_eq!(n.outputs.len(), users);
    for u in &n.outputs {
        let i: usize = u.user[1..].parse().unwrap();
        assert_eq!(u.messages, [i.to_string().into_bytes(), b"end".to_vec()]);
    }
    // The engine itself would deadlock writing arguments this large.
    assert!(n.has_hazard(HazardKind::ArgsExceedPipe));
    let peak = peak_kib(&stderr(n));
    eprintln!(
        "{users} users under the simulator: args {} bytes, contract wall {:?}, cpu {:?}, peak {peak} KiB",
        n.args_json.len(),
        n.wall,
        n.usage.user_cpu + n.usage.sys_cpu,
    );
    assert!(peak < 64 * 1024, "{peak} KiB");
}

/// Exactly 10,000 users, whatever the descriptor limit: the 10,000 output
/// descriptors are duplicates (made in the child) of one socket, read here
/// as one stream. The runtime still sees, checks and writes 10,000
/// distinct stream sockets, in ascending key order.
#[test]
fn ten_thousand_users_in_one_round_by_hand() {
    use std::io::{Read, Write};
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::FileExt;
    use std::os::unix::process::CommandExt;
    use std::process::{Command, Stdio};

    use nix::sys::socket::{AddressFamily, SockFlag, SockType, socketpair};

    const USERS: usize = 10_000;
    const FIRST_FD: i32 = 4000;
    let pair = |ty| socketpair(AddressFamily::Unix, ty, None, SockFlag::SOCK_CLOEXEC).unwrap();
    let (user_sc, user_hp) = pair(SockType::Stream);
    let (control_sc, _control_hp) = pair(SockType::SeqPacket);
    let (npl_sc, _npl_hp) = pair(SockType::SeqPacket);
    let store = std::fs::File::from(
        nix::sys::memfd::memfd_create(c"buffer_store", nix::sys::memfd::MFdFlags::MFD_CLOEXEC)
            .unwrap(),
    );
    let node = KeyPair::node(0);
    let mut users = String::new();
    for i in 0..USERS {
        let input = format!(r#"{{"Echo":"{i}"}}"#);
        let offset = i as u64 * 4096;
        store.write_all_at(input.as_bytes(), offset).unwrap();
        if i > 0 {
            users.push(',');
        }
        // Keys ascending with i, as the engine sorts them.
        users.push_str(&format!(
            r#""ed{i:064x}":[{},[{offset},{}]]"#,
            FIRST_FD + i as i32,
            input.len()
        ));
    }
    let args = format!(
        r#"{{"hp_version":"0.6.4","contract_id":"c","public_key":"{}","private_key":"{}","timestamp":1,"readonly":false,"lcl_seq_no":1,"lcl_hash":"{}","npl_fd":{},"control_fd":{},"user_in_fd":{},"users":{{{users}}},"unl":{{"{}":{{"active_on":1}}}}}}"#,
        node.public_key,
        node.private_key,
        "ab".repeat(32),
        npl_sc.as_raw_fd(),
        control_sc.as_raw_fd(),
        store.as_raw_fd(),
        node.public_key,
    );
    let dir = std::env::temp_dir().join(format!("hotpocket-10k-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut cmd = Command::new(BIN);
    cmd.env_clear()
        .env("CATALOGUE_PEAK_MEMORY", "1")
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let keep = [
        control_sc.as_raw_fd(),
        npl_sc.as_raw_fd(),
        store.as_raw_fd(),
    ];
    let user = user_sc.as_raw_fd();
    // SAFETY: fcntl and dup2 only, both async-signal-safe, between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            for fd in keep {
                if nix::libc::fcntl(fd, nix::libc::F_SETFD, 0) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            for i in 0..USERS as i32 {
                // dup2's copy is not close-on-exec.
                if nix::libc::dup2(user, FIRST_FD + i) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let mut child = cmd.spawn().unwrap();
    drop((user_sc, control_sc, npl_sc, store));
    let reader = std::thread::spawn(move || {
        let mut bytes = Vec::new();
        std::os::unix::net::UnixStream::from(user_hp)
            .read_to_end(&mut bytes)
            .unwrap();
        bytes
    });
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(args.as_bytes()).unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let bytes = reader.join().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(!err.contains(&node.private_key[2..66]));
    let mut messages = Vec::new();
    let mut rest = &bytes[..];
    while let [a, b, c, d, tail @ ..] = rest {
        let len = u32::from_be_bytes([*a, *b, *c, *d]) as usize;
        messages.push(String::from_utf8_lossy(&tail[..len]).into_owned());
        rest = &tail[len..];
    }
    // Every user's socket is the same one here, so the stream shows the
    // order of writes: the contract keeps state, so each user's outputs are
    // held until the save and then released user by user.
    let want: Vec<String> = (0..USERS)
        .flat_map(|i| [i.to_string(), "end".to_owned()])
        .collect();
    assert!(messages == want, "{} messages", messages.len());
    let peak = peak_kib(&err);
    eprintln!(
        "10,000 users by hand: args {} bytes, peak {peak} KiB",
        args.len()
    );
    assert!(peak < 64 * 1024, "{peak} KiB");
}

#[test]
fn arguments_far_larger_than_a_pipe() {
    // 16 MiB of a field the runtime does not know, before the ones it does.
    let mut c = Cluster::builder(BIN)
        .user("alice")
        .map_args(|_, json| {
            let filler = "x".repeat(16 << 20);
            json.replacen('{', &format!(r#"{{"future_field":"{filler}","#), 1)
        })
        .build()
        .unwrap();
    c.input("alice", r#"{"Echo":"hi"}"#);
    let r = c.round().unwrap();
    assert_no_secret(&r);
    r.assert_success()
        .assert_outputs("alice", &["hi", "end"])
        .assert_hazard(HazardKind::ArgsExceedPipe);
    assert_eq!(stderr(r.node(0)), "");
}

#[test]
fn a_100_mib_input() {
    const SIZE: usize = 100 << 20;
    // (A read request: a consensus round would also have the simulator
    // hash the input into the lcl, slowly in a debug build.)
    let mut big = vec![b'a'; SIZE];
    big[SIZE - 1] = b'z';
    let mut c = Cluster::builder(BIN)
        .user("alice")
        .env("CATALOGUE_PEAK_MEMORY", "1")
        // An engine with user.max_bytes_per_msg raised past its 5 MiB default.
        .max_user_message_bytes(2 * SIZE)
        .build()
        .unwrap();
    // To a `&str` handler (read request): mapped, not copied.
    let r = c.read("alice", &big).unwrap();
    assert_no_secret(&r);
    let n = r.node(0);
    assert_eq!(n.exit, Exit::Code(0), "{}", stderr(n));
    assert_eq!(
        n.output_strings("alice"),
        [
            format!("read {SIZE} bytes: aaaaaaaa..aaaaaaaz"),
            "end".into()
        ]
    );
    let peak = peak_kib(&stderr(n));
    eprintln!(
        "100 MiB read request: contract wall {:?}, peak {peak} KiB",
        n.wall
    );
    // The mapped input's pages, and little else: no copy of it.
    assert!(peak < 140 * 1024, "{peak} KiB");
}
