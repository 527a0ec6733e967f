//! The round's arguments: the JSON object the engine writes on the contract's
//! stdin, in either engine variant (`readonly` on hpcore main, `mode` on the
//! fallback branch), parsed into one typed [`Args`].
//!
//! The parser walks the document once with a hand-written serde visitor so
//! that every error names the field it is about (`users.<pk>[2]`), which
//! serde's derive does not do for type errors, and so that `users` and `unl`
//! keep the engine's order (ascending public key) without a detour through a
//! map type.

use std::cell::RefCell;
use std::fmt;
use std::io::Read;
use std::os::fd::RawFd;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::error::{Error, Result};

/// Which kind of execution this round is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// A consensus round: inputs, outputs, NPL and state changes count.
    Consensus,
    /// A fallback round (engine fallback branch, `consensus.fallback.execute`):
    /// the engine could not reach consensus; no users, NPL available, state is
    /// committed locally.
    ConsensusFallback,
    /// A read request: one user, one input, read-only state, no NPL.
    ReadRequest,
}

impl Mode {
    /// The engine's name for the mode (`consensus`, `consensus_fallback`, `read_req`).
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Consensus => "consensus",
            Mode::ConsensusFallback => "consensus_fallback",
            Mode::ReadRequest => "read_req",
        }
    }

    /// True for read requests: state must not change and there is no NPL.
    pub fn is_read_only(self) -> bool {
        self == Mode::ReadRequest
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which of the engine's two argument layouts the round arrived in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Variant {
    /// hpcore `main` (0.6.4): a `readonly` boolean.
    Readonly,
    /// hpcore `fallback-hpsh` (0.6.5): a `mode` string and `non_consensus_rounds`.
    Mode,
}

/// The last closed ledger: sequence number and hash.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Lcl {
    /// Ledger sequence number.
    pub seq_no: u64,
    /// Ledger hash, 64 lowercase hex characters as the engine sends it.
    pub hash: String,
}

/// Where one input lies in the engine's input file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct InputRef {
    /// Byte offset in `user_in_fd` (4096-aligned on the real engine; grows without bound).
    pub offset: u64,
    /// Length in bytes.
    pub size: u64,
}

/// One user of the round as the engine lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserArgs {
    /// The user's public key (hex, `ed` prefix for ed25519 keys).
    pub public_key: String,
    /// The user's output socket.
    pub out_fd: RawFd,
    /// The user's inputs, in the engine's (nonce) order.
    pub inputs: Vec<InputRef>,
}

/// One UNL node as the engine lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnlArgs {
    /// The node's public key (hex).
    pub public_key: String,
    /// When this node last received the peer's proposal (unix ms). Node-local:
    /// it differs between nodes and must never reach outputs or state.
    pub active_on: u64,
    /// The peer's last closed ledger (engine fallback branch only).
    pub lcl: Option<Lcl>,
}

/// The node's private key. Never printed: `Debug` shows `<redacted>` and there
/// is no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct PrivateKey(String);

impl PrivateKey {
    /// The key as the engine sent it (hex, `ed` + 128 hex characters). Handle
    /// with care: nothing in this crate ever prints it.
    pub fn expose_hex(&self) -> &str {
        &self.0
    }
}

impl PrivateKey {
    /// A fixed, obviously fake key for in-process tests.
    pub(crate) fn for_tests() -> PrivateKey {
        PrivateKey(format!("ed{}", "0".repeat(128)))
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PrivateKey(<redacted>)")
    }
}

/// Everything the engine tells the contract about the round.
#[derive(Clone, Debug)]
pub struct Args {
    /// Which argument layout the engine used.
    pub variant: Variant,
    /// The engine's version string, e.g. `0.6.4`.
    pub hp_version: String,
    /// The contract's id (a UUID).
    pub contract_id: String,
    /// This node's public key (hex, `ed` + 64).
    pub public_key: String,
    /// This node's private key.
    pub private_key: PrivateKey,
    /// The round's time (unix ms). 0 in read requests, and in fallback rounds
    /// without a winning proposal.
    pub timestamp: u64,
    /// The kind of execution.
    pub mode: Mode,
    /// Consecutive rounds without consensus (fallback rounds only).
    pub non_consensus_rounds: Option<u16>,
    /// The last closed ledger (absent in read requests).
    pub lcl: Option<Lcl>,
    /// The NPL socket (absent in read requests).
    pub npl_fd: Option<RawFd>,
    /// The control socket.
    pub control_fd: RawFd,
    /// The input file (0 in fallback rounds, which have no users).
    pub user_in_fd: RawFd,
    /// The users, ascending by public key as the engine sends them.
    pub users: Vec<UserArgs>,
    /// The UNL, ascending by public key as the engine sends it.
    pub unl: Vec<UnlArgs>,
}

impl Args {
    /// Reads stdin to EOF and parses it.
    pub fn from_stdin() -> Result<Args> {
        let mut buf = Vec::with_capacity(16 * 1024);
        std::io::stdin()
            .lock()
            .read_to_end(&mut buf)
            .map_err(|e| Error::io("reading the round's arguments from stdin", e))?;
        Args::parse(&buf)
    }

    /// Parses the engine's JSON.
    pub fn parse(json: &[u8]) -> Result<Args> {
        if json.iter().all(u8::is_ascii_whitespace) {
            return Err(Error::args(
                "",
                "stdin is empty: a contract is started by the HotPocket engine, which writes the round's \
                 arguments as JSON on stdin (run it with `--dev` to simulate a round locally)",
            ));
        }
        let path = RefCell::new(String::new());
        let mut de = serde_json::Deserializer::from_slice(json);
        let raw = match de::Deserializer::deserialize_map(&mut de, TopVisitor { path: &path }) {
            Ok(raw) => raw,
            Err(e) => return Err(Error::args(path.into_inner(), e.to_string())),
        };
        if let Err(e) = de.end() {
            return Err(Error::args(
                "",
                format!("trailing data after the arguments object: {e}"),
            ));
        }
        raw.finish()
    }

    /// True in read requests.
    pub fn is_read_only(&self) -> bool {
        self.mode.is_read_only()
    }
}

/// The fields as found, before the per-mode presence rules are applied.
#[derive(Default)]
struct RawArgs {
    hp_version: Option<String>,
    contract_id: Option<String>,
    public_key: Option<String>,
    private_key: Option<String>,
    timestamp: Option<u64>,
    readonly: Option<bool>,
    mode: Option<Mode>,
    non_consensus_rounds: Option<u16>,
    lcl_seq_no: Option<u64>,
    lcl_hash: Option<String>,
    npl_fd: Option<RawFd>,
    control_fd: Option<RawFd>,
    user_in_fd: Option<RawFd>,
    users: Option<Vec<UserArgs>>,
    unl: Option<Vec<UnlArgs>>,
}

fn missing(field: &str, what: &str) -> Error {
    Error::args(field, format!("missing; expected {what}"))
}

impl RawArgs {
    fn finish(self) -> Result<Args> {
        let (variant, mode) = match (self.readonly, self.mode) {
            (Some(ro), None) => (
                Variant::Readonly,
                if ro {
                    Mode::ReadRequest
                } else {
                    Mode::Consensus
                },
            ),
            (None, Some(mode)) => (Variant::Mode, mode),
            (Some(ro), Some(mode)) if ro == mode.is_read_only() => (Variant::Mode, mode),
            (Some(ro), Some(mode)) => {
                return Err(Error::args(
                    "readonly",
                    format!("`readonly: {ro}` contradicts `mode: \"{mode}\"`"),
                ));
            }
            (None, None) => {
                return Err(Error::args(
                    "mode",
                    "missing; expected `readonly` (engine 0.6.4) or `mode` (engine fallback branch)",
                ));
            }
        };
        let hex_key = |field: &str, value: Option<String>| -> Result<String> {
            let value = value.ok_or_else(|| missing(field, "a hex public key string"))?;
            check_hex(field, &value)?;
            Ok(value)
        };
        let public_key = hex_key("public_key", self.public_key)?;
        let private_key = self
            .private_key
            .ok_or_else(|| missing("private_key", "a hex string"))?;
        if !is_hex(&private_key) {
            // The value itself is secret: say what is wrong without showing it.
            return Err(Error::args(
                "private_key",
                "expected a hex string (value not shown)",
            ));
        }
        let fd = |field: &str, value: Option<RawFd>| {
            value.ok_or_else(|| missing(field, "a file descriptor number"))
        };
        let (lcl, npl_fd) = if mode.is_read_only() {
            // Read requests carry neither; an engine that sent them anyway is
            // still a read request, so they are ignored rather than trusted.
            (None, None)
        } else {
            let seq_no = self
                .lcl_seq_no
                .ok_or_else(|| missing("lcl_seq_no", "an unsigned integer"))?;
            let hash = self
                .lcl_hash
                .ok_or_else(|| missing("lcl_hash", "a 64-character hex string"))?;
            check_hex("lcl_hash", &hash)?;
            (Some(Lcl { seq_no, hash }), Some(fd("npl_fd", self.npl_fd)?))
        };
        let non_consensus_rounds = if mode == Mode::ConsensusFallback {
            Some(self.non_consensus_rounds.ok_or_else(|| {
                missing(
                    "non_consensus_rounds",
                    "an unsigned integer in fallback rounds",
                )
            })?)
        } else {
            None
        };
        let users = self
            .users
            .ok_or_else(|| missing("users", "an object of user public keys"))?;
        let user_in_fd = fd("user_in_fd", self.user_in_fd)?;
        if mode == Mode::ConsensusFallback && !users.is_empty() {
            return Err(Error::args(
                "users",
                "fallback rounds have no users, but some were listed",
            ));
        }
        Ok(Args {
            variant,
            hp_version: self
                .hp_version
                .ok_or_else(|| missing("hp_version", "a version string"))?,
            contract_id: self
                .contract_id
                .ok_or_else(|| missing("contract_id", "a string"))?,
            public_key,
            private_key: PrivateKey(private_key),
            timestamp: self
                .timestamp
                .ok_or_else(|| missing("timestamp", "unix milliseconds"))?,
            mode,
            non_consensus_rounds,
            lcl,
            npl_fd,
            control_fd: fd("control_fd", self.control_fd)?,
            user_in_fd,
            users,
            unl: self
                .unl
                .ok_or_else(|| missing("unl", "an object of UNL public keys"))?,
        })
    }
}

fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn check_hex(field: &str, value: &str) -> Result<()> {
    if is_hex(value) {
        Ok(())
    } else {
        Err(Error::args(
            field,
            format!("expected a hex string, found {value:?}"),
        ))
    }
}

/// Runs `f` with `segment` appended to the shared path, keeping the path only
/// when `f` fails so the outermost error can name the innermost field.
fn nested<T, E>(
    path: &RefCell<String>,
    segment: &str,
    f: impl FnOnce() -> Result<T, E>,
) -> Result<T, E> {
    let len = path.borrow().len();
    path.borrow_mut().push_str(segment);
    let out = f();
    if out.is_ok() {
        path.borrow_mut().truncate(len);
    }
    out
}

struct TopVisitor<'p> {
    path: &'p RefCell<String>,
}

impl<'de> Visitor<'de> for TopVisitor<'_> {
    type Value = RawArgs;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object with the round's arguments")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawArgs, A::Error> {
        let mut raw = RawArgs::default();
        let path = self.path;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            let key = key.as_ref();
            macro_rules! set {
                ($slot:expr, $ty:ty) => {{
                    if $slot.is_some() {
                        path.borrow_mut().push_str(key);
                        return Err(de::Error::custom("duplicate field"));
                    }
                    $slot = Some(nested(path, key, || map.next_value::<$ty>())?.into());
                }};
            }
            match key {
                "hp_version" => set!(raw.hp_version, String),
                "contract_id" => set!(raw.contract_id, String),
                "public_key" => set!(raw.public_key, String),
                "private_key" => set!(raw.private_key, SecretString),
                "timestamp" => set!(raw.timestamp, u64),
                "readonly" => set!(raw.readonly, bool),
                "mode" => set!(raw.mode, Mode),
                "non_consensus_rounds" => set!(raw.non_consensus_rounds, u16),
                "lcl_seq_no" => set!(raw.lcl_seq_no, u64),
                "lcl_hash" => set!(raw.lcl_hash, String),
                "npl_fd" => set!(raw.npl_fd, FdNum),
                "control_fd" => set!(raw.control_fd, FdNum),
                "user_in_fd" => set!(raw.user_in_fd, FdNum),
                "users" => {
                    if raw.users.is_some() {
                        path.borrow_mut().push_str(key);
                        return Err(de::Error::custom("duplicate field"));
                    }
                    raw.users = Some(nested(path, key, || {
                        map.next_value_seed(UsersSeed { path })
                    })?);
                }
                "unl" => {
                    if raw.unl.is_some() {
                        path.borrow_mut().push_str(key);
                        return Err(de::Error::custom("duplicate field"));
                    }
                    raw.unl = Some(nested(path, key, || map.next_value_seed(UnlSeed { path }))?);
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(raw)
    }
}

impl<'de> de::Deserialize<'de> for Mode {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        match s.as_str() {
            "consensus" => Ok(Mode::Consensus),
            "consensus_fallback" => Ok(Mode::ConsensusFallback),
            "read_req" => Ok(Mode::ReadRequest),
            other => Err(de::Error::custom(format!(
                "unknown mode {other:?}; expected \"consensus\", \"consensus_fallback\" or \"read_req\""
            ))),
        }
    }
}

/// A string whose value must never appear in an error: serde_json quotes the
/// offending value in type errors, so those are replaced.
struct SecretString(String);

impl From<SecretString> for String {
    fn from(s: SecretString) -> String {
        s.0
    }
}

impl<'de> de::Deserialize<'de> for SecretString {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)
            .map(SecretString)
            .map_err(|_| de::Error::custom("expected a hex string (value not shown)"))
    }
}

/// A file descriptor number: a non-negative `int`.
struct FdNum(RawFd);

impl From<FdNum> for RawFd {
    fn from(fd: FdNum) -> RawFd {
        fd.0
    }
}

impl<'de> de::Deserialize<'de> for FdNum {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let n = i64::deserialize(d)?;
        RawFd::try_from(n)
            .ok()
            .filter(|fd| *fd >= 0)
            .map(FdNum)
            .ok_or_else(|| de::Error::custom(format!("{n} is not a file descriptor number")))
    }
}

/// `users`: `{ "<pk>": [out_fd, [offset, size], ...], ... }`, kept in order.
struct UsersSeed<'p> {
    path: &'p RefCell<String>,
}

impl<'de> DeserializeSeed<'de> for UsersSeed<'_> {
    type Value = Vec<UserArgs>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for UsersSeed<'_> {
    type Value = Vec<UserArgs>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object mapping user public keys to [out_fd, [offset, size], ...]")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut users = Vec::with_capacity(map.size_hint().unwrap_or(0));
        while let Some(pk) = map.next_key::<String>()? {
            let segment = format!(".{pk}");
            if !is_hex(&pk) {
                self.path.borrow_mut().push_str(&segment);
                return Err(de::Error::custom("expected a hex public key as the key"));
            }
            let (out_fd, inputs) = nested(self.path, &segment, || {
                map.next_value_seed(UserEntrySeed { path: self.path })
            })?;
            users.push(UserArgs {
                public_key: pk,
                out_fd,
                inputs,
            });
        }
        Ok(users)
    }
}

struct UserEntrySeed<'p> {
    path: &'p RefCell<String>,
}

impl<'de> DeserializeSeed<'de> for UserEntrySeed<'_> {
    type Value = (RawFd, Vec<InputRef>);
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for UserEntrySeed<'_> {
    type Value = (RawFd, Vec<InputRef>);

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array [out_fd, [offset, size], ...]")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let out_fd = nested(self.path, "[0]", || seq.next_element::<FdNum>())?
            .ok_or_else(|| de::Error::custom("expected [out_fd, [offset, size], ...], found []"))?;
        let mut inputs = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        loop {
            let segment = format!("[{}]", inputs.len() + 1);
            match nested(self.path, &segment, || seq.next_element::<(u64, u64)>())? {
                Some((offset, size)) => inputs.push(InputRef { offset, size }),
                None => break,
            }
        }
        Ok((out_fd.0, inputs))
    }
}

/// `unl`: `{ "<pk>": {"active_on": ms, ["lcl_seq_no": n, "lcl_hash": "hex"]}, ... }`.
struct UnlSeed<'p> {
    path: &'p RefCell<String>,
}

impl<'de> DeserializeSeed<'de> for UnlSeed<'_> {
    type Value = Vec<UnlArgs>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

#[derive(serde::Deserialize)]
struct UnlEntry {
    active_on: u64,
    lcl_seq_no: Option<u64>,
    lcl_hash: Option<String>,
}

impl<'de> Visitor<'de> for UnlSeed<'_> {
    type Value = Vec<UnlArgs>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object mapping UNL public keys to {\"active_on\": ms}")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut unl = Vec::with_capacity(map.size_hint().unwrap_or(0));
        while let Some(pk) = map.next_key::<String>()? {
            let segment = format!(".{pk}");
            if !is_hex(&pk) {
                self.path.borrow_mut().push_str(&segment);
                return Err(de::Error::custom("expected a hex public key as the key"));
            }
            let entry = nested(self.path, &segment, || map.next_value::<UnlEntry>())?;
            let lcl = match (entry.lcl_seq_no, entry.lcl_hash) {
                (Some(seq_no), Some(hash)) => Some(Lcl { seq_no, hash }),
                (None, None) => None,
                _ => {
                    self.path.borrow_mut().push_str(&segment);
                    return Err(de::Error::custom(
                        "`lcl_seq_no` and `lcl_hash` must come together",
                    ));
                }
            };
            unl.push(UnlArgs {
                public_key: pk,
                active_on: entry.active_on,
                lcl,
            });
        }
        Ok(unl)
    }
}
