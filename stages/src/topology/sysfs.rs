//! Topology from Linux sysfs, for builds without hwloc: cpuN/topology/* for packages and
//! cores, cache/index*/ (level 3) for L3 domains, node*/cpulist for NUMA nodes, and cpu_capacity
//! (ARM) or the cpu_core/cpu_atom PMUs (Intel hybrid) for CPU kinds. It reads files only; a
//! missing file means "not reported" (one package, one NUMA node, ...), never an error.

use super::cpuset::parse_list;
use super::{RawCpu, Source, Topology};
use std::path::Path;

fn read(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

/// `system` is normally /sys/devices/system (a directory tree in tests). `None` when it lists no
/// CPU at all.
pub(crate) fn load(system: &Path, allowed: Option<&[u32]>) -> Option<Topology> {
    let cpu_dir = system.join("cpu");
    let os_cpus = read(&cpu_dir.join("online"))
        .and_then(|t| parse_list(&t))
        .filter(|l| !l.is_empty())
        .or_else(|| {
            let mut found: Vec<u32> = std::fs::read_dir(&cpu_dir)
                .ok()?
                .filter_map(|e| {
                    e.ok()?
                        .file_name()
                        .to_str()?
                        .strip_prefix("cpu")?
                        .parse()
                        .ok()
                })
                .collect();
            found.sort_unstable();
            (!found.is_empty()).then_some(found)
        })?;

    // NUMA node of each CPU (node directories may be absent: one node).
    let mut numa_of: Vec<(u32, u64)> = Vec::new();
    if let Ok(entries) = std::fs::read_dir(system.join("node")) {
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(node) = name
                .to_str()
                .and_then(|n| n.strip_prefix("node"))
                .and_then(|n| n.parse::<u64>().ok())
            else {
                continue;
            };
            if let Some(list) = read(&entry.path().join("cpulist")).and_then(|t| parse_list(&t)) {
                numa_of.extend(list.into_iter().map(|c| (c, node)));
            }
        }
    }
    let (kinds, kind_of) = kinds(system, &os_cpus);

    let mut raw = Vec::with_capacity(os_cpus.len());
    for (i, &os) in os_cpus.iter().enumerate() {
        let dir = cpu_dir.join(format!("cpu{os}"));
        let first_of = |file: &str| {
            read(&dir.join(file))
                .and_then(|t| parse_list(&t))
                .and_then(|l| l.first().copied())
        };
        let package = read(&dir.join("topology/physical_package_id"))
            .and_then(|t| t.trim().parse::<i64>().ok())
            .map_or(0, |p| p.max(0) as u64);
        let core = first_of("topology/core_cpus_list")
            .or_else(|| first_of("topology/thread_siblings_list"))
            .unwrap_or(os) as u64;
        let l3 = l3_first_cpu(&dir)
            // No L3 reported: the package stands in for it (ids above any CPU number).
            .map_or((1 << 40) | package, u64::from);
        let numa = numa_of
            .iter()
            .find(|(c, _)| *c == os)
            .map_or(0, |(_, n)| *n);
        raw.push(RawCpu {
            os,
            package,
            numa,
            l3,
            core,
            kind: kind_of[i],
        });
    }
    Some(Topology::new(Source::Sysfs, None, raw, allowed, kinds))
}

/// The lowest CPU sharing this CPU's L3 (the cache index whose level is 3), if any.
fn l3_first_cpu(cpu_dir: &Path) -> Option<u32> {
    let entries = std::fs::read_dir(cpu_dir.join("cache")).ok()?;
    for entry in entries.flatten() {
        let path = entry.path();
        let level = read(&path.join("level")).map(|t| t.trim().to_string());
        let kind = read(&path.join("type")).map(|t| t.trim().to_string());
        if level.as_deref() == Some("3") && kind.as_deref() != Some("Instruction") {
            return read(&path.join("shared_cpu_list"))
                .and_then(|t| parse_list(&t))
                .and_then(|l| l.first().copied());
        }
    }
    None
}

/// CPU kinds as the kernel reports them on this machine: Intel hybrid parts list their
/// performance and efficiency cores under /sys/devices/cpu_core and cpu_atom; ARM big.LITTLE
/// gives each CPU a `cpu_capacity` (bigger = faster). Returns kind names (fastest first) and
/// each CPU's kind index (all 0 with fewer than two kinds).
pub(crate) fn kinds(system: &Path, cpus: &[u32]) -> (Vec<String>, Vec<usize>) {
    let none = (Vec::new(), vec![0; cpus.len()]);
    let devices = system.parent().unwrap_or(system);
    let list = |name: &str| read(&devices.join(name).join("cpus")).and_then(|t| parse_list(&t));
    if let (Some(big), Some(little)) = (list("cpu_core"), list("cpu_atom")) {
        if !big.is_empty() && !little.is_empty() {
            let of = cpus
                .iter()
                .map(|c| usize::from(!big.contains(c) && little.contains(c)))
                .collect();
            return (
                vec![
                    "performance (cpu_core)".into(),
                    "efficiency (cpu_atom)".into(),
                ],
                of,
            );
        }
    }
    let capacity: Vec<Option<u64>> = cpus
        .iter()
        .map(|c| {
            read(&system.join(format!("cpu/cpu{c}/cpu_capacity")))
                .and_then(|t| t.trim().parse().ok())
        })
        .collect();
    if capacity.iter().any(Option::is_none) {
        return none;
    }
    let mut distinct: Vec<u64> = capacity.iter().flatten().copied().collect();
    distinct.sort_unstable_by(|a, b| b.cmp(a));
    distinct.dedup();
    if distinct.len() < 2 {
        return none;
    }
    let of = capacity
        .iter()
        .map(|c| distinct.iter().position(|d| Some(*d) == *c).unwrap_or(0))
        .collect();
    let names = distinct.iter().map(|d| format!("capacity {d}")).collect();
    (names, of)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn write(root: &Path, path: &str, text: &str) {
        let p = root.join(path);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, text).unwrap();
    }

    /// A fake sysfs: 4 CPUs, 2 cores x 2 threads (siblings 0,2 and 1,3), one L3 per core pair
    /// split 0,2 | 1,3, two NUMA nodes, ARM-style capacities (CPUs 1 and 3 are little).
    #[test]
    fn reads_a_fake_tree() {
        let dir = tempfile::tempdir().unwrap();
        let sys = dir.path().join("system");
        write(&sys, "cpu/online", "0-3\n");
        for cpu in 0..4u32 {
            let siblings = if cpu % 2 == 0 { "0,2" } else { "1,3" };
            write(
                &sys,
                &format!("cpu/cpu{cpu}/topology/physical_package_id"),
                "0\n",
            );
            write(
                &sys,
                &format!("cpu/cpu{cpu}/topology/core_cpus_list"),
                siblings,
            );
            write(&sys, &format!("cpu/cpu{cpu}/cache/index3/level"), "3\n");
            write(
                &sys,
                &format!("cpu/cpu{cpu}/cache/index3/type"),
                "Unified\n",
            );
            write(
                &sys,
                &format!("cpu/cpu{cpu}/cache/index3/shared_cpu_list"),
                siblings,
            );
            let cap = if cpu % 2 == 0 { "1024" } else { "446" };
            write(&sys, &format!("cpu/cpu{cpu}/cpu_capacity"), cap);
        }
        write(&sys, "node/node0/cpulist", "0,2\n");
        write(&sys, "node/node1/cpulist", "1,3\n");
        let t = load(&sys, Some(&[1, 2, 3])).unwrap();
        assert_eq!(t.source, Source::Sysfs);
        assert_eq!(t.allowed, vec![1, 2, 3]);
        assert_eq!((t.packages(), t.numa_nodes(), t.cores()), (1, 2, 2));
        assert_eq!(
            t.l3_domains()
                .iter()
                .map(|d| d.cpus.clone())
                .collect::<Vec<_>>(),
            vec![vec![0, 2], vec![1, 3]]
        );
        assert_eq!(t.kinds, vec!["capacity 1024", "capacity 446"]);
        assert_eq!(t.kind_cpus(1), vec![1, 3]);
        assert_eq!(t.cpu(3).unwrap().numa, 1);
    }

    #[test]
    fn bare_tree_is_one_of_everything() {
        let dir = tempfile::tempdir().unwrap();
        let sys = dir.path().join("system");
        fs::create_dir_all(sys.join("cpu/cpu0")).unwrap();
        fs::create_dir_all(sys.join("cpu/cpu1")).unwrap();
        let t = load(&sys, None).unwrap();
        assert_eq!(
            (
                t.packages(),
                t.numa_nodes(),
                t.cores(),
                t.l3_domains().len()
            ),
            (1, 1, 2, 1)
        );
        assert!(t.kinds.is_empty());
        assert!(load(&dir.path().join("missing"), None).is_none());
    }
}
