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
/// hwloc silently falls back to this machine when the variable's description or file is bad, so
/// each is checked here the way hwloc would take it.
fn describe_source() -> (bool, Option<String>) {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let forced_this_system = var("HWLOC_THISSYSTEM").as_deref() == Some("1");
    let (source, valid) = if let Some(desc) = var("HWLOC_SYNTHETIC") {
        let valid = raw::accepts(|t| raw::set_synthetic(t, &desc));
        (format!("synthetic: {desc}"), valid)
    } else if let Some(path) = var("HWLOC_XMLFILE") {
        let valid = raw::accepts(|t| raw::set_xml(t, &path));
        (format!("XML: {path}"), valid)
    } else {
        return (true, None);
    };
    match (valid, forced_this_system) {
        (false, _) => (
            true,
            Some(format!(
                "{source} is not usable, so hwloc read this machine"
            )),
        ),
        (true, true) => (
            true,
            Some(format!(
                "{source}, taken as this machine (HWLOC_THISSYSTEM=1)"
            )),
        ),
        (true, false) => (false, Some(source)),
    }
}

/// The few libhwloc calls the `hwloc2` crate does not expose, declared here (same library).
mod raw {
    use std::ffi::{c_char, c_int, c_void, CString};

    extern "C" {
        fn hwloc_topology_init(topology: *mut *mut c_void) -> c_int;
        fn hwloc_topology_set_synthetic(topology: *mut c_void, description: *const c_char)
            -> c_int;
        fn hwloc_topology_set_xml(topology: *mut c_void, path: *const c_char) -> c_int;
        fn hwloc_topology_load(topology: *mut c_void) -> c_int;
        fn hwloc_topology_destroy(topology: *mut c_void);
    }

    pub(super) fn set_synthetic(topology: *mut c_void, description: &str) -> bool {
        let Ok(text) = CString::new(description) else {
            return false;
        };
        // SAFETY: `topology` comes from hwloc_topology_init; `text` outlives the call.
        unsafe { hwloc_topology_set_synthetic(topology, text.as_ptr()) == 0 }
    }

    pub(super) fn set_xml(topology: *mut c_void, path: &str) -> bool {
        let Ok(text) = CString::new(path) else {
            return false;
        };
        // SAFETY: as above.
        unsafe { hwloc_topology_set_xml(topology, text.as_ptr()) == 0 }
    }

    /// Whether a fresh topology configured by `set` loads.
    pub(super) fn accepts(set: impl FnOnce(*mut c_void) -> bool) -> bool {
        let mut topology: *mut c_void = std::ptr::null_mut();
        // SAFETY: init/destroy pair on a pointer hwloc allocates; load only after init succeeded.
        unsafe {
            if hwloc_topology_init(&mut topology) != 0 {
                return false;
            }
            let ok = set(topology) && hwloc_topology_load(topology) == 0;
            hwloc_topology_destroy(topology);
            ok
        }
    }
}
