//! How the benchmarks summarise and record a series: its median, times in
//! milliseconds at a precision that suits their size, and a section of
//! BENCHMARKS.md between two marker comments, replaced on every run.

use std::path::Path;
use std::time::Duration;

/// The median of a series (0 for an empty one).
pub(crate) fn median<T: Ord + Copy + Default>(mut v: Vec<T>) -> T {
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

/// Milliseconds with two, one or no decimals below 10, 100 and above.
pub(crate) fn ms(d: Duration) -> String {
    let v = d.as_secs_f64() * 1e3;
    if v < 10.0 {
        format!("{v:.2}")
    } else if v < 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.0}")
    }
}

/// Replaces what lies between `begin` and `end` in `<root>/BENCHMARKS.md`
/// with `section`. A missing file or marker is said on stderr (`bench`
/// names the benchmark), never a failure: the measurements were printed.
pub(crate) fn write_section(root: &str, bench: &str, (begin, end): (&str, &str), section: &str) {
    let path = Path::new(root).join("BENCHMARKS.md");
    let Ok(text) = std::fs::read_to_string(&path) else {
        eprintln!("{bench}: no BENCHMARKS.md to update");
        return;
    };
    let (Some(b), Some(e)) = (text.find(begin), text.find(end)) else {
        eprintln!("{bench}: BENCHMARKS.md lacks the {bench} markers");
        return;
    };
    let (Some(head), Some(tail)) = (text.get(..b), text.get(e..)) else {
        eprintln!("{bench}: BENCHMARKS.md has its {bench} markers out of order");
        return;
    };
    let new = format!("{head}{begin}\n\n{section}\n{tail}");
    match std::fs::write(&path, new) {
        Ok(()) => eprintln!("{bench}: results written to {}", path.display()),
        Err(e) => eprintln!("{bench}: writing {}: {e}", path.display()),
    }
}
