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
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::cluster::{Cluster, ClusterBuilder, Resumed, SimError};
use super::config::{Variant, hp_version, variant_name};
use super::npl::NplFault;
use super::report::{RoundReport, Verdict};

const HELP: &str = "\
Runs this contract under the hotpocket simulator (dev mode): a local engine
that spawns the contract as HotPocket does, on one or more simulated nodes.

USAGE:
    <contract> [--dev] [OPTIONS]

INPUTS (USER is a name; users get deterministic keys):
    --user USER             add a connected user (users with inputs are added anyway)
    --input USER:TEXT       an input for the first consensus round, as text
    --input-json USER:JSON  an input that must be valid JSON
    --input-file USER:PATH  an input read from a file
    --read USER:TEXT        a read request after the consensus rounds (repeatable)

ROUNDS:
    --rounds N              consensus rounds to run (default 1; inputs go to the first)
    --fallback              add a consensus-fallback round at the end (needs --variant mode,
                            which it selects unless another variant was given)

CLUSTER:
    --nodes N               number of nodes (default 1)
    --observer I            node I is an observer (its NPL is not broadcast)
    --drop-npl-to I         drop every NPL message to node I
    --delay-start I:MS      start node I's contract MS milliseconds late
    --variant readonly|mode engine variant: hpcore main (readonly, the default) or fallback-hpsh (mode)
    --timeout MS            exec timeout in ms (default 10000; the engine's is 300000)
    --roundtime MS          consensus.roundtime: the clock's step per round and, less
                            100 ms, a fallback round's time limit (default 1000)
    --env KEY=VALUE         add to the contract's environment (its only environment)
    --keep-state DIR        keep the cluster (node state, patch.cfg, lcl, clock) in DIR;
                            run again with the same DIR to continue it
    --fresh                 with --keep-state: discard the cluster kept in DIR, start over

SERVING (binaries built with the hotpocket `serve` feature):
    --serve PORT            serve the cluster to real HotPocket clients: node I on
                            ws://127.0.0.1:PORT+I, a consensus round every --roundtime ms,
                            until Ctrl-C (--keep-state DIR continues the next run)

OUTPUT:
    --verbose               also print each node's args JSON and stdout
    -h, --help              print this help

Exit status: 0 if every round agreed, 1 if nodes disagreed, 2 on a usage or simulator error.
";

#[derive(Debug, Default)]
struct Options {
    nodes: usize,
    users: Vec<String>,
    inputs: Vec<(String, Vec<u8>)>,
    reads: Vec<(String, Vec<u8>)>,
    rounds: usize,
    fallback: bool,
    variant: Option<Variant>,
    timeout_ms: u64,
    roundtime_ms: Option<u32>,
    env: Vec<(String, String)>,
    observers: Vec<usize>,
    drop_to: Vec<usize>,
    delays: Vec<(usize, u64)>,
    keep_state: Option<PathBuf>,
    fresh: bool,
    serve: Option<u16>,
    verbose: bool,
    help: bool,
}

fn user_value<'a>(flag: &str, v: &'a str) -> Result<(String, &'a str), String> {
    match v.split_once(':') {
        Some((user, rest)) if !user.is_empty() => Ok((user.to_owned(), rest)),
        _ => Err(format!("{flag} expects USER:VALUE, got {v:?}")),
    }
}

fn number<T: std::str::FromStr>(flag: &str, v: &str) -> Result<T, String> {
    v.parse()
        .map_err(|_| format!("{flag} expects a number, got {v:?}"))
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        nodes: 1,
        rounds: 1,
        timeout_ms: 10_000,
        ..Options::default()
    };
    let mut it = args.iter().map(String::as_str).peekable();
    if it.peek() == Some(&"--dev") {
        it.next();
    }
    while let Some(flag) = it.next() {
        // Accept both `--flag value` and `--flag=value`.
        let (flag, inline) = match flag.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v)),
            _ => (flag, None),
        };
        let mut value = || -> Result<String, String> {
            match inline {
                Some(v) => Ok(v.to_owned()),
                None => it
                    .next()
                    .map(str::to_owned)
                    .ok_or_else(|| format!("{flag} needs a value")),
            }
        };
        match flag {
            "-h" | "--help" => o.help = true,
            "--verbose" => o.verbose = true,
            "--fallback" => o.fallback = true,
            "--fresh" => o.fresh = true,
            "--nodes" => {
                o.nodes = number(flag, &value()?)?;
                if o.nodes == 0 {
                    return Err("--nodes must be at least 1".into());
                }
            }
            "--rounds" => o.rounds = number(flag, &value()?)?,
            "--timeout" => o.timeout_ms = number(flag, &value()?)?,
            "--roundtime" => o.roundtime_ms = Some(number(flag, &value()?)?),
            "--user" => o.users.push(value()?),
            "--input" => {
                let v = value()?;
                let (user, text) = user_value(flag, &v)?;
                o.inputs.push((user, text.as_bytes().to_vec()));
            }
            "--input-json" => {
                let v = value()?;
                let (user, json) = user_value(flag, &v)?;
                serde_json::from_str::<serde_json::Value>(json).map_err(|e| {
                    format!("--input-json for {user}: not valid JSON ({e}): {json}")
                })?;
                o.inputs.push((user, json.as_bytes().to_vec()));
            }
            "--input-file" => {
                let v = value()?;
                let (user, path) = user_value(flag, &v)?;
                let bytes = std::fs::read(path).map_err(|e| format!("--input-file {path}: {e}"))?;
                o.inputs.push((user, bytes));
            }
            "--read" => {
                let v = value()?;
                let (user, text) = user_value(flag, &v)?;
                o.reads.push((user, text.as_bytes().to_vec()));
            }
            "--variant" => {
                o.variant = Some(match value()?.as_str() {
                    "readonly" => Variant::Readonly,
                    "mode" => Variant::Mode,
                    other => {
                        return Err(format!("--variant expects readonly or mode, got {other:?}"));
                    }
                })
            }
            "--env" => {
                let v = value()?;
                let (k, val) = v
                    .split_once('=')
                    .ok_or_else(|| format!("--env expects KEY=VALUE, got {v:?}"))?;
                o.env.push((k.to_owned(), val.to_owned()));
            }
            "--observer" => o.observers.push(number(flag, &value()?)?),
            "--drop-npl-to" => o.drop_to.push(number(flag, &value()?)?),
            "--delay-start" => {
                let v = value()?;
                let (i, ms) = v
                    .split_once(':')
                    .ok_or_else(|| format!("--delay-start expects I:MS, got {v:?}"))?;
                o.delays.push((number(flag, i)?, number(flag, ms)?));
            }
            "--keep-state" => o.keep_state = Some(PathBuf::from(value()?)),
            "--serve" => o.serve = Some(number(flag, &value()?)?),
            other => return Err(format!("unknown option {other:?} (see --help)")),
        }
    }
    for &i in o
        .observers
        .iter()
        .chain(&o.drop_to)
        .chain(o.delays.iter().map(|(i, _)| i))
    {
        if i >= o.nodes {
            return Err(format!("node {i} does not exist (--nodes {})", o.nodes));
        }
    }
    if o.serve.is_some() && !(o.inputs.is_empty() && o.reads.is_empty() && !o.fallback) {
        return Err(
            "--serve takes inputs and reads from clients, not --input/--read/--fallback".into(),
        );
    }
    if o.fresh && o.keep_state.is_none() {
        return Err("--fresh only applies with --keep-state DIR".into());
    }
    if o.fallback && o.variant == Some(Variant::Readonly) {
        return Err(
            "--fallback needs --variant mode: hpcore main (readonly) has no fallback rounds".into(),
        );
    }
    if o.fallback {
        o.variant = Some(Variant::Mode);
    }
    Ok(o)
}

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
    let mut cluster = cluster.build()?;
    for (user, data) in &o.inputs {
        cluster.input(user, data);
    }
    if let Some(r) = cluster.resumed() {
        print_resumed(r, out)?;
    }
    writeln!(out)?;

    let started = Instant::now();
    let mut reports: Vec<RoundReport> = Vec::new();
    let mut print = |r: RoundReport, out: &mut dyn Write| -> std::io::Result<()> {
        writeln!(out, "{r}")?;
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
    for _ in 0..o.rounds {
        print(cluster.round()?, out)?;
    }
    for (user, data) in &o.reads {
        print(cluster.read(user, data)?, out)?;
    }
    if o.fallback {
        print(cluster.fallback_round()?, out)?;
    }

    let disagreed = summary(&reports, started, o, out)?;
    Ok(if disagreed.is_empty() { 0 } else { 1 })
}

/// The cluster the options ask for.
fn builder(bin: &Path, o: &Options, variant: Variant) -> ClusterBuilder {
    let mut cluster = Cluster::builder(bin)
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
    if let Some(dir) = &o.keep_state {
        cluster = cluster.keep_state(dir);
        if o.fresh {
            cluster = cluster.fresh();
        }
    }
    cluster
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

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &[&str]) -> Vec<String> {
        s.iter().map(|a| (*a).to_owned()).collect()
    }

    #[test]
    fn parses_the_documented_options() {
        let o = parse(&args(&[
            "--dev",
            "--nodes",
            "3",
            "--input",
            "alice:{\"Add\":5}",
            "--input-json=bob:[1]",
            "--read",
            "alice:x:y",
            "--rounds",
            "2",
            "--fallback",
            "--env",
            "A=b=c",
            "--observer",
            "2",
            "--delay-start",
            "1:50",
            "--roundtime=2500",
        ]))
        .unwrap();
        assert_eq!(o.nodes, 3);
        assert_eq!(
            o.inputs,
            [
                ("alice".into(), b"{\"Add\":5}".to_vec()),
                ("bob".into(), b"[1]".to_vec())
            ]
        );
        assert_eq!(o.reads, [("alice".into(), b"x:y".to_vec())]);
        assert_eq!(
            (o.rounds, o.fallback, o.variant),
            (2, true, Some(Variant::Mode))
        );
        assert_eq!(o.env, [("A".into(), "b=c".into())]);
        assert_eq!(o.roundtime_ms, Some(2500));
        assert_eq!(
            (o.observers.as_slice(), o.delays.as_slice()),
            (&[2][..], &[(1, 50)][..])
        );
    }

    #[test]
    fn clear_errors() {
        let e = |a: &[&str]| parse(&args(a)).unwrap_err();
        assert!(e(&["--nodes"]).contains("--nodes needs a value"));
        assert!(e(&["--nodes", "x"]).contains("expects a number"));
        assert!(e(&["--input", "nouser"]).contains("USER:VALUE"));
        assert!(e(&["--input-json", "a:{"]).contains("not valid JSON"));
        assert!(e(&["--bogus"]).contains("unknown option \"--bogus\""));
        assert!(e(&["--variant", "x"]).contains("readonly or mode"));
        assert!(e(&["--fallback", "--variant", "readonly"]).contains("needs --variant mode"));
        assert!(e(&["--nodes", "2", "--observer", "2"]).contains("node 2 does not exist"));
        assert!(e(&["--fresh"]).contains("--fresh only applies with --keep-state"));
    }
}
