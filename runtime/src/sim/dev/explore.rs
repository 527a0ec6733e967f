//! `--explore N`: the dev-mode sequence under N seeded perturbation
//! schedules, and the command that replays the first one that splits.

use std::io::Write;
use std::path::Path;

use super::options::Options;
use super::{builder, sequence};
use crate::sim::cluster::{Cluster, Exploration};
use crate::sim::config::Variant;

/// Explores `seeds` schedules; exit code 1 if one split the nodes.
pub(super) fn run(
    bin: &Path,
    o: &Options,
    variant: Variant,
    seeds: u64,
    out: &mut dyn Write,
) -> Result<i32, Box<dyn std::error::Error>> {
    let roundtime = u64::from(o.roundtime_ms.unwrap_or(1000));
    writeln!(
        out,
        "exploring {seeds} perturbation schedule{} (seeds 1..={seeds}): per round, start skews \
         up to {} ms, NPL links delayed up to {} ms, one NPL link lost\n",
        if seeds == 1 { "" } else { "s" },
        roundtime / 5,
        roundtime / 2
    )?;
    let found = Cluster::explore(
        seeds,
        || builder(bin, o, variant),
        |cluster| {
            let mut reports = Vec::new();
            sequence(cluster, o, &mut |r| {
                reports.push(r);
                Ok(())
            })?;
            Ok(reports)
        },
    )?;
    report(bin, o, &found, out)
}

/// Prints what exploring found; the exit code.
fn report(
    bin: &Path,
    o: &Options,
    found: &Exploration,
    out: &mut dyn Write,
) -> Result<i32, Box<dyn std::error::Error>> {
    if !found.unstable.is_empty() {
        let seeds: Vec<u64> = found.unstable.iter().map(|s| s.seed()).collect();
        writeln!(
            out,
            "schedule{} {seeds:?} split the nodes once but not when run again: the split \
             hung on timing the schedule does not fix\n",
            if seeds.len() == 1 { "" } else { "s" }
        )?;
    }
    let Some(split) = &found.split else {
        writeln!(
            out,
            "summary: none of the {} schedules split the nodes",
            found.tried
        )?;
        return Ok(0);
    };
    if let Some(r) = split.report() {
        writeln!(out, "{r}\n")?;
    }
    writeln!(
        out,
        "summary: schedule {} splits the nodes in round {} (and did again when run a second time), \
         {} of {} schedules tried",
        split.schedule.seed(),
        split.round,
        found.tried,
        o.explore.unwrap_or(found.tried)
    )?;
    writeln!(out, "  what it did: {}", split.plan)?;
    writeln!(
        out,
        "  replay: {}",
        replay_command(bin, &o.argv, split.schedule.seed())
    )?;
    Ok(1)
}

/// The command line that replays schedule `seed`: this one, `--explore`
/// replaced by `--schedule`, shell-quoted.
pub(super) fn replay_command(bin: &Path, argv: &[String], seed: u64) -> String {
    let mut words = vec![bin.display().to_string(), "--dev".to_owned()];
    let mut it = argv.iter();
    while let Some(a) = it.next() {
        if a == "--explore" {
            it.next();
        } else if !a.starts_with("--explore=") {
            words.push(a.clone());
        }
    }
    words.push("--schedule".into());
    words.push(seed.to_string());
    let quoted: Vec<String> = words.iter().map(|w| quote(w)).collect();
    quoted.join(" ")
}

/// `w` as one shell word.
fn quote(w: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./:=,@%+".contains(c);
    if !w.is_empty() && w.chars().all(plain) {
        w.to_owned()
    } else {
        format!("'{}'", w.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_replay_command_swaps_explore_for_the_schedule() {
        let argv: Vec<String> = ["--nodes", "3", "--explore", "50", "--input", "a:{\"x\": 1}"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        assert_eq!(
            replay_command(Path::new("/b/c"), &argv, 7),
            r#"/b/c --dev --nodes 3 --input 'a:{"x": 1}' --schedule 7"#
        );
        let inline = vec!["--explore=5".to_owned(), "--env".into(), "A='b'".into()];
        assert_eq!(
            replay_command(Path::new("c"), &inline, 2),
            r"c --dev --env 'A='\''b'\''' --schedule 2"
        );
    }
}
