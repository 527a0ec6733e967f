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
        let buf = crate::channels::read_to_end(crate::channels::stdin_fd())
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
        let control_fd = fd("control_fd", self.control_fd)?;
        check_fd_numbers(control_fd, npl_fd, user_in_fd, &users)?;
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
            control_fd,
            user_in_fd,
            users,
            unl: self
                .unl
                .ok_or_else(|| missing("unl", "an object of UNL public keys"))?,
        })
    }
}

/// Every descriptor the runtime will take ownership of must be a distinct
/// number above stdio: two fields naming one descriptor would make two owners
/// (and a double close), and 0–2 are the process's own stdin, stdout and
/// stderr. `user_in_fd` is only taken when there are users (fallback rounds
/// pass stdin, fd 0, with no users).
fn check_fd_numbers(
    control_fd: RawFd,
    npl_fd: Option<RawFd>,
    user_in_fd: RawFd,
    users: &[UserArgs],
) -> Result<()> {
    // The fields' names are only spelled out for an error: no `String` per
    // user on the happy path.
    #[derive(Clone, Copy)]
    enum Field<'a> {
        Top(&'static str),
        User(&'a str),
    }
    impl fmt::Display for Field<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            match self {
                Field::Top(name) => f.write_str(name),
                Field::User(pk) => write!(f, "users.{pk}[0]"),
            }
        }
    }
    let mut named: Vec<(RawFd, Field<'_>)> = Vec::with_capacity(users.len() + 3);
    named.push((control_fd, Field::Top("control_fd")));
    if let Some(fd) = npl_fd {
        named.push((fd, Field::Top("npl_fd")));
    }
    if !users.is_empty() {
        named.push((user_in_fd, Field::Top("user_in_fd")));
    }
    for u in users {
        named.push((u.out_fd, Field::User(&u.public_key)));
    }
    for (fd, field) in &named {
        if *fd <= 2 {
            let which = match fd {
                0 => "stdin",
                1 => "stdout",
                _ => "stderr",
            };
            return Err(Error::args(
                field.to_string(),
                format!("file descriptor {fd} is the contract's {which}, not a channel"),
            ));
        }
    }
    // Stable sort: of two fields naming one fd, the later one is reported.
    named.sort_by_key(|(fd, _)| *fd);
    for pair in named.windows(2) {
        if let [(a, first), (b, second)] = pair
            && a == b
        {
            return Err(Error::args(
                second.to_string(),
                format!("file descriptor {b} is also `{first}`; every channel needs its own"),
            ));
        }
    }
    Ok(())
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

/// [`nested`] for hot paths: the segment is only built when `f` fails, and
/// inserted where `nested` would have put it (before any deeper segments `f`
/// appended), so the error path is the same without a `format!` per element.
fn nested_lazy<T, E>(
    path: &RefCell<String>,
    segment: impl FnOnce() -> String,
    f: impl FnOnce() -> Result<T, E>,
) -> Result<T, E> {
    let len = path.borrow().len();
    let out = f();
    if out.is_err() {
        let mut p = path.borrow_mut();
        if p.is_char_boundary(len) {
            p.insert_str(len, &segment());
        }
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
        // `deserialize_any`, not `deserialize_string`: serde_json answers the
        // latter's type mismatches itself, quoting the value.
        d.deserialize_any(SecretVisitor)
    }
}

/// Accepts a string; every other type is refused without describing the
/// value (serde's default `invalid type: integer 123` would quote it).
/// Syntax errors (a truncated document, a bad escape) come from the parser,
/// not from here, and never quote string contents, so they pass through.
struct SecretVisitor;

impl SecretVisitor {
    fn refuse<E: de::Error>(found: &str) -> Result<SecretString, E> {
        Err(E::custom(format!(
            "expected a hex string, found {found} (value not shown)"
        )))
    }
}

impl<'de> Visitor<'de> for SecretVisitor {
    type Value = SecretString;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a hex string")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<SecretString, E> {
        Ok(SecretString(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<SecretString, E> {
        Ok(SecretString(v))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<SecretString, E> {
        Self::refuse("a boolean")
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> Result<SecretString, E> {
        Self::refuse("a number")
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> Result<SecretString, E> {
        Self::refuse("a number")
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<SecretString, E> {
        Self::refuse("a number")
    }

    fn visit_unit<E: de::Error>(self) -> Result<SecretString, E> {
        Self::refuse("null")
    }

    fn visit_none<E: de::Error>(self) -> Result<SecretString, E> {
        Self::refuse("null")
    }

    fn visit_bytes<E: de::Error>(self, _: &[u8]) -> Result<SecretString, E> {
        Self::refuse("bytes")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, _: A) -> Result<SecretString, A::Error> {
        Self::refuse("an array")
    }

    fn visit_map<A: MapAccess<'de>>(self, _: A) -> Result<SecretString, A::Error> {
        Self::refuse("an object")
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
            if !is_hex(&pk) {
                self.path.borrow_mut().push_str(&format!(".{pk}"));
                return Err(de::Error::custom("expected a hex public key as the key"));
            }
            let (out_fd, inputs) = nested_lazy(
                self.path,
                || format!(".{pk}"),
                || map.next_value_seed(UserEntrySeed { path: self.path }),
            )?;
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
            let n = inputs.len() + 1;
            match nested_lazy(
                self.path,
                || format!("[{n}]"),
                || seq.next_element::<InputPair>(),
            )? {
                Some(InputPair(r)) => inputs.push(r),
                None => break,
            }
        }
        Ok((out_fd.0, inputs))
    }
}

/// One `[offset, size]` pair. A tuple would do, but serde_json describes a
/// third element as "trailing characters"; this says what was expected.
struct InputPair(InputRef);

impl<'de> de::Deserialize<'de> for InputPair {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_seq(InputPairVisitor)
    }
}

struct InputPairVisitor;

impl<'de> Visitor<'de> for InputPairVisitor {
    type Value = InputPair;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an input reference [offset, size]")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<InputPair, A::Error> {
        let offset = seq.next_element::<u64>()?;
        let size = seq.next_element::<u64>()?;
        let mut extra = 0usize;
        while seq.next_element::<IgnoredAny>()?.is_some() {
            extra += 1;
        }
        match (offset, size) {
            (Some(offset), Some(size)) if extra == 0 => Ok(InputPair(InputRef { offset, size })),
            _ => Err(de::Error::custom(format!(
                "expected [offset, size], found {} element{}",
                usize::from(offset.is_some()) + usize::from(size.is_some()) + extra,
                if offset.is_some() && size.is_none() {
                    ""
                } else {
                    "s"
                }
            ))),
        }
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

/// One UNL entry: an object (a derived `Deserialize` would also take an
/// array, and name the Rust type in its messages).
struct UnlEntry {
    active_on: u64,
    lcl_seq_no: Option<u64>,
    lcl_hash: Option<String>,
}

impl<'de> de::Deserialize<'de> for UnlEntry {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(UnlEntryVisitor)
    }
}

struct UnlEntryVisitor;

impl<'de> Visitor<'de> for UnlEntryVisitor {
    type Value = UnlEntry;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object {\"active_on\": ms}")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<UnlEntry, A::Error> {
        let mut active_on = None;
        let mut lcl_seq_no = None;
        let mut lcl_hash = None;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            match key.as_ref() {
                "active_on" if active_on.is_none() => active_on = Some(map.next_value()?),
                "lcl_seq_no" if lcl_seq_no.is_none() => lcl_seq_no = Some(map.next_value()?),
                "lcl_hash" if lcl_hash.is_none() => lcl_hash = Some(map.next_value()?),
                k @ ("active_on" | "lcl_seq_no" | "lcl_hash") => {
                    return Err(de::Error::custom(format!("duplicate field `{k}`")));
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(UnlEntry {
            active_on: active_on.ok_or_else(|| de::Error::missing_field("active_on"))?,
            lcl_seq_no,
            lcl_hash,
        })
    }
}

impl<'de> Visitor<'de> for UnlSeed<'_> {
    type Value = Vec<UnlArgs>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object mapping UNL public keys to {\"active_on\": ms}")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut unl = Vec::with_capacity(map.size_hint().unwrap_or(0));
        while let Some(pk) = map.next_key::<String>()? {
            // The path segment `.<pk>` is only built for an error.
            let push_segment = |path: &RefCell<String>| {
                let mut p = path.borrow_mut();
                p.push('.');
                p.push_str(&pk);
            };
            if !is_hex(&pk) {
                push_segment(self.path);
                return Err(de::Error::custom("expected a hex public key as the key"));
            }
            let entry = nested_lazy(
                self.path,
                || format!(".{pk}"),
                || map.next_value::<UnlEntry>(),
            )?;
            let lcl = match (entry.lcl_seq_no, entry.lcl_hash) {
                (Some(seq_no), Some(hash)) => Some(Lcl { seq_no, hash }),
                (None, None) => None,
                _ => {
                    push_segment(self.path);
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

#[cfg(test)]
mod tests {
    use super::*;

    const PK: &str = "ed5cfd3b6cf0e3e5f4a1b7d1d5f1c2e9c3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9";
    const SK: &str = "ed0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef5cfd3b6cf0e3e5f4a1b7d1d5f1c2e9c3a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9";
    const U1: &str = "ed1111111111111111111111111111111111111111111111111111111111111111";
    const U2: &str = "ed2222222222222222222222222222222222222222222222222222222222222222";
    const HASH: &str = "4c1d5e8f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d";

    /// Exactly what hpcore main (0.6.4) writes for a consensus round, field order included.
    fn readonly_consensus() -> String {
        format!(
            r#"{{"hp_version":"0.6.4","contract_id":"3c0c6e8a-8a0f-4f3c-9d4c-2b1a0f9e8d7c","public_key":"{PK}","private_key":"{SK}","timestamp":1700000000123,"readonly":false,"lcl_seq_no":42,"lcl_hash":"{HASH}","npl_fd":7,"control_fd":5,"user_in_fd":6,"users":{{"{U1}":[8,[0,5],[4096,0],[8192,1048576]],"{U2}":[9]}},"unl":{{"{PK}":{{"active_on":1700000000001}},"{U2}":{{"active_on":1699999999999}}}}}}"#
        )
    }

    #[test]
    fn readonly_variant_consensus_round() {
        let a = Args::parse(readonly_consensus().as_bytes()).unwrap();
        assert_eq!(a.variant, Variant::Readonly);
        assert_eq!(a.mode, Mode::Consensus);
        assert_eq!(a.hp_version, "0.6.4");
        assert_eq!(a.timestamp, 1_700_000_000_123);
        assert_eq!(
            a.lcl,
            Some(Lcl {
                seq_no: 42,
                hash: HASH.into()
            })
        );
        assert_eq!((a.npl_fd, a.control_fd, a.user_in_fd), (Some(7), 5, 6));
        assert_eq!(a.non_consensus_rounds, None);
        let keys: Vec<_> = a.users.iter().map(|u| u.public_key.as_str()).collect();
        assert_eq!(keys, [U1, U2]);
        assert_eq!(a.users[0].out_fd, 8);
        assert_eq!(
            a.users[0].inputs,
            [
                InputRef { offset: 0, size: 5 },
                InputRef {
                    offset: 4096,
                    size: 0
                },
                InputRef {
                    offset: 8192,
                    size: 1_048_576
                }
            ]
        );
        assert!(a.users[1].inputs.is_empty());
        assert_eq!(a.unl.len(), 2);
        assert_eq!(a.unl[0].public_key, PK);
        assert_eq!(a.unl[1].active_on, 1_699_999_999_999);
    }

    #[test]
    fn readonly_variant_read_request_has_no_lcl_or_npl() {
        let json = format!(
            r#"{{"hp_version":"0.6.4","contract_id":"c","public_key":"{PK}","private_key":"{SK}","timestamp":0,"readonly":true,"control_fd":5,"user_in_fd":6,"users":{{"{U1}":[8,[0,3]]}},"unl":{{"{PK}":{{"active_on":0}}}}}}"#
        );
        let a = Args::parse(json.as_bytes()).unwrap();
        assert_eq!(a.mode, Mode::ReadRequest);
        assert!(a.is_read_only());
        assert_eq!((a.lcl.clone(), a.npl_fd), (None, None));
        assert_eq!(a.users.len(), 1);
    }

    #[test]
    fn mode_variant_every_mode() {
        let unl = format!(r#"{{"{PK}":{{"active_on":5,"lcl_seq_no":41,"lcl_hash":"{HASH}"}}}}"#);
        let consensus = format!(
            r#"{{"hp_version":"0.6.5","contract_id":"c","public_key":"{PK}","private_key":"{SK}","timestamp":9,"mode":"consensus","lcl_seq_no":42,"lcl_hash":"{HASH}","npl_fd":7,"control_fd":5,"user_in_fd":6,"users":{{}},"unl":{unl}}}"#
        );
        let a = Args::parse(consensus.as_bytes()).unwrap();
        assert_eq!((a.variant, a.mode), (Variant::Mode, Mode::Consensus));
        assert_eq!(
            a.unl[0].lcl,
            Some(Lcl {
                seq_no: 41,
                hash: HASH.into()
            })
        );

        let fallback = format!(
            r#"{{"hp_version":"0.6.5","contract_id":"c","public_key":"{PK}","private_key":"{SK}","timestamp":0,"mode":"consensus_fallback","non_consensus_rounds":3,"lcl_seq_no":42,"lcl_hash":"{HASH}","npl_fd":7,"control_fd":5,"user_in_fd":0,"users":{{}},"unl":{unl}}}"#
        );
        let a = Args::parse(fallback.as_bytes()).unwrap();
        assert_eq!(a.mode, Mode::ConsensusFallback);
        assert_eq!(a.non_consensus_rounds, Some(3));
        assert_eq!((a.user_in_fd, a.npl_fd), (0, Some(7)));

        let read = format!(
            r#"{{"hp_version":"0.6.5","contract_id":"c","public_key":"{PK}","private_key":"{SK}","timestamp":0,"mode":"read_req","control_fd":5,"user_in_fd":6,"users":{{"{U1}":[8,[0,1]]}},"unl":{unl}}}"#
        );
        let a = Args::parse(read.as_bytes()).unwrap();
        assert_eq!(a.mode, Mode::ReadRequest);
        assert_eq!((a.lcl.clone(), a.npl_fd), (None, None));
    }

    fn err(json: &str) -> (String, String) {
        match Args::parse(json.as_bytes()) {
            Err(Error::Args { field, message }) => (field, message),
            other => panic!("expected an Args error, got {other:?}"),
        }
    }

    #[test]
    fn errors_name_the_field() {
        let good = readonly_consensus();
        // Each required field, removed.
        for field in [
            "hp_version",
            "contract_id",
            "public_key",
            "private_key",
            "timestamp",
            "lcl_seq_no",
            "lcl_hash",
            "npl_fd",
            "control_fd",
            "user_in_fd",
            "users",
            "unl",
        ] {
            let mut v: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(&good).unwrap();
            v.remove(field);
            let (f, m) = err(&serde_json::to_string(&v).unwrap());
            assert_eq!(f, field, "{m}");
            assert!(m.starts_with("missing"), "{field}: {m}");
        }
        let (f, m) = err(&good.replace(r#""timestamp":1700000000123"#, r#""timestamp":"soon""#));
        assert_eq!(f, "timestamp");
        assert!(m.contains("invalid type"), "{m}");
        let (f, _) = err(&good.replace(r#""readonly":false,"#, ""));
        assert_eq!(f, "mode");
        let (f, m) = err(&good.replace(r#""readonly":false"#, r#""mode":"fast""#));
        assert_eq!(f, "mode");
        assert!(m.contains("unknown mode \"fast\""), "{m}");
        let (f, m) = err(&good.replace("[4096,0]", "[4096]"));
        assert_eq!(f, format!("users.{U1}[2]"));
        assert!(
            m.starts_with("expected [offset, size], found 1 element at"),
            "{m}"
        );
        let (f, _) = err(&good.replace("[4096,0]", "[4096,-1]"));
        assert_eq!(f, format!("users.{U1}[2]"));
        let (f, m) = err(&good.replace(r#"[9]"#, r#"[]"#));
        assert_eq!(f, format!("users.{U2}"));
        assert!(m.contains("out_fd"), "{m}");
        let (f, _) = err(&good.replace(r#""npl_fd":7"#, r#""npl_fd":-1"#));
        assert_eq!(f, "npl_fd");
        let (f, _) = err(&good
            .replace(r#""users":{"#, r#""users":["#)
            .replace(r#"[9]},"#, r#"[9]],"#));
        assert_eq!(f, "users");
        let (f, _) = err(&good.replace(r#"{"active_on":1699999999999}"#, r#"[1]"#));
        assert_eq!(f, format!("unl.{U2}"));
        let (f, m) = err("");
        assert!(f.is_empty() && m.contains("stdin is empty"), "{m}");
        let (f, _) = err("not json");
        assert!(f.is_empty());
        let (_, m) = err(&good[..good.len() / 2]);
        assert!(m.contains("EOF"), "{m}");
        let (f, m) = err(&good.replacen(
            r#""hp_version":"0.6.4","#,
            r#""hp_version":"0.6.4","hp_version":"x","#,
            1,
        ));
        assert_eq!(f, "hp_version");
        assert!(m.starts_with("duplicate field"), "{m}");
    }

    #[test]
    fn fd_numbers_must_be_distinct_and_above_stdio() {
        let good = readonly_consensus();
        let (f, m) = err(&good.replace(r#""npl_fd":7"#, r#""npl_fd":5"#));
        assert_eq!(f, "npl_fd");
        assert_eq!(
            m,
            "file descriptor 5 is also `control_fd`; every channel needs its own"
        );
        let (f, m) = err(&good.replace(r#"[9]"#, r#"[8]"#));
        assert_eq!(f, format!("users.{U2}[0]"));
        assert!(m.contains(&format!("also `users.{U1}[0]`")), "{m}");
        let (f, _) = err(&good.replace(r#""user_in_fd":6"#, r#""user_in_fd":9"#));
        assert!(f == "user_in_fd" || f == format!("users.{U2}[0]"), "{f}");
        for (fd, which) in [(0, "stdin"), (1, "stdout"), (2, "stderr")] {
            let (f, m) = err(&good.replace(r#""control_fd":5"#, &format!(r#""control_fd":{fd}"#)));
            assert_eq!(f, "control_fd");
            assert_eq!(
                m,
                format!("file descriptor {fd} is the contract's {which}, not a channel")
            );
        }
        let (f, _) = err(&good.replace("[8,[0,5]", "[2,[0,5]"));
        assert_eq!(f, format!("users.{U1}[0]"));
        // Without users, user_in_fd is never used: stdin (fallback rounds) is fine.
        let no_users = good
            .replace(
                &format!(r#"{{"{U1}":[8,[0,5],[4096,0],[8192,1048576]],"{U2}":[9]}}"#),
                "{}",
            )
            .replace(r#""user_in_fd":6"#, r#""user_in_fd":0"#);
        assert!(Args::parse(no_users.as_bytes()).is_ok());
    }

    #[test]
    fn private_key_errors_say_what_without_the_value() {
        let good = readonly_consensus();
        // Truncated inside the key: the parser's own message, which never quotes.
        let cut = good.find(&SK[10..]).unwrap();
        let (f, m) = err(&good[..cut]);
        assert_eq!(f, "private_key");
        assert!(m.starts_with("EOF while parsing a string"), "{m}");
        for (value, found) in [
            ("true", "a boolean"),
            ("-5", "a number"),
            ("1.5", "a number"),
            ("null", "null"),
            (r#"["x"]"#, "an array"),
            (r#"{"k":"v"}"#, "an object"),
        ] {
            let (f, m) = err(&good.replace(&format!("\"{SK}\""), value));
            assert_eq!(f, "private_key");
            assert!(
                m.starts_with(&format!(
                    "expected a hex string, found {found} (value not shown)"
                )),
                "{m}"
            );
        }
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let json = readonly_consensus().replacen('{', r#"{"future":{"a":[1,2,{"b":null}]},"#, 1);
        assert!(Args::parse(json.as_bytes()).is_ok());
    }

    #[test]
    fn private_key_never_shown() {
        let a = Args::parse(readonly_consensus().as_bytes()).unwrap();
        let debug = format!("{a:?}");
        assert!(!debug.contains(&SK[2..]), "{debug}");
        assert!(debug.contains("<redacted>"));
        let bad = readonly_consensus().replace(SK, "zz-not-hex-secret");
        let (f, m) = err(&bad);
        assert_eq!(f, "private_key");
        assert!(!m.contains("secret"), "{m}");
        let bad = readonly_consensus().replace(&format!("\"{SK}\""), "12345");
        let (_, m) = err(&bad);
        assert!(!m.contains("12345"), "{m}");
    }

    #[test]
    fn large_args_parse() {
        let mut users = String::new();
        for u in 0..1000 {
            if u > 0 {
                users.push(',');
            }
            users.push_str(&format!("\"ed{u:064x}\":[{}", 10 + u));
            for i in 0..10u64 {
                users.push_str(&format!(",[{},64]", (u as u64 * 10 + i) * 4096));
            }
            users.push(']');
        }
        let json = readonly_consensus().replace(
            &format!(r#"{{"{U1}":[8,[0,5],[4096,0],[8192,1048576]],"{U2}":[9]}}"#),
            &format!("{{{users}}}"),
        );
        assert!(json.len() > 100_000);
        let a = Args::parse(json.as_bytes()).unwrap();
        assert_eq!(a.users.len(), 1000);
        assert_eq!(
            a.users[999].inputs[9],
            InputRef {
                offset: 9999 * 4096,
                size: 64
            }
        );
    }
}
