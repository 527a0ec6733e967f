//! **post_exec**: a scheduled upgrade carried out by a `post_exec.sh` script,
//! showing the engine's exit-code contract for it.
//!
//! After a consensus round in which the contract exited normally, the engine
//! runs `post_exec.sh` from the state directory if there is one, before it
//! hashes the state, so whatever the script changes is part of the round's
//! state (`hotpocket::guide::protocol`, "post_exec.sh"). How the script exits decides what happens next:
//!
//! | exit code | meaning | the engine |
//! |---|---|---|
//! | 0 | done | deletes the script |
//! | 3 to 125 | done for now | keeps the script: it runs again after the next round |
//! | 1, 2, 126 to 255, or a signal | failed | logs it and discards the round's results; the script stays, so it fails again every round until it is fixed or removed |
//!
//! Upgrades are what the script is for: it runs after the contract process
//! has exited, so it can replace the contract's own binary. Here an
//! authorised user schedules a new version for a future ledger; the contract
//! stages it in `pending/` and installs the script, which exits 3 (keep me)
//! after every round before that ledger and, at it, moves the staged files
//! into place and exits 0 (remove me). The staged release is a `version`
//! file, which the contract reports; a real upgrade stages the new binary in
//! `pending/` too and moves it over the one `bin_path` names in the same step.
//!
//! Commands, one JSON value per input:
//!
//! | input | who | reply |
//! |---|---|---|
//! | `"version"` | anyone (also as a read request) | `{"version":{"current":"1.0","pending":{"version":"1.1","at":5}}}` (`pending` is `null` when nothing is scheduled) |
//! | `{"schedule":{"version":"1.1","at":5}}` | admins | `{"scheduled":{"version":"1.1","at":5}}` |
//! | `"cancel"` | admins | `{"cancelled":{"version":"1.1","at":5}}` (`null` if the staged files were incomplete); removes the script and `pending/` |
//!
//! Errors, `{"error":{"kind":"…", …}}`: `bad_command` (`reason`),
//! `not_authorised`, `read_only`, `invalid_version` (empty, longer than 64
//! bytes, or not letters, digits, `.`, `-`, `_`), `ledger_passed` (`at`,
//! `ledger`: the ledger must be a later one), `already_pending` (`version`,
//! `at`), `nothing_pending`, `failed` (`message`: a file operation failed).
//! `"cancel"` is also the way out when the script keeps failing: the contract
//! runs before the script in every round, so removing the script there ends
//! the failures.
//!
//! The admins are listed in the contract's environment, `ADMINS` (public keys
//! separated by commas), as in the admin example. Note that the engine runs
//! `post_exec.sh` with its own environment, not the contract's.
//!
//! Run three rounds on a simulated 3-node cluster (the key is the one dev mode
//! derives for the user named `admin`), then ask for the version: the report
//! shows `post_exec.sh: exit 3 -> Kept` after rounds 1 and 2, `exit 0 ->
//! Deleted` after round 3, and the read request answers `1.1`:
//!
//! ```sh
//! ADMIN=ed9ca14c702ec00a73cb4b255847aa01bb55c0e5d4f3601859efd2959c89ad7589
//! cargo run --example post_exec -- --dev --nodes 3 --rounds 3 --env ADMINS=$ADMIN \
//!     --input admin:'{"schedule":{"version":"1.1","at":3}}' --read admin:'"version"'
//! ```

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use hotpocket::prelude::*;

/// The version before any upgrade.
const INITIAL_VERSION: &str = "1.0";
/// The environment variable listing the admins.
const ADMINS_VAR: &str = "ADMINS";
/// The script the engine runs after a round, in the state directory.
const SCRIPT: &str = "post_exec.sh";

/// `post_exec.sh`. The engine passes the ledger as `"<seq_no> <hash>"` in
/// one argument, or as two arguments when contract logging is on (it then
/// runs the script through `sh -c`); `${1%% *}` is the sequence number
/// either way. POSIX sh, with `mv` and `rm` from the engine's `PATH`.
const SCRIPT_TEXT: &str = r#"#!/bin/sh
# Installed by the post_exec example: applies the upgrade staged in pending/
# once the ledger it was scheduled for is reached.
ledger=${1%% *}
read -r at < pending/at || exit 1
case $at in '' | *[!0-9]*) exit 1 ;; esac
if [ "$ledger" -lt "$at" ]; then
    exit 3 # not yet: keep this script for the next round
fi
mv pending/version version || exit 1
rm -r pending || exit 1
exit 0 # done: the engine deletes this script
"#;

/// The contract keeps no serde state: its state is the files the script
/// works on (`version`, `pending/version`, `pending/at`).
#[derive(Default)]
struct Upgrader;

#[derive(Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum Command {
    Version,
    Schedule { version: String, at: u64 },
    Cancel,
}

#[derive(Serialize)]
struct Release {
    version: String,
    at: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
enum Reply {
    Version {
        current: String,
        pending: Option<Release>,
    },
    Scheduled(Release),
    /// `None` when the staged files were incomplete.
    Cancelled(Option<Release>),
    Error(UpgradeError),
}

#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum UpgradeError {
    BadCommand { reason: String },
    NotAuthorised,
    ReadOnly,
    InvalidVersion,
    LedgerPassed { at: u64, ledger: u64 },
    AlreadyPending { version: String, at: u64 },
    NothingPending,
    Failed { message: String },
}

impl From<io::Error> for UpgradeError {
    fn from(e: io::Error) -> Self {
        UpgradeError::Failed {
            message: e.to_string(),
        }
    }
}

fn is_admin(ctx: &Round, user: &User) -> bool {
    ctx.env(ADMINS_VAR)
        .unwrap_or_default()
        .split(',')
        .any(|k| k.trim().eq_ignore_ascii_case(user.public_key()))
}

fn valid_version(v: &str) -> bool {
    !v.is_empty()
        && v.len() <= 64
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// A file's text without surrounding whitespace; `None` if it does not exist.
fn read_text(path: &str) -> io::Result<Option<String>> {
    match fs::read_to_string(path) {
        Ok(s) => Ok(Some(s.trim().to_owned())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

fn current_version() -> io::Result<String> {
    Ok(read_text("version")?.unwrap_or_else(|| INITIAL_VERSION.to_owned()))
}

/// The staged release, if one is scheduled.
fn pending() -> Result<Option<Release>, UpgradeError> {
    let (Some(version), Some(at)) = (read_text("pending/version")?, read_text("pending/at")?)
    else {
        return Ok(None);
    };
    let at = at.parse().map_err(|_| UpgradeError::Failed {
        message: format!("pending/at holds {at:?}, not a ledger number"),
    })?;
    Ok(Some(Release { version, at }))
}

/// Writes a file in full under a temporary name, then renames it into place.
fn write_file(path: &str, contents: &[u8], mode: u32) -> io::Result<()> {
    let tmp = format!("{path}.tmp");
    fs::write(&tmp, contents)?;
    fs::set_permissions(&tmp, fs::Permissions::from_mode(mode))?;
    fs::rename(&tmp, path)
}

fn version_reply() -> Result<Reply, UpgradeError> {
    Ok(Reply::Version {
        current: current_version()?,
        pending: pending()?,
    })
}

fn schedule(ledger: u64, version: String, at: u64) -> Result<Reply, UpgradeError> {
    if !valid_version(&version) {
        return Err(UpgradeError::InvalidVersion);
    }
    if at <= ledger {
        return Err(UpgradeError::LedgerPassed { at, ledger });
    }
    if let Some(p) = pending()? {
        return Err(UpgradeError::AlreadyPending {
            version: p.version,
            at: p.at,
        });
    }
    fs::create_dir_all("pending")?;
    write_file("pending/version", format!("{version}\n").as_bytes(), 0o644)?;
    write_file("pending/at", format!("{at}\n").as_bytes(), 0o644)?;
    // The script last: once it exists, the engine runs it.
    write_file(SCRIPT, SCRIPT_TEXT.as_bytes(), 0o755)?;
    Ok(Reply::Scheduled(Release { version, at }))
}

fn cancel() -> Result<Reply, UpgradeError> {
    let script = Path::new(SCRIPT).exists();
    let staging = Path::new("pending").exists();
    if !script && !staging {
        return Err(UpgradeError::NothingPending);
    }
    let staged = pending().ok().flatten();
    // The script first: without it nothing runs, whatever is left in pending/.
    if script {
        fs::remove_file(SCRIPT)?;
    }
    if staging {
        fs::remove_dir_all("pending")?;
    }
    Ok(Reply::Cancelled(staged))
}

fn parse(input: &[u8]) -> Result<Command, UpgradeError> {
    serde_json::from_slice(input).map_err(|e| UpgradeError::BadCommand {
        reason: e.to_string(),
    })
}

#[hotpocket::contract]
impl Upgrader {
    #[on_input]
    fn command(&mut self, ctx: &mut Round, user: &User, input: &[u8]) -> Result<()> {
        let ledger = ctx.lcl_seq_no().unwrap_or_default();
        let reply = parse(input)
            .and_then(|cmd| match cmd {
                Command::Version => version_reply(),
                _ if !is_admin(ctx, user) => Err(UpgradeError::NotAuthorised),
                Command::Schedule { version, at } => schedule(ledger, version, at),
                Command::Cancel => cancel(),
            })
            .unwrap_or_else(Reply::Error);
        user.send_json(&reply)
    }

    #[on_read_request]
    fn query(&self, _ctx: &mut Round, user: &User, input: &[u8]) -> Result<()> {
        let reply = match parse(input) {
            Ok(Command::Version) => version_reply(),
            Ok(_) => Err(UpgradeError::ReadOnly),
            Err(e) => Err(e),
        }
        .unwrap_or_else(Reply::Error);
        user.send_json(&reply)
    }
}
