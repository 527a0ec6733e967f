//! The contract configuration a simulated node runs with, and the
//! `patch.cfg` file the engine writes from it.
//!
//! Defaults are hpcore's `create_contract` defaults (PROTOCOL.md §4.1): round
//! time 1000 ms, stage slice 25, threshold 80, private consensus and NPL,
//! `max_input_ledger_offset` 10, `exec_timeout` 300000 ms, every other round
//! limit 0 (unlimited).

use std::collections::BTreeMap;

use serde::Serialize;

pub use crate::args::Variant;

/// The `hp_version` each engine variant reports.
pub(crate) fn hp_version(variant: Variant) -> &'static str {
    match variant {
        Variant::Readonly => "0.6.4",
        Variant::Mode => "0.6.5",
    }
}

/// The variant's name on the dev-mode command line (`readonly` / `mode`).
pub(crate) fn variant_name(variant: Variant) -> &'static str {
    match variant {
        Variant::Readonly => "readonly",
        Variant::Mode => "mode",
    }
}

/// Resource and byte limits applied to each contract execution
/// (`contract.round_limits`). 0 means unlimited, as in the engine.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct RoundLimits {
    /// Bytes of inputs accepted per user per round; inputs beyond it are rejected.
    pub user_input_bytes: u64,
    /// Bytes read from one user's output socket per round (4-byte headers
    /// included); past it the host closes its end of that socket.
    pub user_output_bytes: u64,
    /// Bytes of NPL the contract may send per round; past it the host closes
    /// its end of the NPL socket.
    pub npl_output_bytes: u64,
    /// `RLIMIT_CPU` for the contract process, in seconds.
    pub proc_cpu_seconds: u64,
    /// `RLIMIT_DATA` for the contract process, in bytes.
    pub proc_mem_bytes: u64,
    /// `RLIMIT_NOFILE` for the contract process.
    pub proc_ofd_count: u64,
    /// Wall-clock milliseconds before the contract is SIGKILLed (consensus and
    /// read-request rounds; fallback rounds use the round time instead).
    pub exec_timeout: u64,
}

impl Default for RoundLimits {
    fn default() -> Self {
        RoundLimits {
            user_input_bytes: 0,
            user_output_bytes: 0,
            npl_output_bytes: 0,
            proc_cpu_seconds: 0,
            proc_mem_bytes: 0,
            proc_ofd_count: 0,
            exec_timeout: 300_000,
        }
    }
}

/// The `contract` section a node runs with (minus node-local fields).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContractConfig {
    /// `version`.
    pub version: String,
    /// `bin_args`, split on single spaces (empty pieces dropped) like the engine.
    pub bin_args: String,
    /// `environment`: the contract's entire environment.
    pub environment: BTreeMap<String, String>,
    /// `max_input_ledger_offset`.
    pub max_input_ledger_offset: u16,
    /// `consensus.mode` is public (otherwise private).
    pub consensus_public: bool,
    /// `consensus.roundtime` in ms; also the simulated clock's step.
    pub roundtime: u32,
    /// `consensus.stage_slice`.
    pub stage_slice: u32,
    /// `consensus.threshold`.
    pub threshold: u16,
    /// `consensus.fallback.execute` (written only for [`Variant::Mode`]).
    pub fallback_execute: bool,
    /// `npl.mode` is public (otherwise private).
    pub npl_public: bool,
    /// `round_limits`.
    pub round_limits: RoundLimits,
}

impl Default for ContractConfig {
    fn default() -> Self {
        ContractConfig {
            version: "1.0".into(),
            bin_args: String::new(),
            environment: BTreeMap::new(),
            max_input_ledger_offset: 10,
            consensus_public: false,
            roundtime: 1000,
            stage_slice: 25,
            threshold: 80,
            fallback_execute: true,
            npl_public: false,
            round_limits: RoundLimits::default(),
        }
    }
}

impl ContractConfig {
    /// `bin_args` split as the engine splits it: on single spaces, dropping empty pieces.
    pub fn split_bin_args(&self) -> Vec<String> {
        self.bin_args
            .split(' ')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect()
    }

    /// The `patch.cfg` text the engine would write for this configuration:
    /// keys in hpcore's order, 4-space indentation.
    pub fn patch_cfg(&self, variant: Variant, bin_path: &str, unl: &[String]) -> String {
        fn mode(public: bool) -> &'static str {
            if public { "public" } else { "private" }
        }
        #[derive(Serialize)]
        struct Fallback {
            execute: bool,
        }
        #[derive(Serialize)]
        struct Consensus<'a> {
            mode: &'a str,
            roundtime: u32,
            stage_slice: u32,
            threshold: u16,
            #[serde(skip_serializing_if = "Option::is_none")]
            fallback: Option<Fallback>,
        }
        #[derive(Serialize)]
        struct Npl<'a> {
            mode: &'a str,
        }
        #[derive(Serialize)]
        struct Patch<'a> {
            version: &'a str,
            unl: &'a [String],
            bin_path: &'a str,
            bin_args: &'a str,
            environment: &'a BTreeMap<String, String>,
            max_input_ledger_offset: u16,
            consensus: Consensus<'a>,
            npl: Npl<'a>,
            round_limits: &'a RoundLimits,
        }
        let patch = Patch {
            version: &self.version,
            unl,
            bin_path,
            bin_args: &self.bin_args,
            environment: &self.environment,
            max_input_ledger_offset: self.max_input_ledger_offset,
            consensus: Consensus {
                mode: mode(self.consensus_public),
                roundtime: self.roundtime,
                stage_slice: self.stage_slice,
                threshold: self.threshold,
                fallback: (variant == Variant::Mode).then_some(Fallback {
                    execute: self.fallback_execute,
                }),
            },
            npl: Npl {
                mode: mode(self.npl_public),
            },
            round_limits: &self.round_limits,
        };
        let mut out = Vec::new();
        let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
        let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
        // Serializing plain structs of strings and integers into a Vec cannot fail.
        if patch.serialize(&mut ser).is_err() {
            return String::from("{}");
        }
        String::from_utf8(out).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bin_args_split_like_the_engine() {
        let cfg = ContractConfig {
            bin_args: " a  b c ".into(),
            ..Default::default()
        };
        assert_eq!(cfg.split_bin_args(), ["a", "b", "c"]);
    }

    #[test]
    fn patch_cfg_key_order_and_variant() {
        let cfg = ContractConfig::default();
        let text = cfg.patch_cfg(Variant::Readonly, "/bin/c", &["ed00".into()]);
        let order = [
            "\"version\"",
            "\"unl\"",
            "\"bin_path\"",
            "\"bin_args\"",
            "\"environment\"",
            "\"max_input_ledger_offset\"",
            "\"consensus\"",
            "\"npl\"",
            "\"round_limits\"",
        ];
        let pos: Vec<usize> = order.iter().map(|k| text.find(k).unwrap()).collect();
        assert!(pos.windows(2).all(|w| w[0] < w[1]), "{text}");
        assert!(!text.contains("fallback"));
        assert!(text.contains("\n    \"version\": \"1.0\""));
        let text = cfg.patch_cfg(Variant::Mode, "/bin/c", &["ed00".into()]);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["consensus"]["fallback"]["execute"], true);
        assert_eq!(v["round_limits"]["exec_timeout"], 300_000);
    }
}
