//! State hashes: a digest per entry of a node's state directory and one over
//! all of them, standing in for hpfs's state hash.
//!
//! Entries are visited in sorted path order, so the hash depends only on
//! names, contents, the executable bit (`post_exec.sh` needs it) and
//! symlink targets; never on creation order or timestamps.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use super::report::StateSnapshot;
use hex::encode as hex;
use sha2::{Digest, Sha256};

/// Hashes the directory tree at `root`.
pub(crate) fn snapshot(root: &Path) -> io::Result<StateSnapshot> {
    let mut files = BTreeMap::new();
    walk(root, "", &mut files)?;
    let mut h = Sha256::new();
    for (path, entry) in &files {
        h.update(path.as_bytes());
        h.update(b"\0");
        h.update(entry.as_bytes());
        h.update(b"\n");
    }
    Ok(StateSnapshot {
        hash: hex(h.finalize()),
        files,
    })
}

fn walk(dir: &Path, prefix: &str, out: &mut BTreeMap<String, String>) -> io::Result<()> {
    let mut entries: Vec<_> = fs::read_dir(dir)?.collect::<Result<_, _>>()?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let name = e.file_name().to_string_lossy().into_owned();
        let rel = if prefix.is_empty() {
            name
        } else {
            format!("{prefix}/{name}")
        };
        let meta = fs::symlink_metadata(e.path())?;
        let ft = meta.file_type();
        if ft.is_symlink() {
            let target = fs::read_link(e.path())?;
            out.insert(rel, format!("link:{}", target.to_string_lossy()));
        } else if ft.is_dir() {
            out.insert(rel.clone(), "dir".into());
            walk(&e.path(), &rel, out)?;
        } else if ft.is_file() {
            let mut h = Sha256::new();
            let mut f = fs::File::open(e.path())?;
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = f.read(&mut buf)?;
                if n == 0 {
                    break;
                }
                h.update(buf.get(..n).unwrap_or_default());
            }
            let kind = if meta.permissions().mode() & 0o111 != 0 {
                "exec"
            } else {
                "file"
            };
            out.insert(rel, format!("{kind}:{}", hex(h.finalize())));
        } else {
            out.insert(rel, "special".into());
        }
    }
    Ok(())
}

/// Copies a directory tree (files, dirs, symlinks, permissions).
pub(crate) fn copy_tree(from: &Path, to: &Path) -> io::Result<()> {
    fs::create_dir_all(to)?;
    for e in fs::read_dir(from)? {
        let e = e?;
        let src = e.path();
        let dst = to.join(e.file_name());
        let ft = fs::symlink_metadata(&src)?.file_type();
        if ft.is_symlink() {
            std::os::unix::fs::symlink(fs::read_link(&src)?, &dst)?;
        } else if ft.is_dir() {
            copy_tree(&src, &dst)?;
        } else if ft.is_file() {
            fs::copy(&src, &dst)?;
        }
    }
    Ok(())
}

/// Paths whose entries differ between two snapshots.
pub(crate) fn changed(a: &StateSnapshot, b: &StateSnapshot) -> Vec<String> {
    let mut paths: Vec<String> = a
        .files
        .keys()
        .chain(b.files.keys())
        .filter(|p| a.files.get(*p) != b.files.get(*p))
        .cloned()
        .collect();
    paths.sort();
    paths.dedup();
    paths
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_independent_and_content_sensitive() {
        let base = std::env::temp_dir().join(format!("hp-sim-snap-{}", std::process::id()));
        let (a, b) = (base.join("a"), base.join("b"));
        let _ = fs::remove_dir_all(&base);
        fs::create_dir_all(a.join("sub")).unwrap();
        fs::create_dir_all(b.join("sub")).unwrap();
        fs::write(a.join("x"), "1").unwrap();
        fs::write(a.join("sub/y"), "2").unwrap();
        fs::write(b.join("sub/y"), "2").unwrap();
        fs::write(b.join("x"), "1").unwrap();
        let (sa, sb) = (snapshot(&a).unwrap(), snapshot(&b).unwrap());
        assert_eq!(sa, sb);
        fs::write(b.join("sub/y"), "3").unwrap();
        let sb = snapshot(&b).unwrap();
        assert_ne!(sa.hash, sb.hash);
        assert_eq!(changed(&sa, &sb), ["sub/y"]);
        let c = base.join("c");
        copy_tree(&a, &c).unwrap();
        assert_eq!(snapshot(&c).unwrap(), sa);
        fs::remove_dir_all(&base).unwrap();
    }
}
