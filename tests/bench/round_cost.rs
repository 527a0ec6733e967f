//! The round-cost benchmark: what a contract costs per round, framework
//! against the best raw Rust contract and the official Node library, every
//! round driven through the simulator exactly as the engine drives it.
//!
//! `cargo bench` runs it (`cargo bench --bench round_cost`). Without `--bench`
//! on the command line (`cargo test --benches`) it does nothing, so test runs
//! stay fast. It prints the tables and rewrites the results section of
//! BENCHMARKS.md between its markers when every scenario ran.
//!
//! `cargo bench --bench round_cost -- empty-deploy` measures only the empty
//! round, raw and framework both built with the deploy profile
//! (empty_deploy.rs); it prints its table and writes no file.
//!
//! Environment: `BENCH_REPS=n` (repetitions per scenario and contract;
//! default per scenario), `BENCH_ONLY=a,b,...` (scenarios to run; the file is
//! then not rewritten), `BENCH_NO_NODE=1` (skip Node), `BENCH_WRITE=0` (never
//! rewrite BENCHMARKS.md).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use hotpocket::sim::{Cluster, ClusterBuilder, HazardKind, RoundReport};

mod empty_deploy;
mod report;
use report::{median, ms};

const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const MARK_BEGIN: &str =
    "<!-- round_cost results: begin (written by `cargo bench`; do not edit) -->";
const MARK_END: &str = "<!-- round_cost results: end -->";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Raw,
    Framework,
    Node,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Raw => "raw",
            Kind::Framework => "framework",
            Kind::Node => "node",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Work {
    Empty,
    Echo {
        users: usize,
        inputs: usize,
        size: usize,
    },
    Npl {
        nodes: usize,
        count: usize,
        size: usize,
    },
    Counter {
        inputs: usize,
    },
}

struct Scenario {
    id: &'static str,
    title: &'static str,
    work: Work,
    reps: usize,
}

impl Scenario {
    /// The args JSON is larger than a pipe (64 KiB): the engine could not
    /// hand it over (it writes it into the pipe before exec), so every
    /// contract gets it from a file (`ClusterBuilder::args_via_file`) instead.
    fn args_via_file(&self) -> bool {
        match self.work {
            Work::Echo { users, inputs, .. } => users * inputs >= 1000,
            Work::Counter { .. } => true,
            Work::Empty | Work::Npl { .. } => false,
        }
    }
}

fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            id: "a",
            title: "empty round, 1 node, no users",
            work: Work::Empty,
            reps: 41,
        },
        Scenario {
            id: "b",
            title: "echo, 1 user × 100,000 inputs × 64 B",
            work: Work::Echo {
                users: 1,
                inputs: 100_000,
                size: 64,
            },
            reps: 9,
        },
        Scenario {
            id: "c",
            title: "echo, 1,000 users × 10 inputs × 64 B",
            work: Work::Echo {
                users: 1000,
                inputs: 10,
                size: 64,
            },
            reps: 15,
        },
        Scenario {
            id: "d",
            title: "echo, 50 inputs × 1 MiB",
            work: Work::Echo {
                users: 1,
                inputs: 50,
                size: 1 << 20,
            },
            reps: 9,
        },
        Scenario {
            id: "e",
            title: "NPL, 3 nodes × 1,000 messages × 256 B, each waits for all 3,000",
            work: Work::Npl {
                nodes: 3,
                count: 1000,
                size: 256,
            },
            reps: 9,
        },
        Scenario {
            id: "f",
            title: "counter: JSON decode + encode, persisted state, 100,000 inputs",
            work: Work::Counter { inputs: 100_000 },
            reps: 9,
        },
    ]
}

/// One measured round of one contract.
#[derive(Clone, Copy, Debug)]
struct Sample {
    cpu: Duration,
    wall: Duration,
    rss_kib: u64,
}

struct Series {
    kind: Kind,
    samples: Vec<Sample>,
    /// Hazards other than the scenario's own (see `scenario_hazard`).
    hazards: Vec<String>,
    /// The scenario's own hazards (the same for every contract).
    scenario_hazards: Vec<String>,
    /// Rounds the contract got wrong (Node only; any other failure aborts).
    failures: Vec<String>,
}

impl Series {
    fn cpu(&self) -> (Duration, Duration) {
        let v: Vec<_> = self.samples.iter().map(|s| s.cpu).collect();
        (v.iter().min().copied().unwrap_or_default(), median(v))
    }
    fn wall(&self) -> (Duration, Duration) {
        let v: Vec<_> = self.samples.iter().map(|s| s.wall).collect();
        (v.iter().min().copied().unwrap_or_default(), median(v))
    }
    fn rss(&self) -> (u64, u64) {
        let v: Vec<_> = self.samples.iter().map(|s| s.rss_kib).collect();
        (v.iter().min().copied().unwrap_or_default(), median(v))
    }
}

fn node_bin() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("node"))
        .find(|p| p.is_file())
}

/// Makes sure the official Node library is installed (`npm ci`).
fn node_ready() -> Option<PathBuf> {
    let node = node_bin()?;
    let dir = Path::new(ROOT).join("tests/node");
    if !dir.join("node_modules/hpc074/index.js").is_file() {
        eprintln!("round_cost: installing the Node library (npm ci in tests/node)");
        let ok = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&dir)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !ok {
            eprintln!("round_cost: npm ci failed; skipping the Node baseline");
            return None;
        }
    }
    Some(node)
}

fn contract(kind: Kind, s: &Scenario, node: Option<&Path>) -> Option<ClusterBuilder> {
    let work = s.work;
    let bin = |name: &str| -> PathBuf { PathBuf::from(name) };
    let script = Path::new(ROOT).join("tests/node/bench.js");
    let script = script.to_str().unwrap_or_default();
    let c = match (kind, work) {
        (Kind::Raw, Work::Empty | Work::Echo { .. }) => {
            Cluster::builder(bin(env!("CARGO_BIN_EXE_bench-raw-echo")))
        }
        (Kind::Raw, Work::Npl { .. }) => Cluster::builder(bin(env!("CARGO_BIN_EXE_bench-raw-npl"))),
        (Kind::Raw, Work::Counter { .. }) => {
            Cluster::builder(bin(env!("CARGO_BIN_EXE_bench-raw-counter")))
        }
        (Kind::Framework, Work::Empty | Work::Echo { .. }) => {
            Cluster::builder(bin(env!("CARGO_BIN_EXE_bench-fw-echo")))
        }
        (Kind::Framework, Work::Npl { .. }) => {
            Cluster::builder(bin(env!("CARGO_BIN_EXE_bench-fw-npl")))
        }
        (Kind::Framework, Work::Counter { .. }) => {
            Cluster::builder(bin(env!("CARGO_BIN_EXE_bench-fw-counter")))
        }
        (Kind::Node, Work::Counter { .. }) => return None,
        (Kind::Node, Work::Npl { .. }) => {
            Cluster::builder(node?).bin_args(script).env("BENCH", "npl")
        }
        (Kind::Node, _) => Cluster::builder(node?)
            .bin_args(script)
            .env("BENCH", "echo"),
    };
    let c = c.args_via_file(s.args_via_file()).exec_timeout(match kind {
        // A Node round that hangs must not stall the whole run.
        Kind::Node => 60_000,
        _ => 120_000,
    });
    Some(match work {
        Work::Npl { nodes, count, size } => c
            .nodes(nodes)
            .env("NPL_COUNT", &count.to_string())
            .env("NPL_SIZE", &size.to_string())
            .env("NPL_TIMEOUT_MS", "10000"),
        Work::Echo { users, .. } => {
            let mut c = c;
            for u in 0..users {
                c = c.user(&format!("u{u:04}"));
            }
            c
        }
        Work::Counter { .. } => c.user("u0000"),
        Work::Empty => c,
    })
}

/// Deterministic input bytes.
fn input_bytes(seed: u64, size: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..size)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// The input (and, for echo, expected output) `i` of user `u` in `round`.
fn echo_input(work: Work, round: u64, u: usize, i: usize, pool: &[Vec<u8>]) -> Vec<u8> {
    match work {
        Work::Echo { size, .. } if size >= 4096 => pool[(i + u) % pool.len()].clone(),
        Work::Echo { inputs, size, .. } => input_bytes(round << 32 | (u * inputs + i) as u64, size),
        _ => Vec::new(),
    }
}

/// Large inputs: a few distinct buffers, reused.
fn echo_pool(work: Work, round: u64) -> Vec<Vec<u8>> {
    match work {
        Work::Echo { size, .. } if size >= 4096 => {
            (0..8).map(|i| input_bytes(round * 8 + i, size)).collect()
        }
        _ => Vec::new(),
    }
}

fn counter_cmd(i: usize) -> (Option<i64>, String) {
    let n = (i % 7) as i64 - 2;
    if i % 10 == 9 {
        (None, "\"Get\"".to_owned())
    } else {
        (Some(n), format!("{{\"Add\":{n}}}"))
    }
}

/// Queues the round's inputs. Nothing is kept: the expected outputs are
/// computed again in `check`, so the simulator (which the contracts are
/// forked from) holds as little memory as possible when it spawns them.
fn queue(c: &mut Cluster, work: Work, round: u64) {
    match work {
        Work::Echo { users, inputs, .. } => {
            let pool = echo_pool(work, round);
            for i in 0..inputs {
                for u in 0..users {
                    c.input(&format!("u{u:04}"), echo_input(work, round, u, i, &pool));
                }
            }
        }
        Work::Counter { inputs } => {
            for i in 0..inputs {
                c.input("u0000", counter_cmd(i).1.as_bytes());
            }
        }
        Work::Empty | Work::Npl { .. } => {}
    }
}

/// Hazards every contract gets in this scenario because of its arguments,
/// not of what it does: the engine writes the args JSON into a 64 KiB pipe.
fn scenario_hazard(k: HazardKind) -> bool {
    k == HazardKind::ArgsExceedPipe
}

/// The end of a contract's stderr (Node quotes the whole args JSON in errors).
fn tail(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b);
    let cut = s.len().saturating_sub(1500);
    let cut = (cut..s.len())
        .find(|&i| s.is_char_boundary(i))
        .unwrap_or(s.len());
    s[cut..].to_owned()
}

fn check(
    r: &RoundReport,
    kind: Kind,
    work: Work,
    round: u64,
    total: &mut i64,
) -> Result<(), String> {
    let before = *total;
    for n in &r.nodes {
        if n.exit != hotpocket::sim::Exit::Code(0) {
            return Err(format!(
                "{} node {}: {}; stderr: {}",
                kind.name(),
                n.index,
                n.exit,
                tail(&n.stderr)
            ));
        }
        // Counted by size: Node's contract also sends a short "bye" (bench.js).
        let npl_got = |size: usize| {
            n.npl_received
                .iter()
                .filter(|m| m.data.len() == size)
                .count()
        };
        if let Work::Npl { nodes, count, size } = work
            && npl_got(size) != nodes * count
        {
            return Err(format!(
                "{} node {}: {} NPL messages delivered, not {}",
                kind.name(),
                n.index,
                npl_got(size),
                nodes * count
            ));
        }
        if String::from_utf8_lossy(&n.stderr).contains("npl: heard") {
            return Err(format!(
                "{} node {}: {}",
                kind.name(),
                n.index,
                tail(&n.stderr)
            ));
        }
        let bad = |u: usize, got: usize, want: usize, at: Option<usize>| {
            Err(format!(
                "{} node {}: user u{u:04} got {got} outputs, expected {want} (first difference at {at:?})",
                kind.name(),
                n.index
            ))
        };
        match work {
            Work::Echo { users, inputs, .. } => {
                let pool = echo_pool(work, round);
                for u in 0..users {
                    let got = n.outputs_to(&format!("u{u:04}"));
                    let at = (0..inputs).find(|&i| {
                        got.get(i).map(Vec::as_slice)
                            != Some(&echo_input(work, round, u, i, &pool)[..])
                    });
                    if got.len() != inputs || at.is_some() {
                        return bad(u, got.len(), inputs, at);
                    }
                }
            }
            Work::Counter { inputs } => {
                let got = n.outputs_to("u0000");
                let mut t = before;
                let at = (0..inputs).find(|&i| {
                    if let Some(a) = counter_cmd(i).0 {
                        t += a;
                    }
                    got.get(i).map(Vec::as_slice) != Some(t.to_string().as_bytes())
                });
                if got.len() != inputs || at.is_some() {
                    return bad(0, got.len(), inputs, at);
                }
                *total = t;
            }
            Work::Empty | Work::Npl { .. } => {}
        }
    }
    Ok(())
}

fn measure(s: &Scenario, kinds: &[Kind], node: Option<&Path>, reps: usize) -> Vec<Series> {
    let mut clusters: Vec<(Kind, Cluster, i64)> = kinds
        .iter()
        .filter_map(|&k| contract(k, s, node).map(|c| (k, c, 0)))
        .map(|(k, c, total)| match c.build() {
            Ok(c) => (k, c, total),
            Err(e) => panic!("({}) {}: simulator error: {e}", s.id, k.name()),
        })
        .collect();
    let mut series: Vec<Series> = clusters
        .iter()
        .map(|(k, ..)| Series {
            kind: *k,
            samples: Vec::new(),
            hazards: Vec::new(),
            scenario_hazards: Vec::new(),
            failures: Vec::new(),
        })
        .collect();
    // Node is slow; it gets fewer repetitions in the big scenarios.
    let node_reps = match s.work {
        Work::Empty => reps,
        Work::Echo { inputs, .. } if inputs >= 10_000 => reps.min(3),
        _ => reps.min(5),
    };
    // One warm-up round each, then the repetitions interleaved so drift in
    // the machine's load hits every contract alike.
    for rep in 0..=reps {
        for ((kind, c, total), ser) in clusters.iter_mut().zip(series.iter_mut()) {
            // Node rounds that fail (see `check`) are not retried forever.
            if *kind == Kind::Node && (rep > node_reps || ser.failures.len() >= 2) {
                continue;
            }
            queue(c, s.work, rep as u64);
            let r = match c.round() {
                Ok(r) => r,
                Err(e) => panic!("({}) {}: simulator error: {e}", s.id, kind.name()),
            };
            if let Err(e) = check(&r, *kind, s.work, rep as u64, total) {
                // The official Node library fails now and then on arguments
                // larger than a pipe; that is recorded, not measured.
                if *kind != Kind::Node {
                    panic!("({}) {e}", s.id);
                }
                let last = e.trim_end().lines().last().unwrap_or_default().to_owned();
                eprintln!("round_cost: ({}) node round failed: {last}", s.id);
                ser.failures.push(last);
                continue;
            }
            for (i, h) in r.hazards() {
                let text = format!("node {i}: {h}");
                let list = if scenario_hazard(h.kind()) {
                    &mut ser.scenario_hazards
                } else {
                    &mut ser.hazards
                };
                if !list.contains(&text) {
                    list.push(text);
                }
            }
            if rep == 0 {
                continue;
            }
            let k = r.nodes.len().max(1) as u32;
            ser.samples.push(Sample {
                // Per node: the mean over the round's nodes.
                cpu: r
                    .nodes
                    .iter()
                    .map(|n| n.usage.user_cpu + n.usage.sys_cpu)
                    .sum::<Duration>()
                    / k,
                wall: r.nodes.iter().map(|n| n.wall).max().unwrap_or_default(),
                rss_kib: r
                    .nodes
                    .iter()
                    .map(|n| n.usage.max_rss_kib)
                    .max()
                    .unwrap_or(0),
            });
        }
    }
    series
}

fn ratio(a: Duration, b: Duration) -> f64 {
    if b.is_zero() {
        f64::NAN
    } else {
        a.as_secs_f64() / b.as_secs_f64()
    }
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let mem = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .next()
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|k| k.parse::<u64>().ok())
        })
        .map_or_else(String::new, |k| format!(", {} GiB RAM", k / (1 << 20)));
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_owned())
        .unwrap_or_default();
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_owned))
        .unwrap_or_default();
    let node = node_bin()
        .and_then(|n| Command::new(n).arg("--version").output().ok())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "not installed".into());
    let rustc = Command::new(std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into()))
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    format!(
        "{cpu}, {cores} cores{mem}; Linux {kernel}; load average {load} at the start; {rustc}; node {node}"
    )
}

struct Results {
    rows: Vec<(&'static Scenario, Vec<Series>)>,
}

impl Results {
    fn get(&self, id: &str, kind: Kind) -> Option<&Series> {
        self.rows
            .iter()
            .find(|(s, _)| s.id == id)
            .and_then(|(_, v)| v.iter().find(|x| x.kind == kind && !x.samples.is_empty()))
    }

    fn render(&self, elapsed: Duration) -> String {
        let mut o = String::new();
        let _ = writeln!(o, "Machine: {}.  ", machine());
        let _ = writeln!(
            o,
            "Run: {} s in total. Times in ms; CPU = user + system time of the contract process (`wait4`), per node; wall = spawn to the end of the host's loop (slowest node); RSS = peak resident set in MiB (largest node).\n",
            elapsed.as_secs()
        );
        let _ = writeln!(
            o,
            "| scenario | contract | reps | CPU min | CPU median | wall min | wall median | RSS min | RSS median |"
        );
        let _ = writeln!(o, "|---|---|--:|--:|--:|--:|--:|--:|--:|");
        for (s, series) in &self.rows {
            for x in series.iter().filter(|x| !x.samples.is_empty()) {
                let (cmin, cmed) = x.cpu();
                let (wmin, wmed) = x.wall();
                let (rmin, rmed) = x.rss();
                let _ = writeln!(
                    o,
                    "| ({}) {} | {} | {} | {} | {} | {} | {} | {:.1} | {:.1} |",
                    s.id,
                    s.title,
                    x.kind.name(),
                    x.samples.len(),
                    ms(cmin),
                    ms(cmed),
                    ms(wmin),
                    ms(wmed),
                    rmin as f64 / 1024.0,
                    rmed as f64 / 1024.0
                );
            }
        }
        let _ = writeln!(o, "\nRatios of medians, and the targets:\n");
        let _ = writeln!(
            o,
            "| scenario | framework / raw CPU | framework / raw wall | node / framework CPU | node / framework wall | targets |"
        );
        let _ = writeln!(o, "|---|--:|--:|--:|--:|---|");
        let base_rss = self.get("a", Kind::Framework).map(|x| x.rss().1);
        for (s, _) in &self.rows {
            let raw = self.get(s.id, Kind::Raw);
            let fw = self.get(s.id, Kind::Framework);
            let node = self.get(s.id, Kind::Node);
            let f = |v: f64| {
                if v.is_nan() {
                    "–".to_owned()
                } else {
                    format!("{v:.2}")
                }
            };
            let (fr_cpu, fr_wall) = match (fw, raw) {
                (Some(fw), Some(raw)) => (
                    ratio(fw.cpu().1, raw.cpu().1),
                    ratio(fw.wall().1, raw.wall().1),
                ),
                _ => (f64::NAN, f64::NAN),
            };
            let (nf_cpu, nf_wall) = match (node, fw) {
                (Some(n), Some(fw)) => {
                    (ratio(n.cpu().1, fw.cpu().1), ratio(n.wall().1, fw.wall().1))
                }
                _ => (f64::NAN, f64::NAN),
            };
            let mut t = Vec::new();
            let mark = |ok: bool| if ok { "met" } else { "**missed**" };
            t.push(format!("CPU ≤ 1.15 × raw: {}", mark(fr_cpu <= 1.15)));
            if s.id == "a" {
                t.push(format!("wall ≤ 1.2 × raw: {}", mark(fr_wall <= 1.2)));
            }
            if s.id == "b" || s.id == "c" {
                t.push(format!("node ≥ 30 × framework: {}", mark(nf_cpu >= 30.0)));
            }
            if let (Some(fw), Some(base)) = (fw, base_rss) {
                let grow = fw.rss().1 as f64 / 1024.0 - base as f64 / 1024.0;
                if s.id == "b" {
                    t.push(format!(
                        "RSS {:+.1} MiB over (a), ≤ 16: {}",
                        grow,
                        mark(grow <= 16.0)
                    ));
                }
                if s.id == "d" {
                    t.push(format!(
                        "RSS {:+.1} MiB over (a), ≤ 18: {}",
                        grow,
                        mark(grow <= 18.0)
                    ));
                }
            }
            let bad: Vec<&str> = self
                .rows
                .iter()
                .filter(|(x, _)| x.id == s.id)
                .flat_map(|(_, v)| v.iter())
                .filter(|x| x.kind != Kind::Node && !x.hazards.is_empty())
                .map(|x| x.kind.name())
                .collect();
            t.push(if bad.is_empty() {
                "no hazards: met".to_owned()
            } else {
                format!("hazards ({}): **missed**", bad.join(", "))
            });
            let _ = writeln!(
                o,
                "| ({}) | {} | {} | {} | {} | {} |",
                s.id,
                f(fr_cpu),
                f(fr_wall),
                f(nf_cpu),
                f(nf_wall),
                t.join("; ")
            );
        }
        let _ = writeln!(o, "\nHazards flagged by the simulator:\n");
        let mut any = false;
        for (s, series) in &self.rows {
            for x in series {
                for h in &x.hazards {
                    any = true;
                    let _ = writeln!(o, "- ({}) {}: {h}", s.id, x.kind.name());
                }
            }
            let common: Vec<&String> = series
                .iter()
                .flat_map(|x| x.scenario_hazards.iter())
                .collect();
            if let Some(h) = common.first() {
                any = true;
                let _ = writeln!(
                    o,
                    "- ({}) every contract (the scenario's arguments, not the contract): {h}",
                    s.id
                );
            }
        }
        if !any {
            let _ = writeln!(o, "- none");
        }
        for (s, series) in &self.rows {
            for x in series.iter().filter(|x| !x.failures.is_empty()) {
                let _ = writeln!(
                    o,
                    "\n({}) {}: {} round(s) failed and were not measured; last error: `{}`",
                    s.id,
                    x.kind.name(),
                    x.failures.len(),
                    x.failures.last().map(String::as_str).unwrap_or_default()
                );
            }
        }
        o
    }
}

fn write_benchmarks_md(section: &str) {
    report::write_section(ROOT, "round_cost", (MARK_BEGIN, MARK_END), section);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if !args.iter().any(|a| a == "--bench") {
        println!("round_cost: run with `cargo bench` (skipped under `cargo test`)");
        return;
    }
    if args.iter().any(|a| a == "empty-deploy") {
        empty_deploy::main();
        return;
    }
    let only: Option<Vec<String>> = std::env::var("BENCH_ONLY")
        .ok()
        .map(|s| s.split(',').map(|x| x.trim().to_owned()).collect());
    let reps_override: Option<usize> = std::env::var("BENCH_REPS")
        .ok()
        .and_then(|s| s.parse().ok());
    let node = if std::env::var_os("BENCH_NO_NODE").is_some() {
        None
    } else {
        node_ready()
    };
    let all = Box::leak(scenarios().into_boxed_slice());
    let start = Instant::now();
    let mut results = Results { rows: Vec::new() };
    for s in all.iter() {
        if only.as_ref().is_some_and(|o| !o.iter().any(|x| x == s.id)) {
            continue;
        }
        let reps = reps_override.unwrap_or(s.reps);
        let t = Instant::now();
        let series = measure(
            s,
            &[Kind::Raw, Kind::Framework, Kind::Node],
            node.as_deref(),
            reps,
        );
        eprintln!(
            "round_cost: ({}) {} done in {:.1} s",
            s.id,
            s.title,
            t.elapsed().as_secs_f64()
        );
        results.rows.push((s, series));
    }
    let section = results.render(start.elapsed());
    println!("{section}");
    let complete = only.is_none() && node.is_some() && reps_override.is_none();
    if complete && std::env::var("BENCH_WRITE").as_deref() != Ok("0") {
        write_benchmarks_md(&section);
    } else {
        eprintln!(
            "round_cost: partial run (BENCH_ONLY, BENCH_REPS or no Node); BENCHMARKS.md left as it is"
        );
    }
}
