//! Topology from libhwloc through the `hwloc2` crate. hwloc itself honours `HWLOC_SYNTHETIC`
//! and `HWLOC_XMLFILE` when it loads, which is how plans for machines we do not have are shown
//! and tested. Only cpusets of objects by type are read: that part of the crate's object layout
//! matches hwloc 2.x (its `memory_arity` does not — hwloc 2 added `symmetric_subtree` before it —
//! so it is never used). CPU kinds come from sysfs (the crate does not bind hwloc_cpukinds_*),
//! and only when the topology is this machine.

use super::{cpuset, sysfs, RawCpu, Source, Topology};
use hwloc2::{ObjectType, Topology as HwTopology, TopologyObject};

pub(crate) fn load() -> Result<Topology, String> {
    let topo = HwTopology::new().ok_or("hwloc_topology_load failed")?;
    let pus = objects(&topo, ObjectType::PU);
    if pus.is_empty() {
        return Err("hwloc reports no processing units".into());
    }
    // Each container level as (id, cpus); a PU outside every object of a level gets id 0.
    let level = |objs: Vec<&TopologyObject>| -> Vec<(u64, Vec<u32>)> {
        objs.iter()
            .map(|o| {
                let cpus = o
                    .cpuset()
                    .map(|s| s.into_iter().collect())
                    .unwrap_or_default();
                (u64::from(o.logical_index()), cpus)
            })
            .collect()
    };
    let packages = level(objects(&topo, ObjectType::Package));
    let mut l3 = level(objects(&topo, ObjectType::L3Cache));
    if l3.is_empty() {
        // No L3 (some ARM parts, tiny synthetic machines): the package is the cache domain.
        l3 = packages.clone();
    }
    let cores = level(objects(&topo, ObjectType::Core));
    let owner = |of: &[(u64, Vec<u32>)], cpu: u32| {
        of.iter()
            .find(|(_, cpus)| cpus.contains(&cpu))
            .map_or(0, |(id, _)| *id)
    };
    let os: Vec<u32> = pus.iter().map(|p| p.os_index()).collect();

    let (this_system, note) = describe_source();
    let (kinds, kind_of) = if this_system {
        sysfs::kinds(std::path::Path::new("/sys/devices/system"), &os)
    } else {
        (Vec::new(), vec![0; os.len()])
    };
    let raw = os
        .iter()
        .zip(kind_of)
        .map(|(&cpu, kind)| RawCpu {
            os: cpu,
            package: owner(&packages, cpu),
            numa: numa_of(&pus, cpu),
            l3: owner(&l3, cpu),
            // A PU not under any Core object is its own core (ids above any logical index).
            core: cores
                .iter()
                .find(|(_, cpus)| cpus.contains(&cpu))
                .map_or((1 << 40) | u64::from(cpu), |(id, _)| *id),
            kind,
        })
        .collect();
    // A synthetic or XML machine is not the one we run on: our affinity mask says nothing about
    // it, so all its PUs are allowed.
    let allowed = if this_system {
        cpuset::allowed_cpus()
    } else {
        None
    };
    Ok(Topology::new(
        Source::Hwloc,
        note,
        raw,
        allowed.as_deref(),
        kinds,
    ))
}

/// The first NUMA node in a PU's nodeset. (hwloc 2 keeps NUMA nodes at a virtual depth that the
/// crate's `depth_for_type` mistakes for hwloc 1's bridge depth, so they are not listed by type.)
fn numa_of(pus: &[&TopologyObject], cpu: u32) -> u64 {
    pus.iter()
        .find(|p| p.os_index() == cpu)
        .and_then(|p| p.nodeset())
        .and_then(|set| set.into_iter().next())
        .map_or(0, u64::from)
}

fn objects(topo: &HwTopology, ty: ObjectType) -> Vec<&TopologyObject> {
    topo.objects_with_type(&ty).unwrap_or_default()
}

/// Whether hwloc loaded this machine, and a note naming the synthetic or XML source otherwise.
fn describe_source() -> (bool, Option<String>) {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let forced_this_system = var("HWLOC_THISSYSTEM").as_deref() == Some("1");
    let note = if let Some(desc) = var("HWLOC_SYNTHETIC") {
        Some(format!("synthetic: {desc}"))
    } else {
        var("HWLOC_XMLFILE").map(|path| format!("XML: {path}"))
    };
    match note {
        Some(note) if !forced_this_system => (false, Some(note)),
        _ => (true, None),
    }
}
