//! Linux NUMA memory policies through the raw syscalls (set_mempolicy, get_mempolicy, mbind; no
//! libnuma): a thread's policy for the pages it faults in from now on, and a region's policy for
//! its pages. Policies are placement only: they never change what memory holds. Everything
//! returns an error rather than panicking (containers may refuse the syscalls with EPERM, old or
//! non-Linux kernels with ENOSYS); the caller warns once and carries on.
//!
//! Test-only switch: `STAGES_NUMA_ERRNO=<n>` makes every policy call fail with errno n, so the
//! fallback path is testable on machines where the calls work.

use std::fmt;
use std::io;

/// Up to 1024 NUMA nodes (Linux's MAX_NUMNODES on the largest configs).
const WORDS: usize = 16;
const MAX_NODES: usize = WORDS * 64;

/// A set of NUMA node numbers (the kernel's nodemask).
#[derive(Clone, Copy, PartialEq, Eq, Default)]
pub struct NodeSet([u64; WORDS]);

impl NodeSet {
    /// The nodes in `nodes` (numbers of 1024 or more are left out).
    pub fn of(nodes: &[usize]) -> NodeSet {
        let mut set = NodeSet::default();
        for &n in nodes.iter().filter(|&&n| n < MAX_NODES) {
            set.0[n / 64] |= 1 << (n % 64);
        }
        set
    }

    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|&w| w == 0)
    }

    /// The nodes, ascending.
    pub fn nodes(&self) -> Vec<usize> {
        (0..MAX_NODES)
            .filter(|&n| self.0[n / 64] & (1 << (n % 64)) != 0)
            .collect()
    }
}

impl fmt::Debug for NodeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.nodes())
    }
}

/// A memory policy, as the kernel's MPOL_* modes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// The system default (the process's, or first touch on the faulting CPU's node).
    Default,
    /// Prefer these nodes (the first of them for MPOL_PREFERRED), fall back elsewhere.
    Preferred(NodeSet),
    /// Only these nodes.
    Bind(NodeSet),
    /// Pages spread round-robin over these nodes.
    Interleave(NodeSet),
    /// The node of the CPU that faults the page in.
    Local,
}

const MPOL_DEFAULT: i32 = 0;
const MPOL_PREFERRED: i32 = 1;
const MPOL_BIND: i32 = 2;
const MPOL_INTERLEAVE: i32 = 3;
const MPOL_LOCAL: i32 = 4;
/// mbind: also move pages already faulted in that break the policy (only this process's own).
const MPOL_MF_MOVE: u32 = 1 << 1;

impl Policy {
    /// The kernel's (mode, node mask, maxnode) for set_mempolicy and mbind: no mask for the
    /// modes that take none.
    #[cfg(target_os = "linux")]
    fn raw(&self) -> (i32, *const libc::c_ulong, libc::c_ulong) {
        let (mode, nodes) = match self {
            Policy::Default => (MPOL_DEFAULT, None),
            Policy::Preferred(n) => (MPOL_PREFERRED, Some(n)),
            Policy::Bind(n) => (MPOL_BIND, Some(n)),
            Policy::Interleave(n) => (MPOL_INTERLEAVE, Some(n)),
            Policy::Local => (MPOL_LOCAL, None),
        };
        match nodes {
            Some(n) => (mode, n.0.as_ptr(), MAX_NODES as libc::c_ulong + 1),
            None => (mode, std::ptr::null(), 0),
        }
    }

    /// As /proc/<pid>/numa_maps writes it: `default`, `prefer:0`, `bind:0-1`, `interleave:0,2`,
    /// `local`.
    pub fn describe(&self) -> String {
        let list = |n: &NodeSet| {
            let nodes: Vec<u32> = n.nodes().iter().map(|&x| x as u32).collect();
            crate::topology::cpuset::format_list(&nodes)
        };
        match self {
            Policy::Default => "default".into(),
            Policy::Preferred(n) => format!("prefer:{}", list(n)),
            Policy::Bind(n) => format!("bind:{}", list(n)),
            Policy::Interleave(n) => format!("interleave:{}", list(n)),
            Policy::Local => "local".into(),
        }
    }
}

fn simulated_failure() -> Option<io::Error> {
    let errno: i32 = std::env::var("STAGES_NUMA_ERRNO")
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(io::Error::from_raw_os_error(errno))
}

fn check(rc: libc::c_long) -> io::Result<()> {
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Sets the calling thread's policy for the pages it allocates from now on.
pub fn set_thread_policy(policy: &Policy) -> io::Result<()> {
    if let Some(e) = simulated_failure() {
        return Err(e);
    }
    #[cfg(target_os = "linux")]
    {
        let (mode, mask, maxnode) = policy.raw();
        // SAFETY: the mask (if any) is WORDS words long, which maxnode - 1 bits do not exceed;
        // the call only changes this thread's allocation policy.
        check(unsafe { libc::syscall(libc::SYS_set_mempolicy, mode, mask, maxnode) })
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = policy;
        Err(io::Error::from_raw_os_error(libc::ENOSYS))
    }
}

/// The calling thread's policy, as the kernel reports it.
pub fn thread_policy() -> io::Result<Policy> {
    if let Some(e) = simulated_failure() {
        return Err(e);
    }
    #[cfg(target_os = "linux")]
    {
        let mut mode: libc::c_int = 0;
        let mut set = NodeSet::default();
        // SAFETY: mode and the WORDS-word mask are writable and as large as maxnode says.
        check(unsafe {
            libc::syscall(
                libc::SYS_get_mempolicy,
                &mut mode as *mut libc::c_int,
                set.0.as_mut_ptr(),
                MAX_NODES as libc::c_ulong,
                std::ptr::null::<libc::c_void>(),
                0 as libc::c_ulong,
            )
        })?;
        Ok(match mode & 0xffff {
            MPOL_PREFERRED if set.is_empty() => Policy::Local,
            MPOL_PREFERRED => Policy::Preferred(set),
            MPOL_BIND => Policy::Bind(set),
            MPOL_INTERLEAVE => Policy::Interleave(set),
            MPOL_LOCAL => Policy::Local,
            _ => Policy::Default,
        })
    }
    #[cfg(not(target_os = "linux"))]
    Err(io::Error::from_raw_os_error(libc::ENOSYS))
}

const PAGE: usize = 4096;

/// Applies `policy` to the whole pages inside `[ptr, ptr + len)` (pages already faulted in are
/// moved where they break it). Returns the bytes covered: 0 when the range holds no whole page.
/// The range must lie inside memory the caller owns.
pub fn bind_region(ptr: *const u8, len: usize, policy: &Policy) -> io::Result<usize> {
    let start = (ptr as usize).next_multiple_of(PAGE);
    let end = (ptr as usize).saturating_add(len) / PAGE * PAGE;
    if end <= start {
        return Ok(0);
    }
    if let Some(e) = simulated_failure() {
        return Err(e);
    }
    #[cfg(target_os = "linux")]
    {
        let (mode, mask, maxnode) = policy.raw();
        // SAFETY: [start, end) lies inside the caller's allocation; mbind changes where its pages
        // live, never their contents. The mask is as long as maxnode - 1 bits.
        check(unsafe {
            libc::syscall(
                libc::SYS_mbind,
                start as *mut libc::c_void,
                (end - start) as libc::c_ulong,
                mode,
                mask,
                maxnode,
                MPOL_MF_MOVE,
            )
        })?;
        Ok(end - start)
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = policy;
        Err(io::Error::from_raw_os_error(libc::ENOSYS))
    }
}

/// The policy field of this process's /proc/self/numa_maps line for the mapping that starts at
/// or contains `addr` (`interleave:0`, `bind:0`, `default`, ...), if the file can be read.
/// numa_maps lists each mapping by its start address; a region bound with [`bind_region`] is a
/// mapping of its own (the kernel splits mappings at policy boundaries).
pub fn numa_maps_policy(addr: usize) -> Option<String> {
    let text = std::fs::read_to_string("/proc/self/numa_maps").ok()?;
    let maps = std::fs::read_to_string("/proc/self/maps").ok()?;
    // Find the mapping containing addr in /proc/self/maps, then its line in numa_maps.
    let start = maps.lines().find_map(|l| {
        let range = l.split_whitespace().next()?;
        let (a, b) = range.split_once('-')?;
        let (a, b) = (
            usize::from_str_radix(a, 16).ok()?,
            usize::from_str_radix(b, 16).ok()?,
        );
        (a <= addr && addr < b).then_some(a)
    })?;
    text.lines().find_map(|l| {
        let mut fields = l.split_whitespace();
        let a = usize::from_str_radix(fields.next()?, 16).ok()?;
        (a == start).then(|| fields.next().map(str::to_string))?
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_sets_and_descriptions() {
        let set = NodeSet::of(&[0, 2, 3, 70, 5000]);
        assert_eq!(set.nodes(), vec![0, 2, 3, 70]);
        assert_eq!(Policy::Interleave(set).describe(), "interleave:0,2-3,70");
        assert_eq!(Policy::Preferred(NodeSet::of(&[1])).describe(), "prefer:1");
        assert_eq!(Policy::Local.describe(), "local");
        assert!(NodeSet::default().is_empty());
    }

    /// On this machine (whatever its node count), a thread's policy set is the policy read
    /// back; where the kernel refuses the calls (a container's seccomp), the refusal is an error.
    #[test]
    fn thread_policy_round_trip() {
        std::thread::spawn(|| {
            let preferred = Policy::Preferred(NodeSet::of(&[0]));
            match set_thread_policy(&preferred) {
                Ok(()) => {
                    assert_eq!(thread_policy().unwrap(), preferred);
                    set_thread_policy(&Policy::Local).unwrap();
                    assert_eq!(thread_policy().unwrap(), Policy::Local);
                    set_thread_policy(&Policy::Default).unwrap();
                    assert_eq!(thread_policy().unwrap(), Policy::Default);
                }
                Err(e) => eprintln!("skipped: set_mempolicy refused here ({e})"),
            }
        })
        .join()
        .unwrap();
    }

    /// An mbind'ed region shows its policy in /proc/self/numa_maps.
    #[test]
    fn bound_region_shows_in_numa_maps() {
        let len = 4 << 20;
        // SAFETY: a fresh private anonymous mapping, unmapped below.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        assert_ne!(p, libc::MAP_FAILED);
        let interleave = Policy::Interleave(NodeSet::of(&[0]));
        match bind_region(p.cast(), len, &interleave) {
            Ok(bytes) => {
                assert_eq!(bytes, len);
                // SAFETY: p..p+len is the mapping made above.
                unsafe { std::ptr::write_bytes(p.cast::<u8>(), 1, len) };
                let seen = numa_maps_policy(p as usize);
                if let Some(seen) = seen {
                    assert_eq!(seen, "interleave:0");
                }
                bind_region(p.cast(), len / 2, &Policy::Bind(NodeSet::of(&[0]))).unwrap();
                if let Some(seen) = numa_maps_policy(p as usize) {
                    assert_eq!(seen, "bind:0");
                }
            }
            Err(e) => eprintln!("skipped: mbind refused here ({e})"),
        }
        // SAFETY: the mapping made above.
        unsafe { libc::munmap(p, len) };
    }
}
