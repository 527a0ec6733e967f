//! hotpocket::store killed at any moment of its commits: the database is the
//! old round's or the new round's, never a mix, and the next round (which
//! opens it before any handler) recovers it. A writer process commits rounds
//! back to back (tests/contracts/store_writer.rs) and the test SIGKILLs it at
//! random moments; a kill inside a commit leaves SQLite's hot journal.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hotpocket::store::{self, Cell, DB_FILE, Map};

const WRITER: &str = env!("CARGO_BIN_EXE_test-store-writer");
const KEYS: usize = 300;

static ENTRIES: Map<u64, String> = Map::new("entries");
static VERSION: Cell<u64> = Cell::new("version");

/// Runs the writer from version `first` and kills it `after` its start;
/// returns the last version it reported committed (0 for none).
fn run_and_kill(dir: &Path, first: u64, after: Duration) -> u64 {
    let mut child = Command::new(WRITER)
        .arg(dir)
        .arg(first.to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let last = Arc::new(Mutex::new(0u64));
    let stdout = child.stdout.take().unwrap();
    let seen = Arc::clone(&last);
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            *seen.lock().unwrap() = line.parse().unwrap();
        }
    });
    std::thread::sleep(after);
    child.kill().unwrap();
    child.wait().unwrap();
    reader.join().unwrap();
    *last.lock().unwrap()
}

/// Opens the store as the next round would (recovering), checks that it is
/// exactly one version's, and returns that version.
fn recovered_version(dir: &Path) -> u64 {
    store::open_for_round(dir, false, 0, [0; 32]).unwrap();
    let version = VERSION.get().unwrap();
    let entries: Vec<(u64, String)> = ENTRIES.iter().map(Result::unwrap).collect();
    store::commit_round().unwrap();
    if version == 0 {
        assert!(entries.is_empty(), "entries without a version");
        return 0;
    }
    assert_eq!(entries.len(), KEYS, "version {version}");
    for (k, v) in &entries {
        let of = v.split(':').next().unwrap();
        assert_eq!(
            of,
            version.to_string(),
            "entry {k} is from another round: torn"
        );
    }
    version
}

#[test]
fn a_kill_at_any_moment_of_a_commit_leaves_the_old_or_the_new_round() {
    let dir = std::env::temp_dir().join(format!("hotpocket-store-kill-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    eprintln!("store kill test seed: {seed}");
    let journal = dir.join(format!("{DB_FILE}-journal"));
    let (mut hot, mut kills) = (0, 0);
    let mut current = 0;
    let started = Instant::now();
    while kills < 30 || (hot == 0 && started.elapsed() < Duration::from_secs(20)) {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let after = Duration::from_micros(1_000 + seed % 150_000);
        let reported = run_and_kill(&dir, current + 1, after);
        kills += 1;
        hot += usize::from(journal.exists());
        let version = recovered_version(&dir);
        // Committed but killed before printing counts as the new round.
        assert!(
            version >= reported.max(current) && version <= reported.max(current) + 1,
            "after kill #{kills}: version {version}, last reported {reported}, before {current}"
        );
        assert!(!journal.exists(), "the journal survived recovery");
        current = version;
    }
    eprintln!("{kills} kills, {hot} inside a commit (hot journal), at version {current}");
    assert!(hot > 0, "no kill landed inside a commit");
    let _ = std::fs::remove_dir_all(&dir);
}
