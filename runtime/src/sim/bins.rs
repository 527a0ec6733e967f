//! Finding binaries cargo built: `[[bin]]` targets and examples.
//!
//! Integration tests of a package get `env!("CARGO_BIN_EXE_<name>")` for the
//! package's own binaries; this helper covers everything else (examples, or
//! binaries of another package in the workspace) by looking next to the
//! running test executable, which cargo places in `target/<profile>/deps/`.

use std::path::{Path, PathBuf};

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

/// Path of an example cargo built in this profile (`target/<profile>/examples/<name>`).
/// `cargo test` builds every example before running tests.
pub fn cargo_example(name: &str) -> Result<PathBuf, SimError> {
    let dir = profile_dir()?;
    find(
        &[dir.join("examples").join(name)],
        &format!("example `{name}`"),
    )
}
