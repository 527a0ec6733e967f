//! The one hint the macro can give for a missing `serde` dependency. The
//! prelude's `Serialize`/`Deserialize` derives expand to paths through a
//! crate named `serde`, so without the dependency rustc reports E0463
//! ("can't find crate for `serde`") at every derive and never says what to
//! add. A `state = ".."` contract cannot build without serde's traits, so
//! there the macro reads the crate's manifest and, when no line of it declares
//! serde, says what to add. (Other contracts may well build without serde: the
//! macro says nothing for them.)

/// What to add, shown at the `state` option.
pub(crate) const MISSING_SERDE: &str = "`state` saves the contract through serde's \
    `Serialize`/`Deserialize`, whose derives need `serde` as a dependency of this crate, and its \
    Cargo.toml declares no serde (rustc's \"can't find crate for `serde`\" at each derive comes from \
    that): add `serde = { version = \"1\", features = [\"derive\"] }` under `[dependencies]`";

/// Whether the manifest of the crate being compiled certainly lacks a serde
/// dependency; `false` whenever that cannot be told (no manifest, unreadable).
pub(crate) fn manifest_lacks_serde() -> bool {
    // The macro's own unit tests run with this crate's manifest, which has
    // no serde: they check `lacks_serde` on its own.
    if cfg!(test) {
        return false;
    }
    let Some(dir) = std::env::var_os("CARGO_MANIFEST_DIR") else {
        return false;
    };
    std::fs::read_to_string(std::path::Path::new(&dir).join("Cargo.toml"))
        .is_ok_and(|text| lacks_serde(&text))
}

/// Whether no line of the manifest declares serde: `serde = ..`,
/// `serde.workspace = true`, `[dependencies.serde]` or a renamed
/// `package = "serde"` all count (a crate merely named `serde-game` does
/// not). When in doubt it says serde is there: a wrong hint would be worse
/// than none.
fn lacks_serde(manifest: &str) -> bool {
    !manifest.lines().any(declares_serde)
}

fn declares_serde(line: &str) -> bool {
    let line = line.trim();
    let key = line
        .split('=')
        .next()
        .unwrap_or_default()
        .trim()
        .trim_matches('"');
    key == "serde"
        || key.starts_with("serde.")
        || line.ends_with(".serde]")
        || line.replace(' ', "").contains("package=\"serde\"")
}

#[cfg(test)]
mod tests {
    use super::lacks_serde;

    #[test]
    fn only_a_manifest_declaring_no_serde_lacks_it() {
        let bare = "[package]\nname = \"serde-game\"\n\n[dependencies]\nhotpocket = \"0.1\"\n";
        assert!(lacks_serde(bare));
        for with in [
            "serde = { version = \"1\", features = [\"derive\"] }",
            "serde.workspace = true",
            "ser = { package = \"serde\", version = \"1\" }",
            "[target.'cfg(unix)'.dependencies.serde]",
        ] {
            assert!(!lacks_serde(&format!("{bare}{with}\n")), "{with}");
        }
    }
}
