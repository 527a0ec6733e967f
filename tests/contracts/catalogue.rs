//! The bad-input catalogue's contract (tests/contract/bad_input.rs): a
//! `#[hotpocket::contract]` with persisted state whose JSON commands trigger
//! every failure a handler can meet, so each case runs as a real process
//! under the simulator.
//!
//! - `on_input` takes `Json<Cmd>`: malformed JSON and JSON of the wrong shape
//!   fail in the extractor; each command below does one thing.
//! - `on_read_request` takes `&str`: non-UTF-8 fails in the extractor; large
//!   inputs are summarised (length, first and last bytes).
//! - `on_round_start` panics when `CATALOGUE_START=panic`.
//! - `on_round_end` sends `end` to every user, ignoring failures: it shows
//!   the round got there whatever happened before. With
//!   `CATALOGUE_MARK_SAVE` set it then writes `saving` on stderr, with
//!   `CATALOGUE_PEAK_MEMORY` set the process's peak resident memory.

// The runtime's own no-panic policy, applied to this contract and to the code
// `#[contract]` generates for it (the deliberate panics below are allowed
// one by one).
#![deny(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use hotpocket::peers::PeerChangeset;
use hotpocket::prelude::*;

/// The persisted state: a version and a padding whose bytes follow from the
/// version, so a test can tell exactly which version a state file holds.
#[derive(Default, Serialize, Deserialize)]
struct Catalogue {
    version: u64,
    pad: String,
}

#[derive(Deserialize)]
enum Cmd {
    /// Replies with the text.
    Echo(String),
    /// Returns `Err` with the text.
    Fail(String),
    /// Panics with the text.
    Panic(String),
    /// Panics with a payload that is not a string.
    PanicAny,
    /// Sends an NPL message of this many bytes (0: an empty one).
    Npl(usize),
    /// Asks for a peer changeset adding this many peers (a large one
    /// exceeds the control channel's packet limit).
    Peers(usize),
    /// Reads patch.cfg and replies with its round time.
    Config,
    /// Sends this many 1000-byte outputs, stopping at the first failure.
    Flood(usize),
    /// Replies with the open descriptors, `fd=target` each.
    Fds,
    /// Sets the state to `version`, with `size` bytes of padding.
    Save(u64, usize),
    /// Replies with the `Debug` of the round and of the private key, then
    /// panics with them.
    Secrets,
}

/// The padding of `version`: `size` copies of one letter.
fn pad(version: u64, size: usize) -> String {
    let letter = char::from(b'a' + (version % 26) as u8);
    std::iter::repeat_n(letter, size).collect()
}

fn open_fds() -> String {
    let mut list = Vec::new();
    if let Ok(dir) = std::fs::read_dir("/proc/self/fd") {
        for entry in dir.flatten() {
            let target = std::fs::read_link(entry.path())
                .map(|t| t.display().to_string())
                .unwrap_or_default();
            list.push(format!("{}={target}", entry.file_name().to_string_lossy()));
        }
    }
    list.join("\n")
}

#[hotpocket::contract(state = "state.json")]
impl Catalogue {
    #[on_round_start]
    fn start(&mut self, _ctx: &mut Round) {
        #[allow(clippy::panic)]
        if std::env::var("CATALOGUE_START").as_deref() == Ok("panic") {
            panic!("on_round_start was told to panic");
        }
    }

    #[on_input]
    fn input(&mut self, ctx: &mut Round, user: &User, Json(cmd): Json<Cmd>) -> Result<()> {
        match cmd {
            Cmd::Echo(text) => user.send(text),
            Cmd::Fail(why) => Err(Error::msg(why)),
            #[allow(clippy::panic)]
            Cmd::Panic(msg) => panic!("{msg}"),
            #[allow(clippy::panic)]
            Cmd::PanicAny => std::panic::panic_any(42_u32),
            Cmd::Npl(size) => {
                ctx.npl_send(vec![b'n'; size])?;
                user.send(format!("npl sent {size}"))
            }
            Cmd::Peers(count) => {
                let peers = (0..count).map(|i| format!("peer{i}.example:22861"));
                ctx.update_peers(&PeerChangeset::add(peers)?)?;
                user.send(format!("peers sent {count}"))
            }
            Cmd::Config => {
                let cfg = ctx.patch_config()?;
                user.send(format!("roundtime {}", cfg.consensus.roundtime))
            }
            Cmd::Flood(count) => {
                for i in 0..count {
                    user.send(vec![b'a' + (i % 26) as u8; 1000])?;
                }
                user.send("flooded")
            }
            Cmd::Fds => user.send(open_fds()),
            Cmd::Save(version, size) => {
                self.version = version;
                self.pad = pad(version, size);
                user.send(format!("saving {version}"))
            }
            #[allow(clippy::panic)]
            Cmd::Secrets => {
                user.send(format!("{ctx:?} {:?}", ctx.private_key()))?;
                panic!("{ctx:?} {:?}", ctx.private_key())
            }
        }
    }

    #[on_read_request]
    fn read(&self, _ctx: &mut Round, user: &User, text: &str) -> Result<()> {
        let head: String = text.chars().take(8).collect();
        let tail: String = text
            .chars()
            .rev()
            .take(8)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        user.send(format!("read {} bytes: {head}..{tail}", text.len()))
    }

    #[on_round_end]
    fn end(&mut self, ctx: &mut Round) {
        for user in ctx.users() {
            let _ = user.send("end");
        }
        // The state is saved right after this: a test killing the process
        // during the save waits for this line (tests/contract/crash_safety.rs).
        if std::env::var_os("CATALOGUE_MARK_SAVE").is_some() {
            eprintln!("saving");
        }
        // The process's peak memory (its own: `wait4`'s figure also counts
        // the pages of the parent it was forked from).
        if std::env::var_os("CATALOGUE_PEAK_MEMORY").is_some() {
            let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
            if let Some(line) = status.lines().find(|l| l.starts_with("VmHWM:")) {
                eprintln!("{line}");
            }
        }
    }
}
