//! Each simulated node on a host of its own, as far as this machine allows:
//! its own copy of the binary, host name, boot id, clocks, CPUs, file system
//! and start time; and the list of what could not be made to differ, which
//! the report states instead of leaving nodes silently alike.

use std::fmt;
use std::fs;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nix::libc;

use super::super::host::{Namespaces, NodeHost, Support, own_cpus, support};
use super::vary::draw;

/// One property real nodes differ in that this run keeps alike, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NotVaried {
    /// What a contract could observe, e.g. `the host name and boot id`.
    pub what: String,
    /// Why the simulator could not vary it here.
    pub why: String,
}

impl fmt::Display for NotVaried {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "not varied: {} (because {})", self.what, self.why)
    }
}

fn not_varied(what: &str, why: impl Into<String>) -> NotVaried {
    NotVaried {
        what: what.into(),
        why: why.into(),
    }
}

/// What the cluster asks of the hosts.
pub(super) struct Wanted<'a> {
    pub(super) vary: bool,
    pub(super) namespaces: bool,
    pub(super) straddle_second: bool,
    pub(super) kept: bool,
    /// The cluster's binary, and whether it is run as the contract itself
    /// (no `bin_args`: not an interpreter given a script).
    pub(super) bin: &'a Path,
    pub(super) bin_is_contract: bool,
}

/// Every node's host and what stays alike.
pub(super) struct Hosts {
    pub(super) nodes: Vec<NodeHost>,
    pub(super) not_varied: Vec<NotVaried>,
}

/// Sets up the hosts of the nodes in `dirs` (their directories exist).
pub(super) fn plan(w: &Wanted<'_>, dirs: &[PathBuf]) -> io::Result<Hosts> {
    let mut hosts = Hosts {
        nodes: dirs.iter().map(|_| NodeHost::default()).collect(),
        not_varied: Vec::new(),
    };
    if !w.vary {
        hosts.not_varied.push(not_varied(
            "the hosts (binary path, host name, boot id, clocks, CPUs, environment, file system)",
            "ClusterBuilder::alike_hosts was asked for",
        ));
        return Ok(hosts);
    }
    if dirs.len() < 2 {
        return Ok(hosts);
    }
    let cpus = own_cpus();
    for (i, (dir, host)) in dirs.iter().zip(&mut hosts.nodes).enumerate() {
        if w.bin_is_contract {
            host.bin = Some(own_copy(w.bin, dir)?);
        }
        // One node in two logs its contract, so the engine's `/bin/sh -c`
        // gives it a PWD the others lack.
        host.shell_pwd = i % 2 == 1;
        if cpus.len() >= 2 {
            host.cpus = cpus
                .get(..cpus.len() - i % cpus.len())
                .map(<[usize]>::to_vec);
        }
    }
    let probe_file = boot_id_file(dirs.first().map_or(Path::new("."), PathBuf::as_path), 0)?;
    let found = if w.namespaces {
        support(&probe_file)
    } else {
        Support {
            namespaces: Err("ClusterBuilder::without_namespaces was asked for".into()),
            time: Err("ClusterBuilder::without_namespaces was asked for".into()),
        }
    };
    add_namespaces(&found, dirs, &mut hosts.nodes)?;
    hosts.not_varied = what_stays_alike(w, &found, cpus.len());
    Ok(hosts)
}

/// Gives every node its namespaces, as far as `found` allows.
fn add_namespaces(found: &Support, dirs: &[PathBuf], nodes: &mut [NodeHost]) -> io::Result<()> {
    if found.namespaces.is_err() {
        return Ok(());
    }
    for (i, (dir, host)) in dirs.iter().zip(nodes).enumerate() {
        let file = boot_id_file(dir, i)?;
        // Real hosts booted at unrelated times: days apart, to the second.
        let offset = found
            .time
            .is_ok()
            .then(|| 86_400 * (i as u64 + 1) + draw("boot time", &[i as u64], 86_400));
        host.ns = Some(Namespaces::new(
            &format!("hotpocket-node{i}"),
            &file,
            offset,
        )?);
    }
    Ok(())
}

/// The report's "not varied" list for what `found` and the cluster allowed.
fn what_stays_alike(w: &Wanted<'_>, found: &Support, cpus: usize) -> Vec<NotVaried> {
    let mut out = Vec::new();
    if let Err(why) = &found.namespaces {
        out.push(not_varied("the host name and boot id", why.clone()));
    }
    if let Err(why) = &found.time {
        out.push(not_varied(
            "the monotonic and boot-time clocks (process start times)",
            why.clone(),
        ));
    }
    if cpus < 2 {
        out.push(not_varied(
            "the CPU count",
            format!("the simulator may use {cpus} CPU here"),
        ));
    }
    if w.kept {
        out.push(not_varied(
            "read_dir order",
            "a kept cluster keeps every node's state on the --keep-state directory's file system",
        ));
    } else if second_fs().is_none() {
        out.push(not_varied(
            "read_dir order",
            "no second kind of file system to hold some nodes' state (tried /dev/shm, /var/tmp)",
        ));
    }
    if !w.straddle_second {
        out.push(not_varied(
            "the wall clock at seconds resolution",
            "straddle_second is off: Cluster's default, as it waits for a second boundary; dev mode's with --delay-start",
        ));
    }
    out.push(not_varied(
        "wall clocks further apart than the start skew",
        "Linux gives no process a wall clock of its own: a time namespace offsets only the other clocks",
    ));
    out.push(not_varied(
        "free memory, the CPU model, the kernel and libm",
        "every node runs on this one machine",
    ));
    out
}

/// The node's own copy of the binary, `<cluster>/bin/node<i>/<name>`: a
/// hard link where the file system allows it (cheap, yet its own path),
/// else a copy. Beside the node directories, not in them: a node directory
/// on the second file system would need a full copy.
fn own_copy(bin: &Path, node_dir: &Path) -> io::Result<PathBuf> {
    let name = node_dir.file_name().unwrap_or_default();
    let dir = node_dir.parent().unwrap_or(node_dir).join("bin").join(name);
    fs::create_dir_all(&dir)?;
    let target = dir.join(bin.file_name().unwrap_or(bin.as_os_str()));
    match fs::remove_file(&target) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    if fs::hard_link(bin, &target).is_err() {
        fs::copy(bin, &target)?;
    }
    Ok(target)
}

/// `<node>/host/boot_id`, holding the node's own boot id.
fn boot_id_file(node_dir: &Path, i: usize) -> io::Result<PathBuf> {
    let dir = node_dir.join("host");
    fs::create_dir_all(&dir)?;
    let word = |n: u64, span: u64| draw("boot id", &[i as u64, n], span);
    let id = format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}\n",
        word(0, 1 << 32),
        word(1, 1 << 16),
        word(2, 1 << 12),
        0x8000 | word(3, 1 << 14),
        word(4, 1 << 48),
    );
    let file = dir.join("boot_id");
    fs::write(&file, id)?;
    Ok(file)
}

/// The file system type of `path` (`statfs`'s `f_type`).
fn fs_type(path: &Path) -> Option<i64> {
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: statfs is plain data; all zero is a valid value to fill.
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: c is a valid C string and st a valid statfs to fill.
    (unsafe { libc::statfs(c.as_ptr(), &mut st) } == 0).then_some(st.f_type as i64)
}

/// A writable directory on another kind of file system than the temporary
/// directory's, whose `read_dir` orders the same names differently
/// (tmpfs lists newest first, ext4 in hash order).
pub(super) fn second_fs() -> Option<PathBuf> {
    let tmp = fs_type(&std::env::temp_dir())?;
    ["/dev/shm", "/var/tmp"]
        .into_iter()
        .map(PathBuf::from)
        .find(|p| fs_type(p).is_some_and(|t| t != tmp) && writable(p))
}

fn writable(dir: &Path) -> bool {
    let c = std::ffi::CString::new(dir.as_os_str().as_bytes());
    // SAFETY: access takes a valid C string and flags.
    c.is_ok_and(|c| unsafe { libc::access(c.as_ptr(), libc::W_OK | libc::X_OK) } == 0)
}

/// How much later than node 0 each node's contract starts in round
/// `round`: a few seeded milliseconds, and with `straddle` the nodes after
/// the first pushed past the next whole second (waiting here until it is
/// near), so that clocks read at seconds resolution differ.
pub(super) fn skews(round: u64, nodes: usize, straddle: bool) -> Vec<Duration> {
    let mut out: Vec<Duration> = (0..nodes)
        .map(|i| Duration::from_millis(draw("start skew", &[round, i as u64], 15)))
        .collect();
    if !straddle || nodes < 2 {
        return out;
    }
    // Node 0 gets LEAD to read the clock before the boundary.
    const LEAD: Duration = Duration::from_millis(200);
    let into_second = |t: SystemTime| {
        t.duration_since(UNIX_EPOCH).map_or(Duration::ZERO, |d| {
            Duration::from_nanos(u64::from(d.subsec_nanos()))
        })
    };
    // Under half of LEAD left: too close for node 0, use the next second.
    let to_boundary = Duration::from_secs(1).saturating_sub(into_second(SystemTime::now()));
    if to_boundary > LEAD {
        std::thread::sleep(to_boundary.saturating_sub(LEAD));
    } else if to_boundary < LEAD / 2 {
        std::thread::sleep(to_boundary + Duration::from_secs(1).saturating_sub(LEAD));
    }
    let to_boundary = Duration::from_secs(1)
        .saturating_sub(into_second(SystemTime::now()))
        .min(LEAD);
    if let Some(first) = out.first_mut() {
        *first = Duration::ZERO;
    }
    for s in out.iter_mut().skip(1) {
        *s += to_boundary + Duration::from_millis(20);
    }
    out
}

/// Sets the state directory's modification time per node, as each host's
/// own clock would have left it (`offset_ns` before now).
pub(super) fn set_dir_mtime(dir: &Path, offset_ns: u64) -> io::Result<()> {
    let when = SystemTime::now()
        .checked_sub(Duration::from_nanos(offset_ns))
        .unwrap_or(UNIX_EPOCH);
    fs::File::open(dir)?.set_modified(when)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn second(t: SystemTime) -> u64 {
        t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
    }

    #[test]
    fn a_straddle_puts_node_0_before_a_second_and_the_others_after() {
        let s = skews(1, 3, true);
        let now = SystemTime::now();
        assert_eq!(s.first(), Some(&Duration::ZERO));
        for later in s.iter().skip(1) {
            assert!(second(now + *later) > second(now), "{s:?}");
            // Node 0 has at least half the lead before the boundary.
            assert!(*later >= Duration::from_millis(100), "{s:?}");
        }
        // Without it, a few seeded milliseconds, the same on every call.
        let plain = skews(1, 3, false);
        assert_eq!(plain, skews(1, 3, false));
        assert!(plain.iter().all(|d| *d < Duration::from_millis(15)));
    }

    #[test]
    fn nodes_get_their_own_boot_ids() {
        let dir = std::env::temp_dir().join(format!("hotpocket-hosts-{}", std::process::id()));
        let ids: Vec<String> = (0..3)
            .map(|i| {
                let f = boot_id_file(&dir.join(format!("node{i}")), i).unwrap();
                fs::read_to_string(f).unwrap()
            })
            .collect();
        let _ = fs::remove_dir_all(&dir);
        assert!(
            ids.iter()
                .all(|id| id.len() == 37 && id.as_bytes()[14] == b'4')
        );
        assert_ne!(ids[0], ids[1]);
        assert_ne!(ids[1], ids[2]);
    }

    #[test]
    fn the_list_says_why_each_property_stays_alike() {
        let w = Wanted {
            vary: true,
            namespaces: false,
            straddle_second: false,
            kept: true,
            bin: Path::new("/bin/true"),
            bin_is_contract: true,
        };
        let found = Support {
            namespaces: Err("no".into()),
            time: Err("no".into()),
        };
        let lines: Vec<String> = what_stays_alike(&w, &found, 1)
            .iter()
            .map(ToString::to_string)
            .collect();
        for what in [
            "host name",
            "monotonic",
            "CPU count",
            "read_dir",
            "seconds",
            "memory",
            "wall clocks",
        ] {
            assert_eq!(
                lines.iter().filter(|l| l.contains(what)).count(),
                1,
                "{what}: {lines:#?}"
            );
        }
        assert!(
            lines
                .iter()
                .all(|l| l.starts_with("not varied: ") && l.ends_with(')'))
        );
    }
}
