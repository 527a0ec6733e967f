//! Finding binaries cargo built: `[[bin]]` targets and examples.
//!
//! Integration tests of a package get `env!("CARGO_BIN_EXE_<name>")` for the
//! package's own binaries; this helper covers everything else (examples, or
//! binaries of another package in the workspace) by looking next to the
//! running test executable, which cargo places in `target/<profile>/deps/`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use super::cluster::SimError;

fn profile_dir() -> Result<PathBuf, SimError> {
    let exe = std::env::current_exe().map_err(|e| SimError::Io {
        context: "locating the test binary".into(),
        source: e,
    })?;
    let mut dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    if dir.ends_with("deps") || dir.ends_with("examples") {
        dir.pop();
    }
    Ok(dir)
}

fn find(candidates: &[PathBuf], what: &str) -> Result<PathBuf, SimError> {
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .ok_or_else(|| {
            let tried: Vec<String> = candidates.iter().map(|p| p.display().to_string()).collect();
            SimError::Usage(format!(
                "{what} not found (tried {}); build it first (`cargo build --all-targets`)",
                tried.join(", ")
            ))
        })
}

/// Path of a binary cargo built in this profile: a `[[bin]]` target
/// (`target/<profile>/<name>`) or, failing that, an example.
pub fn cargo_bin(name: &str) -> Result<PathBuf, SimError> {
    let dir = profile_dir()?;
    find(
        &[dir.join(name), dir.join("examples").join(name)],
        &format!("binary `{name}`"),
    )
}

/// Path of an example's binary, built in this profile first when the
/// caller runs under cargo (`cargo test`).
///
/// `cargo test` builds an example with `test = true` (one with tests of its
/// own) only as its test harness, so its plain binary may be missing on a
/// clean checkout, or left over from an older build. Under cargo, the
/// workspace's examples are therefore built (`cargo build --workspace
/// --examples`, in the profile of the running test) once per process before
/// the first path is returned; elsewhere the path is only looked up.
pub fn cargo_example(name: &str) -> Result<PathBuf, SimError> {
    let dir = profile_dir()?;
    build_examples(&dir)?;
    find(
        &[dir.join("examples").join(name)],
        &format!("example `{name}`"),
    )
}

/// Builds the workspace's examples once per process with the cargo that
/// runs this test, in the profile whose output directory is `dir`.
fn build_examples(dir: &Path) -> Result<(), SimError> {
    static BUILT: OnceLock<Result<(), String>> = OnceLock::new();
    let (Some(cargo), Some(manifest_dir)) = (
        std::env::var_os("CARGO"),
        std::env::var_os("CARGO_MANIFEST_DIR"),
    ) else {
        return Ok(());
    };
    let built = BUILT.get_or_init(|| {
        let mut build = Command::new(cargo);
        build
            .args(["build", "--quiet", "--workspace", "--examples"])
            .current_dir(manifest_dir);
        if dir.ends_with("release") {
            build.arg("--release");
        }
        match build.status() {
            Ok(s) if s.success() => Ok(()),
            Ok(s) => Err(format!("`cargo build --examples` failed ({s})")),
            Err(e) => Err(format!("cannot run cargo to build the examples: {e}")),
        }
    });
    built.clone().map_err(SimError::Usage)
}
