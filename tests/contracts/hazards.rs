//! Raw test contract that misbehaves on request: `HAZARD=<name>` in its
//! environment picks one behaviour the simulator must notice or handle the way
//! the engine does.

mod raw;

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

fn main() {
    let ctx = raw::read_args();
    let users = ctx.users();
    let first = users.first().map(|u| u.1);
    let hazard = std::env::var("HAZARD").unwrap_or_default();
    match hazard.as_str() {
        // A length header split across two host reads: the rest of the
        // header is written only once the host has read everything before it.
        "split-header" => {
            let fd = first.expect("a user");
            raw::send(fd, b"one").expect("send");
            let mut s = raw::sock(fd);
            s.write_all(&[0, 0]).expect("half header");
            s.flush().ok();
            while raw::unread_by_peer(fd) > 0 {
                std::thread::sleep(Duration::from_millis(1));
            }
            s.write_all(&[0, 3]).expect("rest of header");
            s.write_all(b"two").expect("payload");
        }
        // Outputs the engine's JSON user protocol inserts raw, fine and not.
        "raw-json" => {
            let fd = first.expect("a user");
            for out in [
                &br#"{"value":5}"#[..],
                b"{abc}",
                b"2",
                b"-3",
                b"1.50",
                br#"{"total":9223372036854775807}"#,
            ] {
                raw::send(fd, out).expect("send");
            }
        }
        "big-npl" => {
            let npl = ctx.npl_fd().expect("npl");
            raw::packet(npl, &vec![b'n'; 140_000]).expect("npl");
        }
        "big-control" => {
            let mut msg = br#"{"type":"x","pad":""#.to_vec();
            msg.extend(std::iter::repeat_n(b'p', 140_000));
            msg.extend_from_slice(br#""}"#);
            raw::packet(ctx.control_fd(), &msg).expect("control");
        }
        // An empty NPL packet, then a real one; waits for its own real one to
        // come back so the host sees the empty one while we are alive.
        "empty-npl" => {
            let npl = ctx.npl_fd().expect("npl");
            raw::packet(npl, b"").expect("empty");
            raw::packet(npl, b"after").expect("after");
            let got = raw::npl_collect(npl, 1, Duration::from_secs(30));
            for (_, fd, _) in &users {
                let texts: Vec<String> = got
                    .iter()
                    .map(|(_, d)| String::from_utf8_lossy(d).into_owned())
                    .collect();
                raw::send(*fd, texts.join(",").as_bytes()).expect("send");
            }
        }
        "abort" => std::process::abort(),
        "sleep" => std::thread::sleep(Duration::from_secs(30)),
        "incomplete" => {
            let fd = first.expect("a user");
            let mut s = raw::sock(fd);
            s.write_all(&[0, 0, 0, 10]).expect("header");
            s.write_all(b"abc").expect("part");
        }
        // Messages of 1000 bytes to each user until a write fails (the host
        // closed the socket), at most 100000; reports on stderr how many went.
        "flood-output" => {
            for (_, fd, _) in &users {
                let mut sent = 0;
                let mut failed = false;
                for i in 0..100_000 {
                    if raw::send(*fd, &vec![b'a' + (i % 26) as u8; 1000]).is_err() {
                        failed = true;
                        break;
                    }
                    sent += 1;
                }
                eprintln!("flood: {sent} sent, then a write failed: {failed}");
            }
        }
        // NPL messages over the limit, then stays alive (without reading NPL)
        // until the engine kills it, at most 30 s. The node whose public key
        // is `FLOOD_NPL_LATE` instead sends one message and ends.
        "flood-npl" => {
            let npl = ctx.npl_fd().expect("npl");
            if std::env::var("FLOOD_NPL_LATE").ok().as_deref() == Some(ctx.str("public_key")) {
                raw::packet(npl, b"late").expect("npl");
                return;
            }
            let mut failed = 0;
            for _ in 0..5 {
                if raw::packet(npl, &[b'x'; 1000]).is_err() {
                    failed += 1;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
            eprintln!("flood-npl: {failed} sends failed");
            std::thread::sleep(Duration::from_secs(30));
        }
        "write-state" => {
            std::fs::write("written.txt", "x").expect("write");
            for (_, fd, _) in &users {
                raw::send(*fd, b"wrote").expect("send");
            }
        }
        "control" => {
            let c = ctx.control_fd();
            raw::packet(
                c,
                br#"{"type":"peer_changeset","add":["10.0.0.1:22860"],"remove":"*"}"#,
            )
            .expect("c");
            raw::packet(c, br#"{"type":"contract_end"}"#).expect("c");
            raw::packet(c, b"not json").expect("c");
        }
        // Installs a post_exec.sh exiting with $POST_EXEC_CODE that logs its argv.
        "post-exec" => {
            if !std::path::Path::new("post_exec.sh").exists() {
                let code = std::env::var("POST_EXEC_CODE").unwrap_or_else(|_| "0".into());
                let script = format!(
                    "#!/bin/sh\necho \"argc=$# arg1=$1\" >> post.log\necho post-exec-ran\nexit {code}\n"
                );
                std::fs::write("post_exec.sh", script).expect("script");
                std::fs::set_permissions("post_exec.sh", std::fs::Permissions::from_mode(0o755))
                    .expect("chmod");
            }
        }
        // Describes the process as the engine set it up.
        "inspect" => {
            let mut lines = Vec::new();
            lines.push(format!(
                "argv={:?}",
                std::env::args().skip(1).collect::<Vec<_>>()
            ));
            let mut env: Vec<String> = std::env::vars().map(|(k, v)| format!("{k}={v}")).collect();
            env.sort();
            lines.push(format!("env={env:?}"));
            lines.push(format!(
                "cwd_is_state={}",
                std::env::current_dir()
                    .map(|d| d.ends_with("state"))
                    .unwrap_or(false)
            ));
            let mut unix = String::new();
            std::fs::File::open("/proc/net/unix")
                .and_then(|mut f| f.read_to_string(&mut unix))
                .ok();
            let describe = |fd: i64| -> String {
                let link = std::fs::read_link(format!("/proc/self/fd/{fd}"))
                    .map(|p| p.display().to_string())
                    .unwrap_or_default();
                let info =
                    std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).unwrap_or_default();
                let flags = info
                    .lines()
                    .find_map(|l| l.strip_prefix("flags:"))
                    .map(|s| s.trim().to_owned())
                    .unwrap_or_default();
                let cloexec = u64::from_str_radix(&flags, 8)
                    .map(|f| f & 0o2000000 != 0)
                    .unwrap_or(true);
                let mut kind = link.clone();
                if let Some(inode) = link
                    .strip_prefix("socket:[")
                    .and_then(|s| s.strip_suffix(']'))
                {
                    for l in unix.lines().skip(1) {
                        let cols: Vec<&str> = l.split_whitespace().collect();
                        if cols.get(6) == Some(&inode) {
                            kind = match cols.get(4) {
                                Some(&"0001") => "stream".into(),
                                Some(&"0005") => "seqpacket".into(),
                                t => format!("{t:?}"),
                            };
                        }
                    }
                } else if link.starts_with("/memfd:") {
                    kind = link.split(' ').next().unwrap_or("").to_owned();
                }
                format!("{kind}{}", if cloexec { "+cloexec" } else { "" })
            };
            lines.push(format!("control={}", describe(ctx.control_fd() as i64)));
            if let Some(n) = ctx.npl_fd() {
                lines.push(format!("npl={}", describe(n as i64)));
            }
            lines.push(format!(
                "input={}",
                describe(ctx.args["user_in_fd"].as_i64().unwrap_or(-1))
            ));
            for (i, (_, fd, _)) in users.iter().enumerate() {
                lines.push(format!("user{i}={}", describe(*fd as i64)));
            }
            let stdin = std::fs::read_link("/proc/self/fd/0")
                .map(|p| p.display().to_string())
                .unwrap_or_default();
            lines.push(format!("stdin_is_pipe={}", stdin.starts_with("pipe:")));
            let mut fds: Vec<i64> = std::fs::read_dir("/proc/self/fd")
                .into_iter()
                .flatten()
                .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
                .collect();
            fds.sort();
            lines.push(format!("open_fds={}", fds.len()));
            let targets: Vec<String> = fds
                .iter()
                .map(|fd| format!("{fd}:{}", describe(*fd)))
                .collect();
            eprintln!("fds: {targets:?}");
            for (_, fd, _) in &users {
                for l in &lines {
                    raw::send(*fd, l.as_bytes()).expect("send");
                }
            }
            print!("{}", ctx.raw);
        }
        other => panic!("unknown HAZARD {other:?}"),
    }
}
