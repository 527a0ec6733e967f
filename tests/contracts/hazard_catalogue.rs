//! The determinism catalogue (tests/sim/hazard_catalogue.rs): one binary
//! holding many `#[hotpocket::contract]`s, each in its own module. Every
//! hazard module lets exactly one thing that differs between real cluster
//! nodes reach its outputs; every control module does something that looks
//! similar but is deterministic. `HC_CASE=<module>` picks the contract (give
//! it to the dev-mode process and, with `--env`, to the nodes it spawns).
//!
//! The host cases read what differs between real machines (binary path,
//! host name, boot id, CPU count, clocks, environment, file system); the
//! simulator gives each node its own where the machine allows it (see
//! `hotpocket::guide::determinism`).
//!
//! `#[contract]` emits its `fn main` where the impl is, so each module has a
//! private `main`; the module's `run` exposes it to the dispatcher below.

use std::collections::{BTreeMap, HashMap};

use hotpocket::prelude::*;

/// A case's output, behind a label: a bare `[...]` or `{...}` (Debug text)
/// would be flagged as a raw JSON output, and the catalogue measures
/// determinism only.
fn labelled(value: &str) -> String {
    format!("value: {value}")
}

/// Hazard and control modules whose whole contract is "send this value to
/// every user at the end of the round".
macro_rules! end_case {
    ($(#[doc = $doc:literal])* $name:ident, |$ctx:ident| $value:expr) => {
        $(#[doc = $doc])*
        pub(crate) mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[derive(Default)]
            pub(crate) struct Case;

            #[hotpocket::contract]
            impl Case {
                #[on_round_end]
                fn report(&mut self, $ctx: &mut Round) -> Result<()> {
                    let value: String = $value;
                    for user in $ctx.users() {
                        user.send(labelled(&value))?;
                    }
                    Ok(())
                }
            }

            /// This module's contract, run as the binary's entry point.
            pub(crate) fn run() {
                main()
            }
        }
    };
}

/// Hazard and control modules that broadcast one NPL message at the start of
/// the round, collect what arrives (`$done` says when to stop) and send
/// `$decide` of the arrivals (sender key, message) to every user.
macro_rules! npl_case {
    ($(#[doc = $doc:literal])* $name:ident, timeout = $ms:literal,
     done = |$unl:ident, $got:ident| $done:expr,
     decide = |$arr:ident| $decide:expr) => {
        $(#[doc = $doc])*
        pub(crate) mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[derive(Default)]
            pub(crate) struct Case {
                arrived: Vec<(String, Vec<u8>)>,
            }

            #[hotpocket::contract(npl_timeout_ms = $ms)]
            impl Case {
                #[on_round_start]
                fn propose(&mut self, ctx: &mut Round) -> Result<()> {
                    let own = node_value(ctx.public_key()).to_string();
                    ctx.npl_send(own)
                }

                #[on_npl]
                fn collect(&mut self, ctx: &mut Round, from: &Node, msg: &[u8]) -> Npl {
                    self.arrived.push((from.public_key().to_owned(), msg.to_vec()));
                    let $unl = ctx.unl().len();
                    let $got = self.arrived.len();
                    if $done { Npl::Done } else { Npl::Continue }
                }

                #[on_round_end]
                fn decide(&mut self, ctx: &mut Round) -> Result<()> {
                    let $arr = &self.arrived;
                    let value: String = $decide;
                    for user in ctx.users() {
                        user.send(labelled(&value))?;
                    }
                    Ok(())
                }
            }

            /// This module's contract, run as the binary's entry point.
            pub(crate) fn run() {
                main()
            }
        }
    };
}

/// A per-node value every node can compute for any key (FNV-1a).
fn node_value(public_key: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in public_key.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h % 1000
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn read(path: &str) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| format!("unreadable: {e}"))
}

fn senders(arrived: &[(String, Vec<u8>)]) -> String {
    let keys: Vec<&str> = arrived.iter().map(|(k, _)| k.as_str()).collect();
    keys.join(",")
}

fn field(path: &str, name: &str) -> String {
    read(path)
        .lines()
        .find(|l| l.starts_with(name))
        .unwrap_or_default()
        .to_owned()
}

fn dir_listing() -> String {
    match std::fs::read_dir(".") {
        Ok(dir) => {
            let names: Vec<String> = dir
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            names.join(",")
        }
        Err(e) => format!("unreadable: {e}"),
    }
}

// ---- NPL delivery -------------------------------------------------------

npl_case!(
    /// Hazard: the sender of the first NPL message (in hpcore a node's own).
    npl_first_sender, timeout = 2000,
    done = |unl, got| got >= unl,
    decide = |arr| arr.first().map(|(k, _)| k.clone()).unwrap_or_default()
);
npl_case!(
    /// Hazard: the order in which the NPL messages arrived.
    npl_arrival_order, timeout = 2000,
    done = |unl, got| got >= unl,
    decide = |arr| senders(arr)
);
npl_case!(
    /// Hazard: adopts the value of the first proposal that arrives.
    npl_first_value, timeout = 2000,
    done = |_unl, got| got >= 1,
    decide = |arr| arr.first().map(|(_, m)| text(m)).unwrap_or_default()
);
npl_case!(
    /// Hazard: decides on a quorum (the first two of three) instead of all.
    npl_quorum_set, timeout = 2000,
    done = |_unl, got| got >= 2,
    decide = |arr| {
        let mut v: Vec<String> = arr.iter().map(|(_, m)| text(m)).collect();
        v.sort();
        v.join(",")
    }
);
npl_case!(
    /// Hazard: decides on whatever arrived before a short timeout.
    npl_before_timeout, timeout = 5,
    done = |_unl, _got| false,
    decide = |arr| {
        let mut v: Vec<String> = arr.iter().map(|(_, m)| text(m)).collect();
        v.sort();
        format!("{} arrived: {}", v.len(), v.join(","))
    }
);
npl_case!(
    /// Hazard: decides on whatever arrived within 150 ms, which a default
    /// run's NPL latency meets but a late start or a slow link does not
    /// (the exploration test, tests/sim/explore.rs; not a table case).
    npl_window, timeout = 150,
    done = |_unl, _got| false,
    decide = |arr| {
        let mut v: Vec<String> = arr.iter().map(|(_, m)| text(m)).collect();
        v.sort();
        format!("{} arrived: {}", v.len(), v.join(","))
    }
);
npl_case!(
    /// Hazard: the last message to arrive wins.
    npl_last_wins, timeout = 2000,
    done = |unl, got| got >= unl,
    decide = |arr| arr.last().map(|(_, m)| text(m)).unwrap_or_default()
);
npl_case!(
    /// Control: decides on the complete set of proposals, sorted.
    control_npl_sorted_set, timeout = 2000,
    done = |unl, got| got >= unl,
    decide = |arr| {
        let mut v: Vec<(String, String)> =
            arr.iter().map(|(k, m)| (k.clone(), text(m))).collect();
        v.sort();
        format!("{v:?}")
    }
);

// ---- node-local arguments -----------------------------------------------

end_case!(
    /// Hazard: `unl[pk].active_on`, each node's own receive time.
    active_on, |ctx| {
        let v: Vec<String> = ctx.unl().iter().map(|n| n.active_on().to_string()).collect();
        v.join(",")
    }
);
end_case!(
    /// Hazard: the node's own public key in an output.
    own_key, |ctx| ctx.public_key().to_owned()
);
end_case!(
    /// Hazard: the node's own position in the UNL.
    own_unl_index, |ctx| {
        ctx.unl().iter().position(|n| n.is_self()).map_or("none".into(), |i| i.to_string())
    }
);

// ---- the host -----------------------------------------------------------

end_case!(
    /// Hazard: `argv[0]`, the path the engine started the binary by.
    argv0, |_ctx| std::env::args().next().unwrap_or_default()
);
end_case!(
    /// Hazard: the absolute path of the executable.
    current_exe, |_ctx| {
        std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_default()
    }
);
end_case!(
    /// Hazard: the absolute path of the working directory.
    current_dir, |_ctx| {
        std::env::current_dir().map(|p| p.display().to_string()).unwrap_or_default()
    }
);
end_case!(
    /// Hazard: the host name.
    hostname, |_ctx| read("/proc/sys/kernel/hostname")
);
end_case!(
    /// Hazard: the kernel's boot id.
    boot_id, |_ctx| read("/proc/sys/kernel/random/boot_id")
);
end_case!(
    /// Hazard: how many CPUs the process may use.
    cpu_count, |_ctx| {
        std::thread::available_parallelism().map_or(0, |n| n.get()).to_string()
    }
);
end_case!(
    /// Hazard: the wall clock at seconds resolution.
    wall_clock_seconds, |_ctx| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
            .to_string()
    }
);
end_case!(
    /// Hazard: the wall clock at millisecond resolution.
    wall_clock_millis, |_ctx| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis())
            .to_string()
    }
);
end_case!(
    /// Hazard: `PWD`, set by the engine's `/bin/sh -c` when logging is on.
    env_pwd, |_ctx| std::env::var("PWD").unwrap_or_else(|_| "unset".into())
);
end_case!(
    /// Hazard: the whole environment's variable names.
    env_names, |_ctx| {
        let mut names: Vec<String> = std::env::vars_os()
            .map(|(k, _)| k.to_string_lossy().into_owned())
            .collect();
        names.sort();
        names.join(",")
    }
);
end_case!(
    /// Hazard: the state directory listed in the file system's order.
    dir_order, |_ctx| {
        for name in ["zeta", "alpha", "mid", "beta", "omega", "kappa"] {
            let _ = std::fs::write(name, name);
        }
        dir_listing()
    }
);
end_case!(
    /// Hazard: the modification time of the working directory.
    dir_mtime, |_ctx| {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(".").map_or(0, |m| m.mtime_nsec()).to_string()
    }
);
end_case!(
    /// Hazard: the inode number of the working directory.
    dir_inode, |_ctx| {
        use std::os::unix::fs::MetadataExt;
        std::fs::metadata(".").map_or(0, |m| m.ino()).to_string()
    }
);
end_case!(
    /// Hazard: the process id.
    pid, |_ctx| std::process::id().to_string()
);
end_case!(
    /// Hazard: an address, which ASLR moves.
    aslr_address, |_ctx| {
        let local = 0_u8;
        format!("{:p}", &local)
    }
);
end_case!(
    /// Hazard: bytes from the OS's random source.
    os_random, |_ctx| {
        use std::io::Read;
        let mut buf = [0_u8; 8];
        let got = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut buf));
        format!("{got:?} {buf:?}")
    }
);
end_case!(
    /// Hazard: how two threads' pushes interleaved (the number of switches
    /// between them in the shared log).
    thread_race, |_ctx| {
        let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let start = std::sync::Arc::new(std::sync::Barrier::new(2));
        let handles: Vec<_> = (0..2_u8)
            .map(|id| {
                let (log, start) = (std::sync::Arc::clone(&log), std::sync::Arc::clone(&start));
                std::thread::spawn(move || {
                    start.wait();
                    for _ in 0..100_000 {
                        if let Ok(mut l) = log.lock() {
                            l.push(id);
                        }
                    }
                })
            })
            .collect();
        for h in handles {
            let _ = h.join();
        }
        log.lock()
            .map(|l| l.windows(2).filter(|w| w.first() != w.get(1)).count())
            .unwrap_or_default()
            .to_string()
    }
);
end_case!(
    /// Hazard: a HashMap's iteration order.
    hashmap_order, |ctx| {
        let mut m = HashMap::new();
        for (i, u) in ctx.users().iter().enumerate() {
            m.insert(u.public_key().to_owned(), i);
        }
        for i in 0..16 {
            m.insert(format!("k{i}"), i);
        }
        let keys: Vec<&String> = m.keys().collect();
        format!("{keys:?}")
    }
);
end_case!(
    /// Hazard: the process's start time in clock ticks since boot.
    process_start_ticks, |_ctx| {
        read("/proc/self/stat").split_whitespace().nth(21).unwrap_or_default().to_owned()
    }
);
end_case!(
    /// Hazard: how long the machine has been up, in whole seconds.
    uptime_seconds, |_ctx| {
        read("/proc/uptime").split('.').next().unwrap_or_default().to_owned()
    }
);
end_case!(
    /// Hazard: the process's mount table (file systems, their sources and
    /// where they are mounted differ from machine to machine).
    mount_table, |_ctx| {
        let table = read("/proc/self/mountinfo");
        format!("{} mounts, fnv {}", table.lines().count(), node_value(&table))
    }
);
end_case!(
    /// Hazard: the machine's available memory.
    mem_available, |_ctx| field("/proc/meminfo", "MemAvailable")
);
end_case!(
    /// Hazard: time spent in the round so far, in microseconds.
    elapsed_micros, |_ctx| {
        let t = std::time::Instant::now();
        let _ = dir_listing();
        t.elapsed().as_micros().to_string()
    }
);

// ---- controls -----------------------------------------------------------

end_case!(
    /// Control: a BTreeMap's iteration order.
    control_btreemap, |ctx| {
        let mut m = BTreeMap::new();
        for (i, u) in ctx.users().iter().enumerate() {
            m.insert(u.public_key().to_owned(), i);
        }
        for i in 0..16 {
            m.insert(format!("k{i}"), i);
        }
        let keys: Vec<&String> = m.keys().collect();
        format!("{keys:?}")
    }
);
end_case!(
    /// Control: `Round::rng`, seeded from what the nodes agree on.
    control_round_rng, |ctx| {
        let a = ctx.rng().next_u64();
        let b = ctx.rng().below(1000);
        format!("{a} {b}")
    }
);
end_case!(
    /// Control: the round's timestamp.
    control_timestamp, |ctx| ctx.timestamp().to_string()
);
end_case!(
    /// Control: the lcl the round follows.
    control_lcl, |ctx| format!("{:?} {:?}", ctx.lcl_seq_no(), ctx.lcl_hash())
);
end_case!(
    /// Control: the contract's own files in a directory, listed sorted.
    control_sorted_dir, |_ctx| {
        let _ = std::fs::create_dir_all("own");
        for name in ["zeta", "alpha", "mid", "beta", "omega", "kappa"] {
            let _ = std::fs::write(format!("own/{name}"), name);
        }
        let mut names: Vec<String> = std::fs::read_dir("own")
            .map(|d| d.flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        names.sort();
        names.join(",")
    }
);
end_case!(
    /// Control: a HashMap's contents, sorted before they are output.
    control_sorted_hashmap, |ctx| {
        let mut m = HashMap::new();
        for i in 0..16 {
            m.insert(format!("k{i}"), i);
        }
        m.insert(ctx.contract_id().to_owned(), 99);
        let mut pairs: Vec<(&String, &i32)> = m.iter().collect();
        pairs.sort();
        format!("{pairs:?}")
    }
);
end_case!(
    /// Control: the UNL's keys in the order the engine gives them.
    control_unl_keys, |ctx| {
        let v: Vec<&str> = ctx.unl().iter().map(|n| n.public_key()).collect();
        v.join(",")
    }
);

/// Every case by name, hazards first.
const CASES: &[(&str, fn())] = &[
    ("npl_first_sender", npl_first_sender::run),
    ("npl_arrival_order", npl_arrival_order::run),
    ("npl_first_value", npl_first_value::run),
    ("npl_quorum_set", npl_quorum_set::run),
    ("npl_before_timeout", npl_before_timeout::run),
    ("npl_last_wins", npl_last_wins::run),
    ("npl_window", npl_window::run),
    ("active_on", active_on::run),
    ("own_key", own_key::run),
    ("own_unl_index", own_unl_index::run),
    ("argv0", argv0::run),
    ("current_exe", current_exe::run),
    ("current_dir", current_dir::run),
    ("hostname", hostname::run),
    ("boot_id", boot_id::run),
    ("cpu_count", cpu_count::run),
    ("wall_clock_seconds", wall_clock_seconds::run),
    ("wall_clock_millis", wall_clock_millis::run),
    ("env_pwd", env_pwd::run),
    ("env_names", env_names::run),
    ("dir_order", dir_order::run),
    ("dir_mtime", dir_mtime::run),
    ("dir_inode", dir_inode::run),
    ("pid", pid::run),
    ("aslr_address", aslr_address::run),
    ("os_random", os_random::run),
    ("thread_race", thread_race::run),
    ("hashmap_order", hashmap_order::run),
    ("process_start_ticks", process_start_ticks::run),
    ("uptime_seconds", uptime_seconds::run),
    ("mount_table", mount_table::run),
    ("mem_available", mem_available::run),
    ("elapsed_micros", elapsed_micros::run),
    ("control_npl_sorted_set", control_npl_sorted_set::run),
    ("control_btreemap", control_btreemap::run),
    ("control_round_rng", control_round_rng::run),
    ("control_timestamp", control_timestamp::run),
    ("control_lcl", control_lcl::run),
    ("control_sorted_dir", control_sorted_dir::run),
    ("control_sorted_hashmap", control_sorted_hashmap::run),
    ("control_unl_keys", control_unl_keys::run),
];

fn main() {
    let case = std::env::var("HC_CASE").unwrap_or_default();
    match CASES.iter().find(|(name, _)| *name == case) {
        Some((_, run)) => run(),
        None => {
            let names: Vec<&str> = CASES.iter().map(|(n, _)| *n).collect();
            eprintln!("HC_CASE must name a case, one of: {}", names.join(" "));
            std::process::exit(2);
        }
    }
}
