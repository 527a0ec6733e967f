//! Dev mode: a contract binary simulating itself.
//!
//! Every contract built with `#[contract]` calls [`main`] when it is started
//! from a terminal or with `--dev` as its first argument, instead of reading
//! the engine's arguments. It then runs its own executable under the
//! simulator (with a pipe on stdin, so that child runs in engine mode) and
//! prints a readable report. The engine always hands a pipe on stdin and never
//! passes `--dev`, so dev mode cannot trigger there.
//!
//! ```text
//! cargo run --example counter -- --nodes 3 --input alice:'{"Add":5}' --read alice:'"Get"'
//! ```

use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

mod explore;
mod options;

use self::options::{HELP, Options, parse};
use super::cluster::{Cluster, ClusterBuilder, Resumed, Schedule, SimError};
use super::config::{Variant, hp_version, variant_name};
use super::keys::KeyPair;
use super::npl::NplFault;
use super::report::{RoundReport, Verdict};

/// Runs dev mode for the current executable with `args` (without `argv[0]`);
/// returns the process exit code. This is what `hotpocket::run` calls when
/// stdin is a terminal or the first argument is `--dev`.
pub fn main(args: Vec<String>) -> i32 {
    let bin = match std::env::current_exe() {
        Ok(b) => b,
        Err(e) => {
            eprintln!("hotpocket dev mode: cannot find this executable: {e}");
            return 2;
        }
    };
    run(&bin, &args, &mut std::io::stdout().lock())
}

/// Dev mode for the contract binary `bin`, printing to `out`. [`main`] is
/// this with the current executable and stdout.
pub fn run(bin: &Path, args: &[String], out: &mut dyn Write) -> i32 {
    let opts = match parse(args) {
        Ok(o) => o,
        Err(e) => {
            let _ = writeln!(out, "error: {e}\n\nRun with --help for the options.");
            return 2;
        }
    };
    if opts.help {
        let _ = write!(out, "{HELP}");
        return 0;
    }
    if opts.keys {
        return match print_keys(&opts, out) {
            Ok(()) => 0,
            Err(_) => 2,
        };
    }
    match simulate(bin, &opts, out) {
        Ok(code) => code,
        Err(e) => {
            match e.downcast_ref::<SimError>() {
                Some(SimError::KeptState { dir, problem }) => {
                    let _ = writeln!(
                        out,
                        "error: {} holds a cluster this run cannot continue: {problem}.\n\
                         To continue it, run with the same --nodes and --variant as before; \
                         to start over, add --fresh (or delete {}).",
                        dir.display(),
                        dir.display()
                    );
                }
                _ => {
                    let _ = writeln!(out, "error: {e}");
                }
            }
            2
        }
    }
}

fn simulate(
    bin: &Path,
    o: &Options,
    out: &mut dyn Write,
) -> Result<i32, Box<dyn std::error::Error>> {
    let variant = o.variant.unwrap_or(Variant::Readonly);
    let cluster = builder(bin, o, variant);
    if let Some(port) = o.serve {
        let roundtime = u64::from(o.roundtime_ms.unwrap_or(1000));
        return serve(cluster.build()?, o.nodes, port, roundtime, out);
    }
    let name = bin.file_name().map_or_else(
        || bin.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    writeln!(
        out,
        "hotpocket dev mode: {name} on {} node{}, engine variant {} (hp_version {})",
        o.nodes,
        if o.nodes == 1 { "" } else { "s" },
        variant_name(variant),
        hp_version(variant)
    )?;
    if let Some(n) = o.explore {
        return explore::run(bin, o, variant, n, out);
    }
    if let Some(seed) = o.schedule {
        writeln!(out, "under perturbation schedule {seed}")?;
    }
    let mut cluster = cluster.build()?;
    if let Some(r) = cluster.resumed() {
        print_resumed(r, out)?;
    }
    for n in cluster.not_varied() {
        writeln!(out, "{n}")?;
    }
    writeln!(out)?;

    let started = Instant::now();
    let mut reports: Vec<RoundReport> = Vec::new();
    let mut print = |r: RoundReport, out: &mut dyn Write| -> std::io::Result<()> {
        if o.verbose {
            writeln!(out, "{r:#}")?;
        } else {
            writeln!(out, "{r}")?;
        }
        if o.verbose {
            for n in &r.nodes {
                writeln!(out, "  node {} args: {}", n.index, n.args_json)?;
                for line in String::from_utf8_lossy(&n.stdout).lines() {
                    writeln!(out, "    stdout| {line}")?;
                }
            }
        }
        writeln!(out)?;
        reports.push(r);
        Ok(())
    };
    sequence(&mut cluster, o, &mut |r| print(r, out))?;

    let disagreed = summary(&reports, started, o, out)?;
    Ok(if disagreed.is_empty() { 0 } else { 1 })
}

/// The options' round sequence on `cluster`: the consensus rounds with
/// their inputs, the read requests, the fallback round; `each` gets every
/// report as it comes.
fn sequence(
    cluster: &mut Cluster,
    o: &Options,
    each: &mut dyn FnMut(RoundReport) -> std::io::Result<()>,
) -> Result<(), SimError> {
    let io = |e: std::io::Error| SimError::Usage(format!("writing the report: {e}"));
    for round in 0..o.rounds {
        for (_, user, data) in o.inputs.iter().filter(|(r, ..)| *r == round) {
            cluster.input(user, data);
        }
        each(cluster.round()?).map_err(io)?;
    }
    for (user, data) in &o.reads {
        each(cluster.read(user, data)?).map_err(io)?;
    }
    if o.fallback {
        each(cluster.fallback_round()?).map_err(io)?;
    }
    Ok(())
}

/// The cluster the options ask for.
fn builder(bin: &Path, o: &Options, variant: Variant) -> ClusterBuilder {
    // Straddling a second starts the later nodes up to a fifth of a second
    // after node 0: on top of a --delay-start that would test a later start
    // than the one asked for, so the flag's start times stand alone.
    let mut cluster = Cluster::builder(bin)
        .straddle_second(o.delays.is_empty())
        .nodes(o.nodes)
        .variant(variant)
        .exec_timeout(o.timeout_ms);
    if let Some(ms) = o.roundtime_ms {
        cluster = cluster.configure(|c| c.consensus.roundtime = ms);
    }
    for u in &o.users {
        cluster = cluster.user(u);
    }
    for (k, v) in &o.env {
        cluster = cluster.env(k, v);
    }
    for &i in &o.observers {
        cluster = cluster.observer(i);
    }
    for &i in &o.drop_to {
        cluster = cluster.npl_fault(NplFault::drop_to(i));
    }
    for &(i, ms) in &o.delays {
        cluster = cluster.start_delay(i, Duration::from_millis(ms));
    }
    if let Some(seed) = o.schedule {
        cluster = cluster.schedule(Schedule::new(seed));
    }
    if let Some(dir) = &o.keep_state {
        cluster = cluster.keep_state(dir);
        if o.fresh {
            cluster = cluster.fresh();
        }
    }
    cluster
}

/// `--keys`: each node's and each named user's public key (the simulator's
/// keys are derived from the index and the name, the same on every run).
fn print_keys(o: &Options, out: &mut dyn Write) -> std::io::Result<()> {
    for i in 0..o.nodes {
        writeln!(out, "node {i}: {}", KeyPair::node(i).public_key)?;
    }
    let mut users: Vec<&str> = o.users.iter().map(String::as_str).collect();
    users.extend(o.inputs.iter().map(|(_, u, _)| u.as_str()));
    users.extend(o.reads.iter().map(|(u, _)| u.as_str()));
    users.sort_unstable();
    users.dedup();
    for user in users {
        writeln!(out, "user {user}: {}", KeyPair::user(user).public_key)?;
    }
    Ok(())
}

/// Where a kept cluster was continued from.
fn print_resumed(r: &Resumed, out: &mut dyn Write) -> std::io::Result<()> {
    writeln!(
        out,
        "continuing the cluster kept in {}: {} round{} so far, lcl {}-{}, timestamp {}",
        r.dir.display(),
        r.rounds,
        if r.rounds == 1 { "" } else { "s" },
        r.lcl_seq_no,
        r.lcl_hash.get(..16).unwrap_or(&r.lcl_hash),
        r.timestamp
    )?;
    for c in &r.config_changes {
        writeln!(
            out,
            "  configuration changed since: {} {} -> {}",
            c.key, c.from, c.to
        )?;
    }
    Ok(())
}

/// The summary lines after the rounds; the rounds whose nodes disagreed.
fn summary(
    reports: &[RoundReport],
    started: Instant,
    o: &Options,
    out: &mut dyn Write,
) -> std::io::Result<Vec<u64>> {
    let disagreed: Vec<u64> = reports
        .iter()
        .filter(|r| matches!(r.verdict, Verdict::Differ(_)))
        .map(|r| r.number)
        .collect();
    let hazards: usize = reports.iter().map(|r| r.hazards().len()).sum();
    // Every node runs the contract once per round.
    let executions: usize = reports.iter().map(|r| r.nodes.len()).sum();
    let final_state = reports
        .iter()
        .rev()
        .find_map(|r| r.state_hash())
        .unwrap_or("-");
    let plural = |n: usize| if n == 1 { "" } else { "s" };
    writeln!(
        out,
        "summary: {} round{}, {executions} execution{} in {:.1} ms; {}; {hazards} hazard{}; state {final_state}",
        reports.len(),
        plural(reports.len()),
        plural(executions),
        started.elapsed().as_secs_f64() * 1000.0,
        if disagreed.is_empty() {
            "all nodes agree".to_owned()
        } else {
            format!("nodes DISAGREE in round {disagreed:?}")
        },
        plural(hazards),
    )?;
    let oversized: usize = reports.iter().map(|r| r.oversized_inputs.len()).sum();
    if oversized > 0 {
        writeln!(
            out,
            "{oversized} input{} over the engine's 5 MiB user message limit: they never reach a \
             real engine (it closes the connection) and were dropped here too",
            plural(oversized)
        )?;
    }
    let lost: Vec<&RoundReport> = reports.iter().filter(|r| r.no_ledger.is_some()).collect();
    if let Some(first) = lost.first() {
        let numbers: Vec<u64> = lost.iter().map(|r| r.number).collect();
        writeln!(
            out,
            "NO LEDGER in round {numbers:?}, as the engine would: {}",
            first.no_ledger.as_deref().unwrap_or_default()
        )?;
    }
    // A contract that reconfigured itself runs differently from what the
    // command line asked for; say so where it cannot be missed.
    let applied: Vec<u64> = reports
        .iter()
        .filter(|r| r.config_applied.is_some())
        .map(|r| r.number)
        .collect();
    if !applied.is_empty() {
        writeln!(
            out,
            "patch.cfg changed by the contract and applied after round {applied:?}"
        )?;
    }
    if let Some(dir) = &o.keep_state {
        writeln!(
            out,
            "cluster kept in {}: run again with --keep-state {} to continue it",
            dir.display(),
            dir.display()
        )?;
    }
    Ok(disagreed)
}

/// `--serve PORT`: the cluster for real clients until Ctrl-C.
#[cfg(feature = "serve")]
fn serve(
    cluster: Cluster,
    nodes: usize,
    port: u16,
    roundtime_ms: u64,
    out: &mut dyn Write,
) -> Result<i32, Box<dyn std::error::Error>> {
    let _ = writeln!(
        out,
        "hotpocket dev mode: serving {nodes} nodes, Ctrl-C stops"
    );
    super::serve::serve_until_interrupted(cluster, nodes, port, roundtime_ms)?;
    Ok(0)
}

/// `--serve PORT` in a binary without the `serve` feature.
#[cfg(not(feature = "serve"))]
fn serve(
    _: Cluster,
    _: usize,
    _: u16,
    _: u64,
    _: &mut dyn Write,
) -> Result<i32, Box<dyn std::error::Error>> {
    Err(
        "--serve needs the contract built with hotpocket's `serve` feature \
         (hotpocket = { ..., features = [\"serve\"] }, or --features hotpocket/serve)"
            .into(),
    )
}
