//! What the simulator adds to [`PatchConfig`], the contract configuration a
//! simulated node runs with and writes to `<node>/patch.cfg`: the engine
//! variants' names and versions, the node-local fields only the cluster can
//! fill in, and the change list shown when a contract rewrote the file.

use std::path::Path;

use serde_json::Value;

pub use crate::args::Variant;
use crate::config::{FallbackConfig, PatchConfig};

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

/// The configuration a new cluster starts from: the engine's defaults for a
/// new contract ([`PatchConfig::new`]), with the UNL and `bin_path` left
/// empty for [`resolve`] to fill in from the cluster.
pub(crate) fn initial() -> PatchConfig {
    PatchConfig::new(Vec::new(), String::new())
}

/// Fills in what only the cluster knows, in place: an empty UNL becomes the
/// cluster's node keys (sorted), an empty `bin_path` the contract binary, and
/// for [`Variant::Mode`] a missing `consensus.fallback` becomes
/// `execute: true` (fallback-hpsh requires the key). A config that passed
/// [`check`] is left as it is, so an applied `patch.cfg` is never rewritten.
pub(crate) fn resolve(
    config: &mut PatchConfig,
    variant: Variant,
    bin: &Path,
    node_keys: &[String],
) {
    if config.unl.is_empty() {
        let mut unl = node_keys.to_vec();
        unl.sort();
        config.unl = unl;
    }
    if config.bin_path.is_empty() {
        config.bin_path = bin.to_string_lossy().into_owned();
    }
    // hpcore main has no such key but ignores it, so under `readonly` it is
    // left as configured (absent by default).
    if variant == Variant::Mode {
        config
            .consensus
            .fallback
            .get_or_insert(FallbackConfig { execute: true });
    }
}

/// Parses and checks a `patch.cfg` the way the engine would before applying
/// it ([`guide::protocol`](crate::guide::protocol#patchcfg)): [`PatchConfig::from_json`], then
/// [`PatchConfig::validate`], then the variant's own key (fallback-hpsh
/// requires `consensus.fallback.execute`). The error is the reason as text.
pub(crate) fn check(bytes: &[u8], variant: Variant) -> Result<PatchConfig, String> {
    // The errors already say `patch.cfg: `; reports name the file themselves.
    let text = |e: crate::Error| {
        let s = e.to_string();
        s.strip_prefix("patch.cfg: ")
            .map_or(s.clone(), str::to_owned)
    };
    let config = PatchConfig::from_json(bytes).map_err(text)?;
    config.validate().map_err(text)?;
    if variant == Variant::Mode && config.consensus.fallback.is_none() {
        return Err("`consensus.fallback`: missing; the fallback-hpsh engine \
                    (variant `mode`) requires consensus.fallback.execute"
            .to_owned());
    }
    Ok(config)
}

/// `bin_args` split as the engine splits it: on single spaces, dropping empty pieces.
pub(crate) fn split_bin_args(bin_args: &str) -> Vec<String> {
    bin_args
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

/// The contract binary the engine would execute for `bin_path`: relative
/// paths are taken from the working directory (the state directory), as
/// `execv` after `chdir` does; no `PATH` search.
pub(crate) fn bin_in(bin_path: &str, workdir: &Path) -> std::path::PathBuf {
    workdir.join(bin_path)
}

/// One key whose value differs between two configurations.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigChange {
    /// Dotted key path, e.g. `consensus.roundtime` or `environment.FOO`.
    pub key: String,
    /// The old value as JSON (shortened if long), or `(absent)`.
    pub from: String,
    /// The new value as JSON (shortened if long), or `(absent)`.
    pub to: String,
}

/// The keys that differ between `old` and `new`, by dotted path in sorted
/// order. Objects are compared key by key, anything else (the UNL
/// included) as a whole value.
pub(crate) fn changes(old: &PatchConfig, new: &PatchConfig) -> Vec<ConfigChange> {
    let mut out = Vec::new();
    // Serialising a PatchConfig (strings, integers, maps) cannot fail; if it
    // somehow did, the change list is empty, never a panic.
    if let (Ok(a), Ok(b)) = (serde_json::to_value(old), serde_json::to_value(new)) {
        diff("", Some(&a), Some(&b), &mut out);
    }
    out
}

fn diff(path: &str, old: Option<&Value>, new: Option<&Value>, out: &mut Vec<ConfigChange>) {
    if let (Some(Value::Object(a)), Some(Value::Object(b))) = (old, new) {
        let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
        for k in keys {
            let sub = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            diff(&sub, a.get(k), b.get(k), out);
        }
    } else if old != new {
        out.push(ConfigChange {
            key: path.to_owned(),
            from: show(old),
            to: show(new),
        });
    }
}

fn show(v: Option<&Value>) -> String {
    const MAX: usize = 80;
    let Some(v) = v else {
        return "(absent)".to_owned();
    };
    let text = v.to_string();
    if text.chars().count() <= MAX {
        text
    } else {
        let mut s: String = text.chars().take(MAX).collect();
        s.push_str("...");
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bin_args_split_like_the_engine() {
        assert_eq!(split_bin_args(" a  b c "), ["a", "b", "c"]);
    }

    #[test]
    fn resolve_fills_node_local_fields_and_follows_the_variant() {
        let keys = [
            format!("ed{}", "b".repeat(64)),
            format!("ed{}", "a".repeat(64)),
        ];
        let mut cfg = initial();
        resolve(&mut cfg, Variant::Mode, Path::new("/bin/c"), &keys);
        assert_eq!(cfg.unl, [keys[1].clone(), keys[0].clone()]);
        assert_eq!(cfg.bin_path, "/bin/c");
        assert_eq!(
            cfg.consensus.fallback,
            Some(FallbackConfig { execute: true })
        );
        assert!(cfg.validate().is_ok());
        // Set values are kept.
        cfg.consensus.fallback = Some(FallbackConfig { execute: false });
        resolve(&mut cfg, Variant::Mode, Path::new("/other"), &keys[..1]);
        assert_eq!(cfg.unl.len(), 2);
        assert_eq!(cfg.bin_path, "/bin/c");
        assert_eq!(
            cfg.consensus.fallback,
            Some(FallbackConfig { execute: false })
        );
        let mut plain = initial();
        resolve(&mut plain, Variant::Readonly, Path::new("/bin/c"), &keys);
        assert_eq!(plain.consensus.fallback, None);
        // A checked config is a fixed point.
        for variant in [Variant::Readonly, Variant::Mode] {
            let before = cfg.clone();
            resolve(&mut cfg, variant, Path::new("/x"), &keys[..1]);
            assert_eq!(cfg, before);
        }
    }

    #[test]
    fn check_applies_the_variant_rule() {
        let mut cfg = initial();
        let keys = [format!("ed{}", "a".repeat(64))];
        resolve(&mut cfg, Variant::Readonly, Path::new("/bin/c"), &keys);
        let bytes = cfg.to_pretty_json().unwrap();
        assert_eq!(check(&bytes, Variant::Readonly).unwrap(), cfg);
        let e = check(&bytes, Variant::Mode).unwrap_err();
        assert!(e.contains("consensus.fallback"), "{e}");
        let e = check(b"{", Variant::Readonly).unwrap_err();
        assert!(e.contains("not valid JSON"), "{e}");
        cfg.consensus.threshold = 0;
        let e = check(&cfg.to_pretty_json().unwrap(), Variant::Readonly).unwrap_err();
        assert!(e.contains("consensus.threshold"), "{e}");
    }

    #[test]
    fn changes_name_dotted_keys() {
        let old = initial();
        let mut new = old.clone();
        new.consensus.roundtime = 2000;
        new.environment.insert("FOO".into(), "bar".into());
        new.consensus.fallback = Some(FallbackConfig { execute: true });
        new.unl.push("ed".repeat(60));
        let c = changes(&old, &new);
        let keys: Vec<&str> = c.iter().map(|c| c.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "consensus.fallback",
                "consensus.roundtime",
                "environment.FOO",
                "unl"
            ]
        );
        assert_eq!((c[1].from.as_str(), c[1].to.as_str()), ("1000", "2000"));
        assert_eq!(c[0].from, "(absent)");
        assert_eq!(c[2].to, "\"bar\"");
        assert!(c[3].to.ends_with("..."), "{}", c[3].to);
        assert!(changes(&old, &old).is_empty());
    }
}
