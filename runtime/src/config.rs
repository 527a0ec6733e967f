//! `patch.cfg`: the contract's section of the engine configuration, which a
//! contract may rewrite to change its own UNL, binary, round time, limits, ...
//!
//! The engine re-validates the file once a later round agrees on its hash, and
//! an invalid file appears to block every later execution on that node
//! ([`guide::protocol`](crate::guide::protocol#patchcfg)). So
//! [`PatchConfig::write`] refuses to write anything that breaks the engine's
//! rules ([`PatchConfig::validate`]).
//!
//! Reading checks structure and types only (every key present, right JSON
//! type, integers in range of their type); value rules are left to
//! [`PatchConfig::validate`], so a contract can read a bad file and repair it.
//! Unknown keys are ignored when reading and are not written back.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;
use serde_json::{Map, Value};

use crate::atomic::write_atomic_single_writer;
use crate::error::{Error, Result};

/// Largest `consensus.roundtime` the engine accepts (one hour, in ms).
const MAX_ROUNDTIME_MS: u32 = 3_600_000;
/// Largest `consensus.stage_slice` the engine accepts (percent).
const MAX_STAGE_SLICE: u32 = 33;
/// Largest `consensus.threshold` the engine accepts (percent).
const MAX_THRESHOLD: u16 = 100;

/// The contents of `patch.cfg`, field for field, in the engine's key order.
///
/// ```no_run
/// use hotpocket::config::PatchConfig;
/// # fn main() -> hotpocket::Result<()> {
/// let mut cfg = PatchConfig::read(PatchConfig::PATH)?;
/// cfg.consensus.roundtime = 2000;
/// cfg.write(PatchConfig::PATH)?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PatchConfig {
    /// The contract's version string; must not be empty.
    pub version: String,
    /// Public keys (hex, `ed` + 64 hex digits) of the nodes whose votes count.
    pub unl: Vec<String>,
    /// The contract binary the engine executes; must not be empty.
    pub bin_path: String,
    /// Arguments for the binary; the engine splits them on single spaces, with no quoting.
    pub bin_args: String,
    /// The contract's entire environment: the engine passes nothing else (no PATH, no HOME).
    pub environment: BTreeMap<String, String>,
    /// How many ledgers ahead a user input may target.
    pub max_input_ledger_offset: u16,
    /// The consensus settings.
    pub consensus: ConsensusConfig,
    /// The node party line settings.
    pub npl: NplConfig,
    /// Per-round resource limits; 0 means unlimited.
    pub round_limits: RoundLimits,
}

/// `consensus` section of [`PatchConfig`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConsensusConfig {
    /// Whether proposals go to every peer or only to UNL nodes.
    pub mode: Visibility,
    /// Round time in milliseconds, `1..=3_600_000`.
    pub roundtime: u32,
    /// Share of the round time per consensus stage, percent, `1..=33`.
    pub stage_slice: u32,
    /// Share of UNL votes needed to agree, percent, `1..=100`.
    pub threshold: u16,
    /// Only engines built from hpcore's fallback branch have this key; `None`
    /// keeps it out of the file so the mainline engine does not see it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fallback: Option<FallbackConfig>,
}

/// `consensus.fallback` section (fallback-branch engines only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FallbackConfig {
    /// Whether the contract runs in `consensus_fallback` mode when votes are unreliable.
    pub execute: bool,
}

/// `npl` section of [`PatchConfig`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct NplConfig {
    /// Whether NPL messages go to every peer or only to UNL nodes.
    pub mode: Visibility,
}

/// `round_limits` section of [`PatchConfig`]; 0 disables a limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct RoundLimits {
    /// Input bytes per user per round.
    pub user_input_bytes: u64,
    /// Output bytes per user per round (4-byte length headers included).
    pub user_output_bytes: u64,
    /// NPL output bytes per round.
    pub npl_output_bytes: u64,
    /// `RLIMIT_CPU` of the contract process, seconds.
    pub proc_cpu_seconds: u64,
    /// `RLIMIT_DATA` of the contract process, bytes.
    pub proc_mem_bytes: u64,
    /// `RLIMIT_NOFILE` of the contract process.
    pub proc_ofd_count: u64,
    /// Wall-clock limit of one execution, ms (engine default 300000).
    pub exec_timeout: u64,
}

/// Who receives consensus proposals or NPL messages: `"public"` (every peer)
/// or `"private"` (UNL nodes only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    /// `"public"`.
    Public,
    /// `"private"`.
    Private,
}

impl PatchConfig {
    /// Where the engine puts the file, relative to the contract's working directory.
    pub const PATH: &'static str = "../patch.cfg";

    /// A config with the defaults the engine uses for a new contract (version
    /// `"1.0"`, round time 1000 ms, stage slice 25, threshold 80, both modes
    /// private, input ledger offset 10, exec timeout 300000 ms, no other
    /// limits, no fallback key), for the given UNL and binary.
    pub fn new(unl: Vec<String>, bin_path: impl Into<String>) -> Self {
        PatchConfig {
            version: "1.0".to_owned(),
            unl,
            bin_path: bin_path.into(),
            bin_args: String::new(),
            environment: BTreeMap::new(),
            max_input_ledger_offset: 10,
            consensus: ConsensusConfig {
                mode: Visibility::Private,
                roundtime: 1000,
                stage_slice: 25,
                threshold: 80,
                fallback: None,
            },
            npl: NplConfig {
                mode: Visibility::Private,
            },
            round_limits: RoundLimits {
                exec_timeout: 300_000,
                ..RoundLimits::default()
            },
        }
    }

    /// Reads and parses the file. Fails with [`Error::Config`] naming the key
    /// (`consensus.roundtime`, `unl[2]`; empty for the whole file) when the
    /// file is missing or unreadable, is not JSON, or a key is missing or has
    /// the wrong type. Does not apply [`validate`](Self::validate).
    pub fn read(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        let bytes = std::fs::read(path)
            .map_err(|e| Error::config("", format!("cannot read {}: {e}", path.display())))?;
        Self::from_json(&bytes)
    }

    /// Parses the file's contents; see [`read`](Self::read).
    pub fn from_json(bytes: &[u8]) -> Result<Self> {
        let doc: Value = serde_json::from_slice(bytes)
            .map_err(|e| Error::config("", format!("not valid JSON: {e}")))?;
        let Value::Object(root) = &doc else {
            return Err(Error::config(
                "",
                format!("expected a JSON object, found {}", describe(&doc)),
            ));
        };
        Self::from_map(root)
    }

    fn from_map(root: &Map<String, Value>) -> Result<Self> {
        // Read in file order so that the first error reported is the first
        // bad key a reader of the file would meet.
        let top = Obj {
            path: String::new(),
            map: root,
        };
        let version = top.string("version")?;
        let unl = top.string_array("unl")?;
        let bin_path = top.string("bin_path")?;
        let bin_args = top.string("bin_args")?;
        let environment = top.string_map("environment")?;
        let max_input_ledger_offset = top.uint("max_input_ledger_offset", u16::MAX)?;

        let c = top.obj("consensus")?;
        let consensus = ConsensusConfig {
            mode: c.visibility("mode")?,
            roundtime: c.uint("roundtime", u32::MAX)?,
            stage_slice: c.uint("stage_slice", u32::MAX)?,
            threshold: c.uint("threshold", u16::MAX)?,
            fallback: match c.map.get("fallback") {
                None => None,
                Some(_) => Some(FallbackConfig {
                    execute: c.obj("fallback")?.bool("execute")?,
                }),
            },
        };

        let npl = NplConfig {
            mode: top.obj("npl")?.visibility("mode")?,
        };

        let r = top.obj("round_limits")?;
        let round_limits = RoundLimits {
            user_input_bytes: r.u64("user_input_bytes")?,
            user_output_bytes: r.u64("user_output_bytes")?,
            npl_output_bytes: r.u64("npl_output_bytes")?,
            proc_cpu_seconds: r.u64("proc_cpu_seconds")?,
            proc_mem_bytes: r.u64("proc_mem_bytes")?,
            proc_ofd_count: r.u64("proc_ofd_count")?,
            exec_timeout: r.u64("exec_timeout")?,
        };

        Ok(PatchConfig {
            version,
            unl,
            bin_path,
            bin_args,
            environment,
            max_input_ledger_offset,
            consensus,
            npl,
            round_limits,
        })
    }

    /// Checks the engine's rules ([`guide::protocol`](crate::guide::protocol#patchcfg)) and fails with
    /// [`Error::Config`] naming the first offending key and the rule.
    ///
    /// UNL keys must be lowercase `ed` followed by 64 hex digits: stricter than
    /// the engine (which only hex-decodes them) and the same as the C library.
    pub fn validate(&self) -> Result<()> {
        if self.version.is_empty() {
            return Err(Error::config("version", "must not be empty"));
        }
        if self.unl.is_empty() {
            return Err(Error::config(
                "unl",
                "must list at least one node (the engine rejects an empty UNL)",
            ));
        }
        for (i, key) in self.unl.iter().enumerate() {
            if !is_unl_key(key) {
                return Err(Error::config(
                    format!("unl[{i}]"),
                    format!(
                        "must be \"ed\" followed by 64 hex digits, found {}",
                        quote(key)
                    ),
                ));
            }
        }
        if self.bin_path.is_empty() {
            return Err(Error::config("bin_path", "must not be empty"));
        }
        let c = &self.consensus;
        if !(1..=MAX_ROUNDTIME_MS).contains(&c.roundtime) {
            return Err(Error::config(
                "consensus.roundtime",
                format!(
                    "must be 1..={MAX_ROUNDTIME_MS} (milliseconds), found {}",
                    c.roundtime
                ),
            ));
        }
        if !(1..=MAX_STAGE_SLICE).contains(&c.stage_slice) {
            return Err(Error::config(
                "consensus.stage_slice",
                format!(
                    "must be 1..={MAX_STAGE_SLICE} (percent), found {}",
                    c.stage_slice
                ),
            ));
        }
        if !(1..=MAX_THRESHOLD).contains(&c.threshold) {
            return Err(Error::config(
                "consensus.threshold",
                format!(
                    "must be 1..={MAX_THRESHOLD} (percent), found {}",
                    c.threshold
                ),
            ));
        }
        // Modes, environment values, round limits and the fallback flag are
        // correct by construction of their Rust types.
        Ok(())
    }

    /// Validates, then replaces the file atomically with 4-space-indented
    /// JSON in the engine's key order. On any error the old file is left as
    /// it was.
    ///
    /// Write only in consensus rounds: read requests run on a read-only
    /// filesystem, and the engine applies the file only after a later round
    /// agrees on it. One writer per path at a time: the temp file has the
    /// fixed name `.<name>.tmp` next to it, so that the runtime can remove a
    /// killed write's leftover without listing the directory every round.
    pub fn write(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        self.validate()?;
        let bytes = self.to_pretty_json()?;
        write_atomic_single_writer(path, &bytes)
            .map_err(|e| Error::config("", format!("cannot write {}: {e}", path.display())))
    }

    /// The exact bytes [`write`](Self::write) puts in the file (no validation).
    pub fn to_pretty_json(&self) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(1024);
        let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
        let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
        self.serialize(&mut ser)
            .map_err(|e| Error::config("", format!("cannot serialise: {e}")))?;
        Ok(out)
    }
}

/// `^ed[0-9a-fA-F]{64}$`.
fn is_unl_key(key: &str) -> bool {
    key.len() == 66 && key.starts_with("ed") && key.bytes().skip(2).all(|b| b.is_ascii_hexdigit())
}

/// A JSON object being read, with its dotted path for error messages.
struct Obj<'a> {
    path: String,
    map: &'a Map<String, Value>,
}

impl<'a> Obj<'a> {
    fn key_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    fn get(&self, key: &str, expected: &str) -> Result<&'a Value> {
        self.map.get(key).ok_or_else(|| {
            Error::config(self.key_path(key), format!("missing; expected {expected}"))
        })
    }

    fn obj(&self, key: &str) -> Result<Obj<'a>> {
        const EXPECTED: &str = "an object";
        match self.get(key, EXPECTED)? {
            Value::Object(map) => Ok(Obj {
                path: self.key_path(key),
                map,
            }),
            other => Err(wrong_type(self.key_path(key), EXPECTED, other)),
        }
    }

    fn string(&self, key: &str) -> Result<String> {
        const EXPECTED: &str = "a string";
        match self.get(key, EXPECTED)? {
            Value::String(s) => Ok(s.clone()),
            other => Err(wrong_type(self.key_path(key), EXPECTED, other)),
        }
    }

    fn bool(&self, key: &str) -> Result<bool> {
        const EXPECTED: &str = "true or false";
        match self.get(key, EXPECTED)? {
            Value::Bool(b) => Ok(*b),
            other => Err(wrong_type(self.key_path(key), EXPECTED, other)),
        }
    }

    fn u64(&self, key: &str) -> Result<u64> {
        self.uint(key, u64::MAX)
    }

    /// An unsigned integer no larger than `max` (the range of `T`).
    fn uint<T: TryFrom<u64>>(&self, key: &str, max: T) -> Result<T>
    where
        u64: From<T>,
    {
        let max = u64::from(max);
        let expected = format!("an unsigned integer (0..={max})");
        let value = self.get(key, &expected)?;
        let out_of_range = || wrong_type(self.key_path(key), &expected, value);
        let n = value.as_u64().ok_or_else(out_of_range)?;
        T::try_from(n).map_err(|_| out_of_range())
    }

    fn visibility(&self, key: &str) -> Result<Visibility> {
        const EXPECTED: &str = "\"public\" or \"private\"";
        match self.get(key, EXPECTED)? {
            Value::String(s) if s == "public" => Ok(Visibility::Public),
            Value::String(s) if s == "private" => Ok(Visibility::Private),
            other => Err(wrong_type(self.key_path(key), EXPECTED, other)),
        }
    }

    fn string_array(&self, key: &str) -> Result<Vec<String>> {
        const EXPECTED: &str = "an array of strings";
        let items = match self.get(key, EXPECTED)? {
            Value::Array(items) => items,
            other => return Err(wrong_type(self.key_path(key), EXPECTED, other)),
        };
        items
            .iter()
            .enumerate()
            .map(|(i, item)| match item {
                Value::String(s) => Ok(s.clone()),
                other => Err(wrong_type(
                    format!("{}[{i}]", self.key_path(key)),
                    "a string",
                    other,
                )),
            })
            .collect()
    }

    fn string_map(&self, key: &str) -> Result<BTreeMap<String, String>> {
        let env = self.obj(key)?;
        env.map
            .iter()
            .map(|(name, value)| match value {
                Value::String(s) => Ok((name.clone(), s.clone())),
                other => Err(wrong_type(env.key_path(name), "a string", other)),
            })
            .collect()
    }
}

fn wrong_type(key: String, expected: &str, found: &Value) -> Error {
    Error::config(
        key,
        format!("expected {expected}, found {}", describe(found)),
    )
}

/// A short description of a JSON value for error messages.
fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".to_owned(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the string {}", quote(s)),
        Value::Array(_) => "an array".to_owned(),
        Value::Object(_) => "an object".to_owned(),
    }
}

/// JSON-quotes a string for an error message, shortened if long.
fn quote(s: &str) -> String {
    const MAX_CHARS: usize = 80;
    if s.chars().count() <= MAX_CHARS {
        Value::String(s.to_owned()).to_string()
    } else {
        let head: String = s.chars().take(MAX_CHARS).collect();
        format!("{}...", Value::String(head))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::atomic::testdir::TestDir;

    const KEY_A: &str = "ed1b6d6f8ee3cfd61a3d2a6b5b1ed2b6d54c08b4d4b1b5c4ca3c0ae9a9b8e5d2a0";
    const KEY_B: &str = "edd2fbd4ac1ab2bb8a7c1c8e5a3a62f3d4a9b3d3c6a8c1e5a5c4b3f2e1d0c9b8a7";

    /// Laid out the way hpcore writes it (jsoncons pretty print: 4-space
    /// indent, arrays of an object split one item per line, no trailing newline).
    const SAMPLE: &str = r#"{
    "version": "1.0",
    "unl": [
        "ed1b6d6f8ee3cfd61a3d2a6b5b1ed2b6d54c08b4d4b1b5c4ca3c0ae9a9b8e5d2a0",
        "edd2fbd4ac1ab2bb8a7c1c8e5a3a62f3d4a9b3d3c6a8c1e5a5c4b3f2e1d0c9b8a7"
    ],
    "bin_path": "/usr/bin/node",
    "bin_args": "index.js --flag",
    "environment": {},
    "max_input_ledger_offset": 10,
    "consensus": {
        "mode": "public",
        "roundtime": 2000,
        "stage_slice": 25,
        "threshold": 80
    },
    "npl": {
        "mode": "private"
    },
    "round_limits": {
        "user_input_bytes": 0,
        "user_output_bytes": 0,
        "npl_output_bytes": 0,
        "proc_cpu_seconds": 0,
        "proc_mem_bytes": 0,
        "proc_ofd_count": 0,
        "exec_timeout": 300000
    }
}"#;

    /// The fallback-branch layout, with an environment.
    const SAMPLE_FALLBACK: &str = r#"{
    "version": "2.1",
    "unl": [
        "ed1b6d6f8ee3cfd61a3d2a6b5b1ed2b6d54c08b4d4b1b5c4ca3c0ae9a9b8e5d2a0"
    ],
    "bin_path": "contract",
    "bin_args": "",
    "environment": {
        "LANG": "C",
        "RUST_LOG": "info"
    },
    "max_input_ledger_offset": 65535,
    "consensus": {
        "mode": "private",
        "roundtime": 1000,
        "stage_slice": 33,
        "threshold": 100,
        "fallback": {
            "execute": true
        }
    },
    "npl": {
        "mode": "public"
    },
    "round_limits": {
        "user_input_bytes": 1048576,
        "user_output_bytes": 18446744073709551615,
        "npl_output_bytes": 3,
        "proc_cpu_seconds": 4,
        "proc_mem_bytes": 5,
        "proc_ofd_count": 6,
        "exec_timeout": 0
    }
}"#;

    fn sample() -> PatchConfig {
        PatchConfig::from_json(SAMPLE.as_bytes()).unwrap()
    }

    fn config_error<T: std::fmt::Debug>(result: Result<T>) -> (String, String) {
        match result {
            Err(Error::Config { key, message }) => (key, message),
            other => panic!("expected Error::Config, got {other:?}"),
        }
    }

    fn invalid(cfg: &PatchConfig) -> (String, String) {
        config_error(cfg.validate())
    }

    /// A change to SAMPLE's JSON tree.
    type Edit = fn(&mut Value);

    /// Parses SAMPLE after `edit` changed its JSON tree.
    fn parse_edited(edit: impl FnOnce(&mut Value)) -> Result<PatchConfig> {
        let mut doc: Value = serde_json::from_str(SAMPLE).unwrap();
        edit(&mut doc);
        PatchConfig::from_json(doc.to_string().as_bytes())
    }

    #[test]
    fn reads_every_key() {
        let cfg = PatchConfig::from_json(SAMPLE_FALLBACK.as_bytes()).unwrap();
        assert_eq!(cfg.version, "2.1");
        assert_eq!(cfg.unl, [KEY_A]);
        assert_eq!(cfg.bin_path, "contract");
        assert_eq!(cfg.bin_args, "");
        assert_eq!(cfg.environment.get("RUST_LOG").unwrap(), "info");
        assert_eq!(cfg.max_input_ledger_offset, u16::MAX);
        assert_eq!(cfg.consensus.mode, Visibility::Private);
        assert_eq!(cfg.consensus.roundtime, 1000);
        assert_eq!(cfg.consensus.stage_slice, 33);
        assert_eq!(cfg.consensus.threshold, 100);
        assert_eq!(
            cfg.consensus.fallback,
            Some(FallbackConfig { execute: true })
        );
        assert_eq!(cfg.npl.mode, Visibility::Public);
        assert_eq!(
            cfg.round_limits,
            RoundLimits {
                user_input_bytes: 1_048_576,
                user_output_bytes: u64::MAX,
                npl_output_bytes: 3,
                proc_cpu_seconds: 4,
                proc_mem_bytes: 5,
                proc_ofd_count: 6,
                exec_timeout: 0,
            }
        );
        assert!(cfg.validate().is_ok());
    }

    #[test]
    fn write_then_read_is_byte_exact_with_hpcore_layout() {
        let dir = TestDir::new("cfg-roundtrip");
        for (i, text) in [SAMPLE, SAMPLE_FALLBACK].into_iter().enumerate() {
            let src = dir.path().join(format!("in{i}.cfg"));
            let dst = dir.path().join(format!("out{i}.cfg"));
            std::fs::write(&src, text).unwrap();
            let cfg = PatchConfig::read(&src).unwrap();
            cfg.write(&dst).unwrap();
            assert_eq!(std::fs::read_to_string(&dst).unwrap(), text);
            assert_eq!(PatchConfig::read(&dst).unwrap(), cfg);
        }
    }

    #[test]
    fn fallback_absent_stays_absent() {
        let cfg = sample();
        assert_eq!(cfg.unl, [KEY_A, KEY_B]);
        assert_eq!(cfg.consensus.fallback, None);
        let out = String::from_utf8(cfg.to_pretty_json().unwrap()).unwrap();
        assert!(!out.contains("fallback"));
    }

    #[test]
    fn output_uses_four_space_indentation() {
        let out = String::from_utf8(sample().to_pretty_json().unwrap()).unwrap();
        assert!(out.contains("\n    \"version\": \"1.0\",\n"));
        assert!(out.contains("\n        \"roundtime\": 2000,\n"));
        assert!(out.contains(&format!("\n        \"{KEY_A}\",\n")));
        assert!(!out.contains('\t'));
    }

    #[test]
    fn new_has_engine_defaults_and_is_valid() {
        let cfg = PatchConfig::new(vec![KEY_A.to_owned()], "/contract/bin");
        assert!(cfg.validate().is_ok());
        assert_eq!(cfg.consensus.roundtime, 1000);
        assert_eq!(cfg.consensus.stage_slice, 25);
        assert_eq!(cfg.consensus.threshold, 80);
        assert_eq!(cfg.round_limits.exec_timeout, 300_000);
        let back = PatchConfig::from_json(&cfg.to_pretty_json().unwrap()).unwrap();
        assert_eq!(back, cfg);
    }

    #[test]
    fn unknown_keys_are_ignored() {
        let cfg = parse_edited(|doc| {
            doc["future_key"] = Value::from(1);
            doc["consensus"]["future_nested"] = Value::from("x");
        })
        .unwrap();
        assert_eq!(cfg, sample());
    }

    #[test]
    fn roundtime_boundaries() {
        let mut cfg = sample();
        for ok in [1, MAX_ROUNDTIME_MS] {
            cfg.consensus.roundtime = ok;
            assert!(cfg.validate().is_ok(), "{ok}");
        }
        for bad in [0, 3_600_001] {
            cfg.consensus.roundtime = bad;
            let (key, message) = invalid(&cfg);
            assert_eq!(key, "consensus.roundtime");
            assert!(message.contains("1..=3600000"), "{message}");
            assert!(message.contains(&format!("found {bad}")), "{message}");
        }
    }

    #[test]
    fn stage_slice_boundaries() {
        let mut cfg = sample();
        for ok in [1, 33] {
            cfg.consensus.stage_slice = ok;
            assert!(cfg.validate().is_ok(), "{ok}");
        }
        for bad in [0, 34] {
            cfg.consensus.stage_slice = bad;
            let (key, message) = invalid(&cfg);
            assert_eq!(key, "consensus.stage_slice");
            assert!(message.contains("1..=33"), "{message}");
            assert!(message.contains(&format!("found {bad}")), "{message}");
        }
    }

    #[test]
    fn threshold_boundaries() {
        let mut cfg = sample();
        for ok in [1, 100] {
            cfg.consensus.threshold = ok;
            assert!(cfg.validate().is_ok(), "{ok}");
        }
        for bad in [0, 101] {
            cfg.consensus.threshold = bad;
            let (key, message) = invalid(&cfg);
            assert_eq!(key, "consensus.threshold");
            assert!(message.contains("1..=100"), "{message}");
            assert!(message.contains(&format!("found {bad}")), "{message}");
        }
    }

    #[test]
    fn empty_version_is_rejected() {
        let mut cfg = sample();
        cfg.version.clear();
        assert_eq!(invalid(&cfg).0, "version");
        cfg.version = "x".into();
        assert!(cfg.validate().is_ok());
    }

    #[test]
    fn empty_bin_path_is_rejected() {
        let mut cfg = sample();
        cfg.bin_path.clear();
        assert_eq!(invalid(&cfg).0, "bin_path");
    }

    #[test]
    fn empty_unl_is_rejected() {
        let mut cfg = sample();
        cfg.unl.clear();
        assert_eq!(invalid(&cfg).0, "unl");
    }

    #[test]
    fn bad_unl_keys_are_rejected_with_their_index() {
        let hex64 = &KEY_A[2..];
        let upper_hex = format!("ed{}", hex64.to_ascii_uppercase());
        let mut cfg = sample();
        cfg.unl.push(upper_hex);
        assert!(cfg.validate().is_ok(), "hex digits may be uppercase");

        let bad = [
            format!("ed{}", &hex64[1..]),  // 63 hex digits
            format!("ed{hex64}0"),         // 65 hex digits
            format!("ED{hex64}"),          // uppercase prefix
            format!("xx{hex64}"),          // wrong prefix
            format!("ed{}g", &hex64[1..]), // non-hex digit
            hex64.to_owned() + "ed",       // prefix at the wrong end
            String::new(),
        ];
        for key in bad {
            let mut cfg = sample();
            cfg.unl.push(key.clone());
            let (k, message) = invalid(&cfg);
            assert_eq!(k, "unl[2]", "{key}");
            assert!(message.contains("64 hex digits"), "{message}");
            assert!(message.contains(&format!("{key:?}")), "{message}");
        }
    }

    #[test]
    fn write_refuses_invalid_config_and_keeps_the_old_file() {
        let dir = TestDir::new("cfg-invalid");
        let path = dir.path().join("patch.cfg");
        std::fs::write(&path, SAMPLE).unwrap();
        let mut cfg = sample();
        cfg.consensus.threshold = 0;
        let (key, _) = config_error(cfg.write(&path));
        assert_eq!(key, "consensus.threshold");
        assert_eq!(std::fs::read_to_string(&path).unwrap(), SAMPLE);
    }

    #[test]
    fn write_failure_names_the_path() {
        let dir = TestDir::new("cfg-writefail");
        let path = dir.path().join("missing").join("patch.cfg");
        let (key, message) = config_error(sample().write(&path));
        assert_eq!(key, "");
        assert!(message.contains("missing/patch.cfg"), "{message}");
    }

    #[test]
    fn missing_file_is_a_config_error_naming_the_path() {
        let dir = TestDir::new("cfg-missing");
        let path = dir.path().join("patch.cfg");
        let (key, message) = config_error(PatchConfig::read(&path));
        assert_eq!(key, "");
        assert!(message.contains("patch.cfg"), "{message}");
    }

    #[test]
    fn bad_json_reports_line_and_column() {
        let (key, message) = config_error(PatchConfig::from_json(b"{\n  \"version\": ,\n}"));
        assert_eq!(key, "");
        assert!(message.contains("line 2"), "{message}");
        let (key, _) = config_error(PatchConfig::from_json(b"[1, 2]"));
        assert_eq!(key, "");
    }

    #[test]
    fn missing_keys_are_named_with_their_path() {
        let cases: [(&str, Edit); 6] = [
            ("version", |d| remove(d, &[], "version")),
            ("unl", |d| remove(d, &[], "unl")),
            ("environment", |d| remove(d, &[], "environment")),
            ("consensus", |d| remove(d, &[], "consensus")),
            ("consensus.stage_slice", |d| {
                remove(d, &["consensus"], "stage_slice")
            }),
            ("round_limits.exec_timeout", |d| {
                remove(d, &["round_limits"], "exec_timeout")
            }),
        ];
        for (expected_key, edit) in cases {
            let (key, message) = config_error(parse_edited(edit));
            assert_eq!(key, expected_key);
            assert!(message.starts_with("missing; expected"), "{message}");
        }
        let (key, _) = config_error(parse_edited(|d| remove(d, &["npl"], "mode")));
        assert_eq!(key, "npl.mode");
    }

    #[test]
    fn first_bad_key_in_file_order_is_reported() {
        let (key, _) = config_error(parse_edited(|d| {
            remove(d, &["round_limits"], "exec_timeout");
            remove(d, &[], "consensus");
            remove(d, &[], "bin_args");
        }));
        assert_eq!(key, "bin_args");
    }

    fn remove(doc: &mut Value, parents: &[&str], key: &str) {
        let mut node = doc;
        for p in parents {
            node = &mut node[*p];
        }
        node.as_object_mut().unwrap().remove(key);
    }

    #[test]
    fn wrong_types_are_named_with_their_path() {
        let cases: Vec<(&str, Edit, &str)> = vec![
            ("version", |d| d["version"] = Value::from(1), "a string"),
            ("unl", |d| d["unl"] = Value::from("x"), "an array"),
            ("unl[1]", |d| d["unl"][1] = Value::from(5), "a string"),
            ("bin_args", |d| d["bin_args"] = Value::Null, "a string"),
            (
                "environment.HOME",
                |d| d["environment"]["HOME"] = Value::from(1),
                "a string",
            ),
            (
                "environment",
                |d| d["environment"] = Value::from(vec![1]),
                "an object",
            ),
            (
                "max_input_ledger_offset",
                |d| d["max_input_ledger_offset"] = Value::from(65_536),
                "0..=65535",
            ),
            (
                "max_input_ledger_offset",
                |d| d["max_input_ledger_offset"] = Value::from(-1),
                "0..=65535",
            ),
            (
                "consensus.roundtime",
                |d| d["consensus"]["roundtime"] = Value::from("1000"),
                "unsigned integer",
            ),
            (
                "consensus.roundtime",
                |d| d["consensus"]["roundtime"] = Value::from(4_294_967_296_u64),
                "0..=4294967295",
            ),
            (
                "consensus.threshold",
                |d| d["consensus"]["threshold"] = Value::from(80.5),
                "unsigned integer",
            ),
            (
                "consensus.mode",
                |d| d["consensus"]["mode"] = Value::from("Public"),
                "\"public\" or \"private\"",
            ),
            (
                "npl.mode",
                |d| d["npl"]["mode"] = Value::from(true),
                "\"public\" or \"private\"",
            ),
            (
                "consensus.fallback",
                |d| d["consensus"]["fallback"] = Value::from(true),
                "an object",
            ),
            (
                "consensus.fallback.execute",
                |d| d["consensus"]["fallback"] = serde_json::json!({"execute": "yes"}),
                "true or false",
            ),
            (
                "consensus.fallback.execute",
                |d| d["consensus"]["fallback"] = serde_json::json!({}),
                "missing",
            ),
            (
                "round_limits.proc_mem_bytes",
                |d| d["round_limits"]["proc_mem_bytes"] = Value::from(-5),
                "unsigned integer",
            ),
            ("npl", |d| d["npl"] = Value::from("private"), "an object"),
        ];
        for (expected_key, edit, expected_text) in cases {
            let (key, message) = config_error(parse_edited(edit));
            assert_eq!(key, expected_key, "{message}");
            assert!(message.contains(expected_text), "{expected_key}: {message}");
        }
    }

    #[test]
    fn wrong_type_messages_show_the_found_value() {
        let (_, message) = config_error(parse_edited(|d| {
            d["consensus"]["roundtime"] = Value::from("1000")
        }));
        assert_eq!(
            message,
            "expected an unsigned integer (0..=4294967295), found the string \"1000\""
        );
        let err = parse_edited(|d| d["consensus"]["mode"] = Value::from("secret")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "patch.cfg: `consensus.mode`: expected \"public\" or \"private\", found the string \"secret\""
        );
    }

    #[test]
    fn long_values_are_shortened_in_messages() {
        let mut cfg = sample();
        cfg.unl[0] = "z".repeat(500);
        let (_, message) = invalid(&cfg);
        assert!(message.len() < 200, "{message}");
        assert!(message.ends_with("..."), "{message}");
    }

    #[test]
    fn serialised_keys_follow_hpcore_order() {
        let mut cfg = sample();
        cfg.consensus.fallback = Some(FallbackConfig { execute: false });
        let out = String::from_utf8(cfg.to_pretty_json().unwrap()).unwrap();
        let order = [
            "\"version\"",
            "\"unl\"",
            "\"bin_path\"",
            "\"bin_args\"",
            "\"environment\"",
            "\"max_input_ledger_offset\"",
            "\"consensus\"",
            "\"mode\"",
            "\"roundtime\"",
            "\"stage_slice\"",
            "\"threshold\"",
            "\"fallback\"",
            "\"execute\"",
            "\"npl\"",
            "\"round_limits\"",
            "\"user_input_bytes\"",
            "\"user_output_bytes\"",
            "\"npl_output_bytes\"",
            "\"proc_cpu_seconds\"",
            "\"proc_mem_bytes\"",
            "\"proc_ofd_count\"",
            "\"exec_timeout\"",
        ];
        let positions: Vec<usize> = order.iter().map(|k| out.find(k).unwrap()).collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{out}");
    }
}
