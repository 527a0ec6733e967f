//! A contract killed at any moment (the engine's SIGKILL at the exec
//! timeout, a node going down) never leaves a torn state: the state file is
//! exactly the old version or exactly the new one, and the writer's leftover
//! temp file is gone by the next round. The kills come from the test itself,
//! at microsecond-chosen random moments, most of them inside the save (the
//! contract marks its start on stderr).

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::support::{BIN, HandRound};
use hotpocket::sim::Cluster;

/// Padding per state version: large enough that writing and syncing it
/// takes a good share of the round, small enough to keep the test quick.
const PAD: usize = 128 << 10;

fn save(version: u64) -> String {
    format!(r#"{{"Save":[{version},{PAD}]}}"#)
}

/// The exact bytes of state `version` (what the catalogue contract writes).
fn state_bytes(version: u64) -> Vec<u8> {
    let letter = char::from(b'a' + (version % 26) as u8);
    let pad: String = std::iter::repeat_n(letter, PAD).collect();
    format!(r#"{{"version":{version},"pad":"{pad}"}}"#).into_bytes()
}

/// Names in the state directory other than the state file itself.
fn others(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "state.json")
        .collect();
    names.sort();
    names
}

/// xorshift64*, seeded from the clock; the seed is printed so a failure
/// can be replayed (`HOTPOCKET_KILL_SEED=<seed>`).
struct Rng(u64);

impl Rng {
    fn new() -> Rng {
        let seed = std::env::var("HOTPOCKET_KILL_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
                    | 1
            });
        eprintln!("kill test seed: {seed}");
        Rng(seed)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n.max(1)
    }
}

#[test]
fn a_kill_at_any_moment_of_a_save_leaves_the_old_or_the_new_state() {
    let root = std::env::temp_dir().join(format!("hotpocket-kill-{}", std::process::id()));
    let dir = root.join("state");
    std::fs::create_dir_all(&dir).unwrap();
    // The contract says `saving` on stderr right before the runtime saves.
    let env = [("CATALOGUE_MARK_SAVE", "1")];
    let round = |version: u64| HandRound::spawn_with(&dir, &[&save(version)], false, false, &env);
    let patience = Duration::from_secs(20);

    // A few whole rounds: how long a run takes, and how long from the
    // mark to the exit (the save proper: serialise, write, fsync, rename).
    let (mut wholes, mut after_marks) = (Vec::new(), Vec::new());
    for version in 1..8 {
        let h = round(version);
        let mark = h.wait_for_stderr(patience).expect("the save mark");
        let spawned = h.spawned();
        let run = h.finish();
        assert_eq!((run.code, run.stderr.as_str()), (Some(0), "saving\n"));
        wholes.push(spawned.elapsed());
        after_marks.push(mark.elapsed());
    }
    wholes.sort();
    after_marks.sort();
    let (whole, after_mark) = (wholes[wholes.len() / 2], after_marks[after_marks.len() / 2]);
    let micros = |d: Duration| d.as_micros() as u64;

    let mut rng = Rng::new();
    let mut current = 7;
    let (mut kept_old, mut wrote_new, mut left_temp, mut finished) = (0, 0, 0, 0);
    let iterations = 80;
    for i in 0..iterations {
        let next = 8 + i;
        let h = round(next);
        // Three kills in four land in the save; the fourth anywhere in the run.
        let killed = if i % 4 == 3 {
            h.kill_at(Duration::from_micros(rng.below(micros(whole) * 11 / 10)))
        } else {
            match h.wait_for_stderr(patience) {
                Some(mark) => {
                    let delay = rng.below(micros(after_mark) * 13 / 10);
                    h.kill_at_instant(mark + Duration::from_micros(delay))
                }
                None => panic!("no save mark"),
            }
        };
        finished += usize::from(!killed);
        let bytes = std::fs::read(dir.join("state.json")).unwrap();
        if bytes == state_bytes(next) {
            wrote_new += 1;
            current = next;
        } else if bytes == state_bytes(current) {
            kept_old += 1;
        } else {
            panic!(
                "torn state after kill #{i}: {} bytes, starting {:?}",
                bytes.len(),
                String::from_utf8_lossy(&bytes[..bytes.len().min(40)])
            );
        }
        let extra = others(&dir);
        for name in &extra {
            assert!(
                name.starts_with(".state.json.tmp-"),
                "unexpected {name} in the state directory"
            );
        }
        left_temp += usize::from(!extra.is_empty());
    }
    eprintln!(
        "{iterations} kills (runs of {whole:?}, {after_mark:?} from the save mark to the exit): \
         old state kept {kept_old}, new state written {wrote_new} ({finished} runs ended before \
         the kill), a temp file left behind {left_temp} times"
    );
    assert!(
        left_temp > 0,
        "no kill landed between the temp file and the rename"
    );

    // The next round removes whatever a kill left before it reads the state.
    let run = HandRound::spawn(&dir, &[r#"{"Echo":"after"}"#], false, false).finish();
    assert_eq!(run.outputs, ["after", "end"]);
    assert_eq!(others(&dir), Vec::<String>::new());
    assert_eq!(
        std::fs::read(dir.join("state.json")).unwrap(),
        state_bytes(current)
    );
    let _ = std::fs::remove_dir_all(&root);
}

#[test]
fn leftover_temp_files_go_before_consensus_rounds_and_stay_in_read_requests() {
    let mut c = Cluster::builder(BIN)
        .nodes(2)
        .user("alice")
        .seed_file(".state.json.tmp-4242-0", "torn")
        .seed_file(".state.json.tmp-notours", "an author's file")
        .seed_file("notes.txt", "kept")
        .build()
        .unwrap();
    let r = c.read("alice", "hi").unwrap();
    // A read request runs in a read-only session: nothing is removed (the
    // simulator flags any change to the state as a hazard).
    r.assert_no_hazards()
        .assert_outputs("alice", &["read 2 bytes: hi..hi", "end"]);
    let node_dir = c.root().join("node0");
    std::fs::write(node_dir.join(".patch.cfg.tmp"), "torn").unwrap();
    c.input("alice", r#"{"Echo":"x"}"#);
    let r = c.round().unwrap();
    r.assert_success().assert_agree();
    for i in 0..2 {
        let dir = c.state_dir(i);
        assert_eq!(others(&dir), [".state.json.tmp-notours", "notes.txt"]);
    }
    assert!(!node_dir.join(".patch.cfg.tmp").exists());
    assert!(node_dir.join("patch.cfg").exists());
}
