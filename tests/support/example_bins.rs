//! The examples' binaries for tests in any package of the workspace.
//!
//! `cargo test` builds an example with `test = true` (admin, counter,
//! fallback, lottery) only as its test harness, so its plain binary would be
//! missing on a clean clone, or left over from an older build: every
//! example is built once per test run before its binary is used.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use hotpocket::sim::SimError;

/// The example `name`'s binary, after building every example once per run.
pub(crate) fn cargo_example(name: &str) -> Result<PathBuf, SimError> {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let mut build = Command::new(cargo);
        build
            .args(["build", "--quiet", "--workspace", "--examples"])
            .current_dir(env!("CARGO_MANIFEST_DIR"));
        if !cfg!(debug_assertions) {
            build.arg("--release");
        }
        match build.status() {
            Ok(s) if s.success() => Ok(()),
            other => Err(format!("`cargo build --examples` failed: {other:?}")),
        }
    });
    built.clone().map_err(SimError::Usage)?;
    hotpocket::sim::cargo_example(name)
}
