//! The state-scaling benchmark: what a round with 1 or 100 changes costs on
//! a state of 0, 10k, 100k and 1M entries, kept in the store
//! (`hotpocket::store::Map`) or in today's JSON state file, both contracts
//! measured in the same run, interleaved, through the simulator.
//!
//! `cargo bench --bench state_scale` runs it and rewrites its section of
//! BENCHMARKS.md (between its markers) when every size ran with the default
//! repetitions. Environment: `BENCH_REPS=n`, `BENCH_SIZES=0,10000` (a
//! partial run: tables printed, the file left alone), `BENCH_WRITE=0`.
//! Without `--bench` on the command line it does nothing.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use hotpocket::sim::{Cluster, Exit, RoundReport};
use hotpocket::store::{self, Map};

mod report;
use report::{median, ms};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const MARK_BEGIN: &str =
    "<!-- state_scale results: begin (written by `cargo bench`; do not edit) -->";
const MARK_END: &str = "<!-- state_scale results: end -->";
const SIZES: [usize; 4] = [0, 10_000, 100_000, 1_000_000];
const CHANGES: [usize; 2] = [1, 100];
const USER: &str = "u0000";
/// Keys a change picks from on a state smaller than this (the empty state
/// gets new entries).
const MIN_KEY_SPACE: usize = 1000;
/// The store contract's map (`tests/bench/contracts/fw_state_store.rs`).
static BALANCES: Map<String, u64> = Map::new("balances");

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Json,
    Store,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Json => "JSON file",
            Kind::Store => "store (Map)",
        }
    }
}

/// One measured round.
#[derive(Clone, Copy, Debug)]
struct Sample {
    cpu: Duration,
    wall: Duration,
    rss_kib: u64,
    written: u64,
}

/// A contract on a seeded state, and what its entries hold now.
struct Subject {
    kind: Kind,
    cluster: Cluster,
    size: usize,
    /// Entries changed since seeding (the rest hold their seed value).
    changed: BTreeMap<usize, u64>,
    samples: BTreeMap<usize, Vec<Sample>>,
}

fn key(i: usize) -> String {
    format!("acct{i:07}")
}

/// The value entry `i` is seeded with.
fn seed_value(i: usize) -> u64 {
    i as u64 * 7
}

/// Which entry change `j` of round `round` sets: spread over the key space,
/// so the store's changes land on pages all over the file.
fn pick(round: u64, j: usize, space: usize) -> usize {
    let mut x = (round << 20 | j as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x ^= x >> 29;
    (x % space as u64) as usize
}

/// The JSON state file as `hotpocket::state` writes it.
fn seed_json(dir: &Path, size: usize) -> std::io::Result<()> {
    let mut s = String::with_capacity(size * 22 + 16);
    s.push_str("{\"balances\":{");
    for i in 0..size {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "\"{}\":{}", key(i), seed_value(i));
    }
    s.push_str("}}");
    std::fs::write(dir.join("accounts.json"), s)
}

/// The store's database, written through the store itself in one
/// transaction (a million rounds would take hours).
fn seed_store(dir: &Path, size: usize) -> hotpocket::Result<()> {
    store::open_for_round(dir, false, 0, [0; 32])?;
    for i in 0..size {
        BALANCES.insert(&key(i), &seed_value(i))?;
    }
    store::commit_round()
}

fn subject(kind: Kind, size: usize) -> Subject {
    let bin = match kind {
        Kind::Json => env!("CARGO_BIN_EXE_bench-state-json"),
        Kind::Store => env!("CARGO_BIN_EXE_bench-state-store"),
    };
    let cluster = Cluster::builder(PathBuf::from(bin))
        .user(USER)
        .exec_timeout(120_000)
        .build()
        .unwrap_or_else(|e| panic!("state_scale: {}: simulator error: {e}", kind.name()));
    let dir = cluster.state_dir(0);
    let seeded = match kind {
        Kind::Json => seed_json(&dir, size).map_err(|e| e.to_string()),
        Kind::Store => seed_store(&dir, size).map_err(|e| e.to_string()),
    };
    if let Err(e) = seeded {
        panic!(
            "state_scale: seeding {} entries for {}: {e}",
            size,
            kind.name()
        );
    }
    Subject {
        kind,
        cluster,
        size,
        changed: BTreeMap::new(),
        samples: BTreeMap::new(),
    }
}

impl Subject {
    /// Runs one round of `changes` sets; checks every reply (the previous
    /// value) so a contract that loses or invents state fails the run.
    fn round(&mut self, round: u64, changes: usize) -> Sample {
        let space = self.size.max(MIN_KEY_SPACE);
        let mut want = Vec::with_capacity(changes);
        for j in 0..changes {
            let k = pick(round, j, space);
            let v = round * 1000 + j as u64;
            let seeded = (k < self.size).then(|| seed_value(k));
            let old = self.changed.insert(k, v).or(seeded);
            want.push(serde_json::to_vec(&old).unwrap_or_default());
            self.cluster
                .input(USER, serde_json::json!({ "k": key(k), "v": v }).to_string());
        }
        let r = self
            .cluster
            .round()
            .unwrap_or_else(|e| panic!("state_scale: {}: simulator error: {e}", self.kind.name()));
        self.check(&r, &want)
    }

    fn check(&self, r: &RoundReport, want: &[Vec<u8>]) -> Sample {
        let Some(n) = r.nodes.first() else {
            panic!("state_scale: {}: no node in the report", self.kind.name());
        };
        let what = format!("{} on {} entries", self.kind.name(), self.size);
        assert_eq!(
            n.exit,
            Exit::Code(0),
            "{what}: stderr {}",
            String::from_utf8_lossy(&n.stderr)
        );
        assert_eq!(n.outputs_to(USER), want, "{what}: wrong replies");
        Sample {
            cpu: n.usage.user_cpu + n.usage.sys_cpu,
            wall: n.wall,
            rss_kib: n.usage.max_rss_kib,
            written: n.usage.write_bytes,
        }
    }
}

/// Medians of one series: CPU, wall, RSS (KiB), bytes written.
fn medians(s: &[Sample]) -> (Duration, Duration, u64, u64) {
    (
        median(s.iter().map(|x| x.cpu).collect()),
        median(s.iter().map(|x| x.wall).collect()),
        median(s.iter().map(|x| x.rss_kib).collect()),
        median(s.iter().map(|x| x.written).collect()),
    )
}

/// Measures every size: both contracts seeded, one warm-up round each,
/// then `reps` rounds of each change count, interleaved.
fn measure(sizes: &[usize], reps: usize) -> Vec<Subject> {
    let mut done = Vec::new();
    for &size in sizes {
        let t = Instant::now();
        let mut pair = [subject(Kind::Json, size), subject(Kind::Store, size)];
        eprintln!(
            "state_scale: {size} entries seeded in {:.1} s",
            t.elapsed().as_secs_f64()
        );
        let mut round = 0;
        for rep in 0..=reps {
            for &changes in &CHANGES {
                round += 1;
                for s in pair.iter_mut() {
                    let sample = s.round(round, changes);
                    if rep > 0 {
                        s.samples.entry(changes).or_default().push(sample);
                    }
                }
            }
        }
        eprintln!(
            "state_scale: {size} entries done in {:.1} s",
            t.elapsed().as_secs_f64()
        );
        done.extend(pair);
    }
    done
}

fn kib(b: u64) -> String {
    format!("{:.0}", b as f64 / 1024.0)
}

fn find(
    all: &[Subject],
    kind: Kind,
    size: usize,
    changes: usize,
) -> Option<(Duration, Duration, u64, u64)> {
    all.iter()
        .find(|s| s.kind == kind && s.size == size)
        .and_then(|s| s.samples.get(&changes))
        .map(|v| medians(v))
}

fn table(all: &[Subject], reps: usize) -> String {
    let mut o = String::new();
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_default();
    let _ = writeln!(
        o,
        "Load average {load} at the start; {reps} rounds of each after a warm-up, medians. CPU = user + system time of the contract (`wait4`), wall = spawn to the end of the host's loop, RSS = peak resident set, written = `write_bytes` of `/proc/<pid>/io` (page-cache bytes the contract dirtied, ext4).\n"
    );
    let _ = writeln!(
        o,
        "| entries | changes | state | CPU ms | wall ms | RSS MiB | written KiB | state files KiB |"
    );
    let _ = writeln!(o, "|--:|--:|---|--:|--:|--:|--:|--:|");
    for s in all {
        let files = dir_size(&s.cluster.state_dir(0));
        for (changes, v) in &s.samples {
            let (cpu, wall, rss, written) = medians(v);
            let _ = writeln!(
                o,
                "| {} | {changes} | {} | {} | {} | {:.1} | {} | {} |",
                s.size,
                s.kind.name(),
                ms(cpu),
                ms(wall),
                rss as f64 / 1024.0,
                kib(written),
                kib(files)
            );
        }
    }
    o.push_str(&criteria(all));
    o
}

/// The done-when figures, computed from the table.
fn criteria(all: &[Subject]) -> String {
    let mut o = String::from("\nThe store against its targets:\n\n");
    let mark = |ok: bool| if ok { "met" } else { "**missed**" };
    let (Some(empty), Some(big)) = (
        find(all, Kind::Store, 0, 1),
        find(all, Kind::Store, 1_000_000, 1),
    ) else {
        o.push_str("- (needs the 0 and 1,000,000 sizes)\n");
        return o;
    };
    let r = big.0.as_secs_f64() / empty.0.as_secs_f64().max(1e-9);
    let _ = writeln!(
        o,
        "- 1-change round on 1M entries: {} ms CPU, {r:.2} × the same round on an empty state ({} ms); target ≤ 2 ×: {}",
        ms(big.0),
        ms(empty.0),
        mark(r <= 2.0)
    );
    let grow = (big.2 as f64 - empty.2 as f64) / 1024.0;
    let _ = writeln!(
        o,
        "- peak RSS, 1M entries against empty: {:+.1} MiB ({:.1} → {:.1}); target: not growing with entries (≤ +2 MiB): {}",
        grow,
        empty.2 as f64 / 1024.0,
        big.2 as f64 / 1024.0,
        mark(grow <= 2.0)
    );
    if let (Some(b1), Some(b100), Some(s100)) = (
        find(all, Kind::Store, 10_000, 100),
        find(all, Kind::Store, 1_000_000, 100),
        find(all, Kind::Store, 1_000_000, 1),
    ) {
        let _ = writeln!(
            o,
            "- bytes written, 1M entries: {} KiB for 1 change, {} KiB for 100; 100 changes on 10k entries {} KiB, on 1M {} KiB; target: growing with changes, not with state: {}",
            kib(s100.3),
            kib(b100.3),
            kib(b1.3),
            kib(b100.3),
            mark(b100.3 > s100.3 && b100.3 <= b1.3.saturating_mul(4).max(64 * 1024))
        );
    }
    o
}

fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok()?.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

fn write_benchmarks_md(section: &str) {
    report::write_section(ROOT, "state_scale", (MARK_BEGIN, MARK_END), section);
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("state_scale: run with `cargo bench` (skipped under `cargo test`)");
        return;
    }
    let reps_env: Option<usize> = std::env::var("BENCH_REPS")
        .ok()
        .and_then(|s| s.parse().ok());
    let sizes_env: Option<Vec<usize>> = std::env::var("BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect());
    let reps = reps_env.unwrap_or(9);
    let sizes = sizes_env.clone().unwrap_or_else(|| SIZES.to_vec());
    let all = measure(&sizes, reps);
    let section = table(&all, reps);
    println!("{section}");
    let complete = reps_env.is_none() && sizes_env.is_none();
    if complete && std::env::var("BENCH_WRITE").as_deref() != Ok("0") {
        write_benchmarks_md(&section);
    } else {
        eprintln!(
            "state_scale: partial run (BENCH_REPS or BENCH_SIZES); BENCHMARKS.md left as it is"
        );
    }
}
