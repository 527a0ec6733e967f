//! The report as text: bytes rendered for people, a round's report as dev
//! mode prints it.

use std::fmt;
use std::time::Duration;

use super::super::config::ConfigChange;
use super::*;

/// Renders bytes for a report: text as a quoted, escaped string (control
/// characters and quotes escaped); bytes that are not UTF-8, or mostly
/// control characters, in hex. Values longer than 120 characters (60 bytes
/// in hex) are cut short, and those, like all hex, carry their length:
///
/// ```
/// use hotpocket::sim::render_bytes;
/// assert_eq!(render_bytes(b"hi \"you\"\n"), r#""hi \"you\"\n""#);
/// assert_eq!(render_bytes(&[0, 0xff]), "0x00ff (2 bytes)");
/// assert!(render_bytes(&[b'a'; 500]).ends_with("aaa\"... (500 bytes)"));
/// ```
pub fn render_bytes(bytes: &[u8]) -> String {
    render_cut(bytes, Some(MAX_CHARS))
}

/// Values are cut at this many characters, unless the report is rendered
/// in full (`{:#}`).
const MAX_CHARS: usize = 120;

/// A user output: JSON other than a string as written (so `{"a":1}` reads
/// as itself, not as an escaped Rust string), anything else as
/// [`render_bytes`]; cut at `max` characters if given.
fn render_output(bytes: &[u8], max: Option<usize>) -> String {
    let json = std::str::from_utf8(bytes).ok().filter(|s| {
        !s.trim_start().starts_with('"')
            && !s.contains(['\n', '\r'])
            && serde_json::from_str::<serde::de::IgnoredAny>(s).is_ok()
    });
    match json {
        Some(s) => match max.filter(|&m| s.chars().count() > m) {
            Some(m) => {
                let shown: String = s.chars().take(m).collect();
                format!("{shown}... ({} bytes)", bytes.len())
            }
            None => s.trim().to_owned(),
        },
        None => render_cut(bytes, max),
    }
}

/// [`render_bytes`], cut at `max` characters (`None`: never).
fn render_cut(bytes: &[u8], max: Option<usize>) -> String {
    let text = std::str::from_utf8(bytes).ok().filter(|s| {
        let control = s
            .chars()
            .filter(|c| c.is_control() && !matches!(c, '\n' | '\t' | '\r'))
            .count();
        control * 4 <= s.chars().count()
    });
    match text {
        Some(s) => {
            let shown: String = s.chars().take(max.unwrap_or(usize::MAX)).collect();
            if shown.len() == s.len() {
                format!("{s:?}")
            } else {
                format!("{shown:?}... ({} bytes)", bytes.len())
            }
        }
        None => {
            let shown = match max {
                Some(m) => bytes.get(..m / 2).unwrap_or(bytes),
                None => bytes,
            };
            let dots = if bytes.len() > shown.len() { "..." } else { "" };
            format!("0x{}{dots} ({} bytes)", hex::encode(shown), bytes.len())
        }
    }
}

/// `key from -> to, ...` for a report line.
fn change_list(changes: &[ConfigChange]) -> String {
    if changes.is_empty() {
        return "(same values, reformatted)".to_owned();
    }
    changes
        .iter()
        .map(|c| format!("{} {} -> {}", c.key, c.from, c.to))
        .collect::<Vec<_>>()
        .join(", ")
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// At most this many messages per user are listed in a report.
const MAX_MESSAGES: usize = 20;
/// At most this many stderr lines per node are shown in a report.
const MAX_STDERR_LINES: usize = 20;

/// A node's report lines other than its summary line and stderr, by kind:
/// outputs, control messages, NPL, post_exec.sh, patch.cfg, hazards. A kind
/// whose lines are the same on every node is shown once for all.
/// `full`: nothing is cut short.
fn detail_lines(n: &NodeReport, full: bool) -> [Vec<String>; 6] {
    let (max_chars, max_messages) = if full {
        (None, usize::MAX)
    } else {
        (Some(MAX_CHARS), MAX_MESSAGES)
    };
    let mut outputs = Vec::new();
    for u in &n.outputs {
        if u.messages.is_empty() {
            outputs.push(format!("-> {}: (no outputs)", u.user));
        }
        for m in u.messages.iter().take(max_messages) {
            outputs.push(format!("-> {}: {}", u.user, render_output(m, max_chars)));
        }
        if let Some(rest) = u.messages.get(max_messages..).filter(|r| !r.is_empty()) {
            let bytes: usize = rest.iter().map(Vec::len).sum();
            outputs.push(format!(
                "-> {}: ... {} more messages ({bytes} bytes)",
                u.user,
                rest.len()
            ));
        }
    }
    let mut control = Vec::new();
    for c in &n.control {
        match &c.meaning {
            ControlMeaning::PeerChangeset { add, remove } => {
                let remove = remove
                    .as_ref()
                    .map_or_else(|| "*".to_owned(), |r| format!("{r:?}"));
                control.push(format!(
                    "control: peer changeset add {add:?} remove {remove}"
                ));
            }
            // Unknown types (the runtime's `contract_end`) would be noise here.
            ControlMeaning::Ignored(why) if !why.kind.engine_logs() => {}
            ControlMeaning::Ignored(why) => control.push(format!(
                "control: {} (ignored: {why})",
                render_bytes(&c.raw)
            )),
        }
    }
    let mut npl = Vec::new();
    if !n.npl_sent.is_empty() || !n.npl_received.is_empty() || !n.npl_lost.is_empty() {
        npl.push(format!(
            "npl: sent {}, received {} (from nodes {:?}), lost {}",
            n.npl_sent.len(),
            n.npl_received.len(),
            n.npl_received.iter().map(|m| m.from).collect::<Vec<_>>(),
            n.npl_lost.len()
        ));
    }
    let post_exec = n
        .post_exec
        .iter()
        .map(|p| format!("post_exec.sh: {} -> {:?}", p.exit, p.outcome))
        .collect();
    let patch = match &n.patch_change {
        None => Vec::new(),
        Some(PatchChange::Valid(u)) => {
            vec![format!("patch.cfg changed: {}", change_list(&u.changes))]
        }
        // The reason is in the hazard line.
        Some(PatchChange::Invalid(_)) => vec!["patch.cfg changed: invalid".to_owned()],
    };
    let hazards = n.hazards.iter().map(|h| format!("HAZARD: {h}")).collect();
    [outputs, control, npl, post_exec, patch, hazards]
}

/// A node's summary line: `node 0 ed1234567890: exit 0, 1.2 ms wall, ...`.
fn node_line(f: &mut fmt::Formatter<'_>, n: &NodeReport) -> fmt::Result {
    let role = if n.observer { " (observer)" } else { "" };
    write!(
        f,
        "  node {}{role} {}: {}, {} wall, {} cpu, {} KiB RSS",
        n.index,
        n.public_key.get(..12).unwrap_or(&n.public_key),
        n.exit,
        ms(n.wall),
        ms(n.usage.user_cpu + n.usage.sys_cpu),
        n.usage.max_rss_kib
    )?;
    if let Some(s) = &n.state {
        write!(f, ", state {}", s.hash.get(..8).unwrap_or(&s.hash))?;
    }
    writeln!(f)
}

/// A node's stderr, at most [`MAX_STDERR_LINES`] lines; `(same as node 0)`
/// when it equals node 0's.
fn stderr_lines(f: &mut fmt::Formatter<'_>, n: &NodeReport, first: &NodeReport) -> fmt::Result {
    let max_lines = if f.alternate() {
        usize::MAX
    } else {
        MAX_STDERR_LINES
    };
    if n.stderr.is_empty() {
        return Ok(());
    }
    if n.index != first.index && n.stderr == first.stderr {
        return writeln!(f, "    stderr| (same as node {})", first.index);
    }
    let text = String::from_utf8_lossy(&n.stderr);
    let lines: Vec<&str> = text.lines().collect();
    for line in lines.iter().take(max_lines) {
        writeln!(f, "    stderr| {line}")?;
    }
    if lines.len() > max_lines {
        writeln!(f, "    stderr| ... {} more lines", lines.len() - max_lines)?;
    }
    Ok(())
}

/// How a round reads: the header, then, when the nodes agree, what they all
/// did once and a summary line per node with what is its own (stderr,
/// differing NPL or hazards); when they disagree, the first difference and
/// then every node in full. Long values, long lists of outputs and long
/// stderr are cut short, unless rendered with `{:#}` (dev mode's
/// `--verbose`).
impl fmt::Display for RoundReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.mode {
            Mode::ReadRequest => match self.read_node {
                Some(i) => writeln!(
                    f,
                    "round {}: read request, answered by node {i} (the user's node: the engine runs it there only)",
                    self.number
                )?,
                None => writeln!(f, "round {}: read request", self.number)?,
            },
            mode => writeln!(
                f,
                "round {}: {}, lcl {}-{}, timestamp {}",
                self.number,
                mode_text(mode),
                self.lcl_seq_no,
                self.lcl_hash.get(..16).unwrap_or(&self.lcl_hash),
                self.timestamp
            )?,
        }
        if let Some(why) = &self.no_ledger {
            writeln!(
                f,
                "  NO LEDGER: no contract ran, the inputs wait for the next round: {why}"
            )?;
        }
        for (user, index, len) in &self.oversized_inputs {
            writeln!(
                f,
                "  input #{index} of {user} ({len} bytes) NEVER REACHES THE ENGINE: over the 5 MiB \
                 user message limit, the engine closes the connection"
            )?;
        }
        for (user, index, len) in &self.rejected_inputs {
            writeln!(
                f,
                "  input #{index} of {user} ({len} bytes) rejected: over user_input_bytes"
            )?;
        }
        let details: Vec<[Vec<String>; 6]> = self
            .nodes
            .iter()
            .map(|n| detail_lines(n, f.alternate()))
            .collect();
        // Per kind: shown once for all nodes?
        let mut shared = [false; 6];
        if let (Verdict::Agree, Some(first), true) =
            (&self.verdict, details.first(), self.nodes.len() > 1)
        {
            for (kind, (lines, same)) in first.iter().zip(&mut shared).enumerate() {
                *same = details.iter().all(|d| d.get(kind) == Some(lines));
            }
            let lines: Vec<&String> = first
                .iter()
                .zip(shared)
                .filter(|(_, s)| *s)
                .flat_map(|(l, _)| l)
                .collect();
            let colon = if lines.is_empty() { "" } else { ":" };
            if self.read_node.is_some() {
                writeln!(
                    f,
                    "  the simulator's extra check: all {} nodes give the same answer{colon}",
                    self.nodes.len()
                )?;
            } else {
                writeln!(f, "  all {} nodes agree{colon}", self.nodes.len())?;
            }
            for line in lines {
                writeln!(f, "    {line}")?;
            }
        }
        match (&self.verdict, self.read_node) {
            (Verdict::Differ(d), Some(i)) => writeln!(
                f,
                "  DISAGREE in the simulator's extra check (the engine answers from node {i} only): {d}"
            )?,
            (Verdict::Differ(d), None) => writeln!(f, "  DISAGREE: {d}")?,
            (Verdict::Agree, _) => {}
        }
        if let Some(first) = self.nodes.first() {
            for (n, lines) in self.nodes.iter().zip(&details) {
                node_line(f, n)?;
                for line in lines
                    .iter()
                    .zip(shared)
                    .filter(|(_, s)| !*s)
                    .flat_map(|(l, _)| l)
                {
                    writeln!(f, "    {line}")?;
                }
                stderr_lines(f, n, first)?;
            }
        }
        if let Some(u) = &self.config_applied {
            writeln!(
                f,
                "  patch.cfg applied for the next rounds: {}",
                change_list(&u.changes)
            )?;
        }
        write!(f, "  round wall time {}", ms(self.wall))
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_node as node;
    use super::*;

    fn round(nodes: Vec<NodeReport>) -> String {
        report(nodes).to_string()
    }

    fn report(nodes: Vec<NodeReport>) -> RoundReport {
        RoundReport {
            number: 1,
            mode: Mode::Consensus,
            lcl_seq_no: 1,
            lcl_hash: "ab".repeat(32),
            timestamp: 5,
            rejected_inputs: Vec::new(),
            oversized_inputs: Vec::new(),
            verdict: verdict(&nodes),
            nodes,
            config_applied: None,
            no_ledger: None,
            read_node: None,
            wall: Duration::from_millis(3),
        }
    }

    #[test]
    fn agreeing_nodes_show_their_outputs_once() {
        let text = round(vec![
            node(0, &[b"4"], "one line\n"),
            node(1, &[b"4"], "one line\n"),
            node(2, &[b"4"], ""),
        ]);
        assert_eq!(
            text,
            "round 1: consensus, lcl 1-abababababababab, timestamp 5
  all 3 nodes agree:
    -> alice: 4
  node 0 ed0000000000: exit 0, 2.0 ms wall, 0.0 ms cpu, 0 KiB RSS, state 01234567
    stderr| one line
  node 1 ed0000000000: exit 0, 2.0 ms wall, 0.0 ms cpu, 0 KiB RSS, state 01234567
    stderr| (same as node 0)
  node 2 ed0000000000: exit 0, 2.0 ms wall, 0.0 ms cpu, 0 KiB RSS, state 01234567
  round wall time 3.0 ms"
        );
    }

    #[test]
    fn disagreeing_nodes_show_the_difference_and_every_node() {
        let text = round(vec![node(0, &[b"4"], ""), node(1, &[b"5", b"6"], "")]);
        assert_eq!(
            text,
            "round 1: consensus, lcl 1-abababababababab, timestamp 5
  DISAGREE: node 1 differs from node 0 at output #0 to alice: node 0 has \"4\", node 1 has \"5\"
  node 0 ed0000000000: exit 0, 2.0 ms wall, 0.0 ms cpu, 0 KiB RSS, state 01234567
    -> alice: 4
  node 1 ed0000000000: exit 0, 2.0 ms wall, 0.0 ms cpu, 0 KiB RSS, state 01234567
    -> alice: 5
    -> alice: 6
  round wall time 3.0 ms"
        );
    }

    #[test]
    fn long_and_many_outputs_are_cut_short() {
        let long = vec![b'x'; 1000];
        let many: Vec<&[u8]> = std::iter::repeat_n(&long[..2], 25).collect();
        let text = round(vec![node(0, &many, ""), node(1, &[&long], "")]);
        assert!(
            text.contains("-> alice: ... 5 more messages (10 bytes)"),
            "{text}"
        );
        assert!(text.contains("xxx\"... (1000 bytes)"), "{text}");
        assert_eq!(text.matches("-> alice: \"xx\"").count(), 20, "{text}");
    }

    #[test]
    fn render_bytes_escapes_text_and_shows_binary_in_hex() {
        assert_eq!(
            render_bytes(b"tab\there \x1b[0m"),
            r#""tab\there \u{1b}[0m""#
        );
        assert_eq!(render_bytes(&[1, 2, 3, b'a']), "0x01020361 (4 bytes)");
        assert_eq!(
            render_bytes(&[0xff; 100]),
            format!("0x{}... (100 bytes)", "ff".repeat(60))
        );
        assert_eq!(render_bytes(b""), "\"\"");
    }

    #[test]
    fn json_outputs_read_as_json_and_full_rendering_cuts_nothing() {
        let cut = |b: &[u8]| render_output(b, Some(MAX_CHARS));
        assert_eq!(cut(br#"{"value":5}"#), r#"{"value":5}"#);
        assert_eq!(cut(b"[1, 2] "), "[1, 2]");
        // A JSON string, text and broken JSON stay quoted, so text and JSON
        // are never confused.
        assert_eq!(cut(br#""hi""#), r#""\"hi\"""#);
        assert_eq!(cut(b"hi"), r#""hi""#);
        assert_eq!(cut(br#"{"a":"#), r#""{\"a\":""#);
        let long = format!("[{}1]", "1,".repeat(100));
        assert!(cut(long.as_bytes()).ends_with("... (203 bytes)"));
        assert_eq!(render_output(long.as_bytes(), None), long);

        let long = vec![b'x'; 1000];
        let many: Vec<&[u8]> = std::iter::repeat_n(&long[..], 25).collect();
        let nodes = vec![node(0, &many, &"line\n".repeat(30))];
        let full = format!("{:#}", report(nodes));
        assert_eq!(
            full.matches(&format!("\"{}\"", "x".repeat(1000))).count(),
            25
        );
        assert_eq!(full.matches("stderr| line").count(), 30, "{full}");
        assert!(!full.contains("more"), "{full}");
    }
}
