//! Raw echo contract: echoes every input as `echo:<input>`, keeps a count of
//! inputs in `count.txt`, and, with `NPL_EXCHANGE=1`, sends one NPL message
//! and reports which nodes it heard from. `ECHO_META=1` first sends each user
//! a line describing the round.
//!
//! The NPL exchange waits for as many messages as the UNL has nodes, or for
//! what `NPL_WANT` says: a comma-separated list of `N` (every node) and
//! `<public key prefix>=N` (the node whose key starts so). Tests say how many
//! messages each node will get, so every wait ends with a message, never with
//! `NPL_TIMEOUT_MS` (default 30000): the outcome does not depend on speed.
//! With `NPL_LEADER=<public key prefix>` every other node first listens for
//! one message, and speaks only after hearing it (a follower). With
//! `NPL_SLOW=<public key prefix>` that node computes for 100 ms before it
//! speaks (busy, not waiting).

mod raw;

use std::time::Duration;

fn main() {
    let ctx = raw::read_args();
    let users = ctx.users();
    eprintln!("echo: {} users", users.len());
    if ctx.fallback() {
        let n = ctx.args["non_consensus_rounds"].as_u64().unwrap_or(0);
        std::fs::write("fallback.txt", format!("{n} {}\n", ctx.args["user_in_fd"])).expect("write");
    }
    let meta = std::env::var("ECHO_META").is_ok();
    let mut count: u64 = std::fs::read_to_string("count.txt")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(0);
    for (_, fd, inputs) in &users {
        if meta {
            let line = format!(
                "meta:readonly={} seq={} ts={} hp={} cwd_state={} patch={}",
                ctx.read_only(),
                ctx.args["lcl_seq_no"],
                ctx.args["timestamp"],
                ctx.str("hp_version"),
                std::env::current_dir()
                    .map(|d| d.ends_with("state"))
                    .unwrap_or(false),
                std::path::Path::new("../patch.cfg").exists(),
            );
            raw::send(*fd, line.as_bytes()).expect("send");
        }
        for input in inputs {
            let mut out = b"echo:".to_vec();
            out.extend_from_slice(input);
            raw::send(*fd, &out).expect("send");
            count += 1;
        }
    }
    if !ctx.read_only() {
        std::fs::write("count.txt", format!("{count}\n")).expect("write count");
    }
    if let (Some(npl), true) = (ctx.npl_fd(), std::env::var("NPL_EXCHANGE").is_ok()) {
        let me = ctx.str("public_key").to_owned();
        let timeout = std::env::var("NPL_TIMEOUT_MS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(30_000);
        let timeout = Duration::from_millis(timeout);
        let leader = std::env::var("NPL_LEADER").unwrap_or_default();
        let mut got = Vec::new();
        if !leader.is_empty() && !me.starts_with(&leader) {
            got = raw::npl_collect(npl, 1, timeout);
        }
        let slow = std::env::var("NPL_SLOW").unwrap_or_default();
        if !slow.is_empty() && me.starts_with(&slow) {
            let until = std::time::Instant::now() + Duration::from_millis(100);
            while std::time::Instant::now() < until {
                std::hint::spin_loop();
            }
        }
        raw::packet(npl, format!("hello from {}", &me[..10]).as_bytes()).expect("npl send");
        let (mut every, mut this) = (None, None);
        for item in std::env::var("NPL_WANT").unwrap_or_default().split(',') {
            let count = |n: &str| n.parse::<usize>().expect("NPL_WANT count");
            match item.split_once('=') {
                Some((prefix, n)) if me.starts_with(prefix) => this = Some(count(n)),
                Some(_) => {}
                None if !item.is_empty() => every = Some(count(item)),
                None => {}
            }
        }
        let want = this.or(every).unwrap_or(ctx.unl_count());
        let rest = want.saturating_sub(got.len());
        got.extend(raw::npl_collect(npl, rest, timeout));
        for (k, _) in &got {
            eprintln!("echo: heard {}", &k[..10]);
        }
        let mut from: Vec<String> = got.iter().map(|(k, _)| k[..10].to_owned()).collect();
        from.sort();
        for (_, fd, _) in &users {
            raw::send(*fd, format!("npl:{}", from.join(",")).as_bytes()).expect("send");
        }
    }
}
