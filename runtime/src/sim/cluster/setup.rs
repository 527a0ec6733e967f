//! Setting a cluster up: node directories created, or a kept cluster's
//! manifest checked and its ledger, clock and configuration continued.

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use super::super::config as simcfg;
use super::super::keys::KeyPair;
use super::super::manifest::{self, Manifest};
use super::hosts;
use super::store::InputStore;
use super::{ClusterBuilder, GENESIS_MS, NodeRt, Resumed, Runtime, SimError, genesis_hash, io_err};
use crate::config::PatchConfig;

/// The live state of a new cluster, or of the kept one it continues.
pub(super) fn runtime(b: &mut ClusterBuilder) -> Result<Runtime, SimError> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let requested = b.settings.config.clone();
    let (root, remove_on_drop) = match &b.keep {
        Some(dir) => (dir.clone(), false),
        None => {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            (
                std::env::temp_dir().join(format!("hotpocket-sim-{}-{n}", std::process::id())),
                true,
            )
        }
    };
    let bin =
        fs::canonicalize(&b.bin).map_err(io_err(format!("contract binary {}", b.bin.display())))?;
    let kept = match &b.keep {
        Some(dir) => kept_cluster(b, dir)?,
        None => None,
    };
    let mut nodes = Vec::new();
    let mut outside = Vec::new();
    for i in 0..b.node_count {
        let dir = root.join(format!("node{i}"));
        if kept.is_some() {
            if !dir.join("state").is_dir() {
                return Err(SimError::KeptState {
                    dir: root.clone(),
                    problem: format!("node{i}/state is missing"),
                });
            }
        } else {
            outside.extend(create_node_dir(b, &dir, i)?);
        }
        nodes.push(NodeRt {
            keys: KeyPair::node(i),
            dir,
            inputs: InputStore::new().map_err(io_err("memfd_create"))?,
            read_inputs: InputStore::new().map_err(io_err("memfd_create"))?,
        });
    }
    let dirs: Vec<_> = nodes.iter().map(|n: &NodeRt| n.dir.clone()).collect();
    let wanted = hosts::Wanted {
        vary: b.settings.vary_hosts,
        namespaces: b.settings.namespaces,
        straddle_second: b.settings.straddle_second,
        kept: b.keep.is_some(),
        bin: &bin,
        bin_is_contract: b.settings.config.bin_args.is_empty(),
    };
    let plan = hosts::plan(&wanted, &dirs).map_err(io_err("setting up the nodes' hosts"))?;
    let mut rt = Runtime {
        root,
        remove_on_drop,
        bin,
        nodes,
        lcl_seq_no: 0,
        lcl_hash: genesis_hash(),
        recent_lcls: Vec::new(),
        clock_ms: GENESIS_MS,
        rounds: 0,
        requested,
        resumed: None,
        non_consensus_rounds: 0,
        written: None,
        patch_bytes: Vec::new(),
        hosts: plan.nodes,
        not_varied: plan.not_varied,
        outside,
        straddled: false,
        lose_next: None,
    };
    if let Some(m) = kept {
        resume(b, &mut rt, m)?;
    }
    Ok(rt)
}

/// A new node directory: `state/` with the seed files, nothing else. With
/// varied hosts, every second node's directory lives on a second kind of
/// file system (`node<i>` links to it; `../patch.cfg` stays next to the
/// state), returned for removal with the cluster.
fn create_node_dir(b: &ClusterBuilder, dir: &Path, i: usize) -> Result<Option<PathBuf>, SimError> {
    if dir.exists() {
        fs::remove_dir_all(dir).map_err(io_err(format!("clearing {}", dir.display())))?;
    }
    let mut outside = None;
    let second = hosts::second_fs().filter(|_| b.settings.vary_hosts && b.keep.is_none());
    if let (Some(base), 1) = (second, i % 2) {
        let tag = dir.parent().and_then(Path::file_name).unwrap_or_default();
        let real = base.join(format!("{}-node{i}", tag.to_string_lossy()));
        let _ = fs::remove_dir_all(&real);
        fs::create_dir_all(&real).map_err(io_err(format!("creating {}", real.display())))?;
        if let Some(parent) = dir.parent() {
            fs::create_dir_all(parent).map_err(io_err(format!("creating {}", parent.display())))?;
        }
        std::os::unix::fs::symlink(&real, dir)
            .map_err(io_err(format!("linking {}", dir.display())))?;
        outside = Some(real);
    }
    let state = dir.join("state");
    fs::create_dir_all(&state).map_err(io_err(format!("creating {}", state.display())))?;
    for (path, contents, exec) in &b.seeds {
        let target = state.join(path);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent).map_err(io_err(format!("creating {}", parent.display())))?;
        }
        fs::write(&target, contents).map_err(io_err(format!("seeding {}", target.display())))?;
        if *exec {
            fs::set_permissions(&target, fs::Permissions::from_mode(0o755))
                .map_err(io_err(format!("chmod {}", target.display())))?;
        }
    }
    Ok(outside)
}

/// The manifest of the cluster kept in `dir`, if it holds one this
/// cluster can continue; `None` to start over (no manifest, or
/// [`fresh`](ClusterBuilder::fresh), which also clears what was there).
fn kept_cluster(b: &ClusterBuilder, dir: &Path) -> Result<Option<Manifest>, SimError> {
    let kept_err = |problem: String| SimError::KeptState {
        dir: dir.to_owned(),
        problem,
    };
    if b.fresh {
        discard_kept(dir)?;
        return Ok(None);
    }
    let Some(m) = manifest::load(dir).map_err(kept_err)? else {
        return Ok(None);
    };
    if m.nodes != b.node_count {
        return Err(kept_err(format!(
            "it has {} node{}, not {}",
            m.nodes,
            if m.nodes == 1 { "" } else { "s" },
            b.node_count
        )));
    }
    let variant = simcfg::variant_name(b.settings.variant);
    if m.variant != variant {
        return Err(kept_err(format!(
            "it runs the `{}` variant, not `{variant}`",
            m.variant
        )));
    }
    if m.contract_id != b.settings.contract_id {
        return Err(kept_err(format!(
            "its contract id is {}, not {}",
            m.contract_id, b.settings.contract_id
        )));
    }
    let keys: Vec<String> = (0..m.nodes).map(|i| KeyPair::node(i).public_key).collect();
    if m.node_keys != keys {
        return Err(kept_err(
            "its node keys are not the ones this simulator derives".into(),
        ));
    }
    Ok(Some(m))
}

/// Continues the kept cluster `m` in `rt`: its ledger, clock and round
/// count, and its configuration with this cluster's changes applied.
fn resume(b: &mut ClusterBuilder, rt: &mut Runtime, m: Manifest) -> Result<(), SimError> {
    let kept_err = |problem: String| SimError::KeptState {
        dir: rt.root.clone(),
        problem,
    };
    let parse = |v: &serde_json::Value| {
        serde_json::to_vec(v)
            .map_err(|e| e.to_string())
            .and_then(|b| PatchConfig::from_json(&b).map_err(|e| e.to_string()))
    };
    let in_force = parse(&m.config)
        .map_err(|e| kept_err(format!("{} has no valid config: {e}", manifest::FILE)))?;
    // An operator's change between runs: what this cluster asks for
    // differently from what the kept one was built with.
    let mut merged = m.config.clone();
    let request =
        serde_json::to_value(&b.settings.config).map_err(|e| SimError::Usage(e.to_string()))?;
    manifest::carry_over(&m.requested, &request, &mut merged);
    let mut config = parse(&merged)
        .map_err(|e| kept_err(format!("{} has no valid config: {e}", manifest::FILE)))?;
    // The binary the cluster filled in last time is this run's binary.
    if config.bin_path == m.bin {
        config.bin_path.clear();
    }
    let keys: Vec<String> = rt.nodes.iter().map(|n| n.keys.public_key.clone()).collect();
    simcfg::resolve(&mut config, b.settings.variant, &rt.bin, &keys);
    let config_changes = simcfg::changes(&in_force, &config);
    b.settings.config = config;
    rt.written = Some(in_force);
    rt.patch_bytes = m.patch_cfg.into_bytes();
    rt.lcl_seq_no = m.lcl_seq_no;
    rt.lcl_hash = m.lcl_hash.clone();
    rt.clock_ms = m.clock_ms;
    rt.rounds = m.rounds;
    rt.non_consensus_rounds = m.non_consensus_rounds;
    rt.resumed = Some(Resumed {
        dir: rt.root.clone(),
        rounds: m.rounds,
        lcl_seq_no: m.lcl_seq_no,
        lcl_hash: m.lcl_hash,
        timestamp: m.clock_ms,
        config_changes,
    });
    Ok(())
}

/// Clears what a kept directory holds of a cluster: the manifest and every
/// `node<i>` directory.
fn discard_kept(dir: &Path) -> Result<(), SimError> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(io_err(format!("reading {}", dir.display()))(e)),
    };
    for entry in entries {
        let entry = entry.map_err(io_err(format!("reading {}", dir.display())))?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let is_node = name
            .strip_prefix("node")
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        if is_node && entry.path().is_dir() {
            fs::remove_dir_all(entry.path())
                .map_err(io_err(format!("clearing {}", entry.path().display())))?;
        }
    }
    match fs::remove_file(dir.join(manifest::FILE)) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_err(format!(
            "removing {}",
            dir.join(manifest::FILE).display()
        ))(e)),
        _ => Ok(()),
    }
}
