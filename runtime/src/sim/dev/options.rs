//! Dev mode's command line: the flags, their checks and `--help`.

use std::path::PathBuf;

use crate::sim::config::Variant;

/// `--help`.
pub(super) const HELP: &str = "\
Runs this contract under the hotpocket simulator (dev mode): a local engine
that spawns the contract as HotPocket does, on one or more simulated nodes.

USAGE:
    <contract> [--dev] [OPTIONS]

INPUTS (USER is a name; users get deterministic keys):
    --user USER             add a connected user (users with inputs are added anyway)
    --input USER:TEXT       an input for the first consensus round, as text
    --input-json USER:JSON  an input that must be valid JSON
    --input-file USER:PATH  an input read from a file
    --in-round N            the inputs after this flag go to consensus round N (1-based;
                            --rounds is raised to N if it is lower and was not given)
    --read USER:TEXT        a read request after the consensus rounds (repeatable)
    --keys                  print every node's and user's public key, then exit
                            (for settings such as --env ADMINS=<key>)

ROUNDS:
    --rounds N              consensus rounds to run (default 1; inputs go to the first
                            unless --in-round says otherwise)
    --fallback              add a consensus-fallback round at the end (needs --variant mode,
                            which it selects unless another variant was given)

CLUSTER:
    --nodes N               number of nodes (default 1)
    --observer I            node I is an observer (its NPL is not broadcast)
    --drop-npl-to I         drop every NPL message to node I
    --delay-start I:MS      start node I's contract MS milliseconds late
    --variant readonly|mode engine variant: hpcore main (readonly, the default) or fallback-hpsh (mode)
    --timeout MS            exec timeout in ms (default 10000; the engine's is 300000)
    --roundtime MS          consensus.roundtime: the clock's step per round and what a
                            fallback round's time limit is left from (default 1000:
                            650 ms from stage 1, 150 ms from stage 3)
    --env KEY=VALUE         add to the contract's environment (its only environment)
    --explore N             run the whole sequence again under N seeded perturbation
                            schedules (start skews, NPL delays and reordering, a lost
                            NPL link per round) and report the first that splits the
                            nodes, with the command that replays it
    --schedule S            run under perturbation schedule S (a seed --explore printed)
    --keep-state DIR        keep the cluster (node state, patch.cfg, lcl, clock) in DIR;
                            run again with the same DIR to continue it
    --fresh                 with --keep-state: discard the cluster kept in DIR, start over

SERVING (binaries built with the hotpocket `serve` feature):
    --serve PORT            serve the cluster to real HotPocket clients: node I on
                            ws://127.0.0.1:PORT+I, a consensus round every --roundtime ms,
                            until Ctrl-C (--keep-state DIR continues the next run)

OUTPUT:
    --verbose               also print each node's args JSON and stdout, and cut nothing
                            short (every output, whole; every stderr line)
    -h, --help              print this help

Exit status: 0 if every round agreed, 1 if nodes disagreed, 2 on a usage or simulator error.
";

/// A dev-mode command line, read.
#[derive(Debug, Default)]
pub(super) struct Options {
    pub(super) nodes: usize,
    pub(super) users: Vec<String>,
    /// (round index from 0, user, input).
    pub(super) inputs: Vec<(usize, String, Vec<u8>)>,
    /// Where the next `--input` goes (`--in-round`, from 0).
    pub(super) input_round: usize,
    /// `--rounds` was given.
    pub(super) rounds_given: bool,
    /// `--keys`.
    pub(super) keys: bool,
    pub(super) reads: Vec<(String, Vec<u8>)>,
    pub(super) rounds: usize,
    pub(super) fallback: bool,
    pub(super) variant: Option<Variant>,
    pub(super) timeout_ms: u64,
    pub(super) roundtime_ms: Option<u32>,
    pub(super) env: Vec<(String, String)>,
    pub(super) observers: Vec<usize>,
    pub(super) drop_to: Vec<usize>,
    pub(super) delays: Vec<(usize, u64)>,
    pub(super) explore: Option<u64>,
    pub(super) schedule: Option<u64>,
    /// The command line as given (without `--dev`), for the replay command.
    pub(super) argv: Vec<String>,
    pub(super) keep_state: Option<PathBuf>,
    pub(super) fresh: bool,
    pub(super) serve: Option<u16>,
    pub(super) verbose: bool,
    pub(super) help: bool,
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

/// The options of a dev-mode command line (`--dev` first is skipped).
pub(super) fn parse(args: &[String]) -> Result<Options, String> {
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
    o.argv = it.clone().map(str::to_owned).collect();
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
        apply(&mut o, flag, &mut value)?;
    }
    check(&mut o)?;
    Ok(o)
}

/// Records one flag; `value` takes the flag's value when it has one.
fn apply(
    o: &mut Options,
    flag: &str,
    value: &mut dyn FnMut() -> Result<String, String>,
) -> Result<(), String> {
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
        "--rounds" => {
            o.rounds = number(flag, &value()?)?;
            o.rounds_given = true;
        }
        "--in-round" => {
            let n: usize = number(flag, &value()?)?;
            o.input_round = n.checked_sub(1).ok_or("--in-round counts rounds from 1")?;
        }
        "--keys" => o.keys = true,
        "--timeout" => o.timeout_ms = number(flag, &value()?)?,
        "--roundtime" => o.roundtime_ms = Some(number(flag, &value()?)?),
        "--user" => o.users.push(value()?),
        "--input" => {
            let v = value()?;
            let (user, text) = user_value(flag, &v)?;
            o.inputs
                .push((o.input_round, user, text.as_bytes().to_vec()));
        }
        "--input-json" => {
            let v = value()?;
            let (user, json) = user_value(flag, &v)?;
            serde_json::from_str::<serde_json::Value>(json)
                .map_err(|e| format!("--input-json for {user}: not valid JSON ({e}): {json}"))?;
            o.inputs
                .push((o.input_round, user, json.as_bytes().to_vec()));
        }
        "--input-file" => {
            let v = value()?;
            let (user, path) = user_value(flag, &v)?;
            let bytes = std::fs::read(path).map_err(|e| format!("--input-file {path}: {e}"))?;
            o.inputs.push((o.input_round, user, bytes));
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
        "--explore" => {
            let n: u64 = number(flag, &value()?)?;
            if n == 0 {
                return Err("--explore needs at least 1 schedule".into());
            }
            o.explore = Some(n);
        }
        "--schedule" => o.schedule = Some(number(flag, &value()?)?),
        "--keep-state" => o.keep_state = Some(PathBuf::from(value()?)),
        "--serve" => o.serve = Some(number(flag, &value()?)?),
        other => return Err(format!("unknown option {other:?} (see --help)")),
    }
    Ok(())
}

/// The checks across flags, once all are read.
fn check(o: &mut Options) -> Result<(), String> {
    if let Some(last) = o.inputs.iter().map(|(r, ..)| r + 1).max() {
        if last > o.rounds && o.rounds_given {
            return Err(format!(
                "an input is for round {last} but --rounds is {}",
                o.rounds
            ));
        }
        o.rounds = o.rounds.max(last);
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
    if o.explore.is_some() && (o.keep_state.is_some() || o.serve.is_some()) {
        return Err(
            "--explore runs every schedule on a fresh cluster: it cannot use --keep-state or --serve"
                .into(),
        );
    }
    if o.explore.is_some() && o.schedule.is_some() {
        return Err(
            "--explore tries schedules 1..=N itself; give either it or --schedule S".into(),
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
    Ok(())
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
                (0, "alice".into(), b"{\"Add\":5}".to_vec()),
                (0, "bob".into(), b"[1]".to_vec())
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
    fn inputs_go_to_the_round_named_before_them() {
        let o = parse(&args(&[
            "--input",
            "a:1",
            "--in-round",
            "3",
            "--input",
            "b:2",
            "--in-round=2",
            "--input",
            "a:3",
        ]))
        .unwrap();
        let rounds: Vec<(usize, &str)> =
            o.inputs.iter().map(|(r, u, _)| (*r, u.as_str())).collect();
        assert_eq!(rounds, [(0, "a"), (2, "b"), (1, "a")]);
        assert_eq!(o.rounds, 3, "raised to cover round 3");
        let o = parse(&args(&[
            "--rounds",
            "5",
            "--in-round",
            "2",
            "--input",
            "a:1",
        ]))
        .unwrap();
        assert_eq!(o.rounds, 5);
        assert!(parse(&args(&["--keys"])).unwrap().keys);
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
        assert!(e(&["--in-round", "0"]).contains("counts rounds from 1"));
        assert!(e(&["--explore", "0"]).contains("at least 1 schedule"));
        assert!(e(&["--explore", "5", "--schedule", "2"]).contains("either it or --schedule"));
        assert!(e(&["--explore", "5", "--keep-state", "d"]).contains("cannot use --keep-state"));
        assert!(
            e(&["--rounds", "1", "--in-round", "2", "--input", "a:1"])
                .contains("an input is for round 2 but --rounds is 1")
        );
    }
}
