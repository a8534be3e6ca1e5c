//! Which global allocator this binary was built with (Cargo features `jemalloc`, the default, and
//! `mimalloc`; neither = the system allocator, glibc malloc on Linux). The `talaria` binary installs it
//! wrapped in [`talaria_stages::alloc::Counting`], which counts only under `--trace-memory`.
//! `performance.memory.allocator` names the allocator a run expects; it cannot switch it, so
//! asking for one not compiled in is a usage error that names the feature to build with.

use serde::Serialize;

#[cfg(all(feature = "jemalloc", feature = "mimalloc"))]
compile_error!(
    "the Cargo features jemalloc (a default feature) and mimalloc both choose the global \
     allocator; enable one: cargo build --release --no-default-features --features hwloc,mimalloc"
);

/// `[performance.memory] allocator`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Allocator {
    System,
    Jemalloc,
    Mimalloc,
}

impl Allocator {
    pub const ALL: [Allocator; 3] = [Allocator::System, Allocator::Jemalloc, Allocator::Mimalloc];

    pub fn name(self) -> &'static str {
        match self {
            Allocator::System => "system",
            Allocator::Jemalloc => "jemalloc",
            Allocator::Mimalloc => "mimalloc",
        }
    }

    pub fn parse(text: &str) -> Option<Allocator> {
        Allocator::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(text.trim()))
    }

    /// How to build a binary with this allocator.
    pub fn build_hint(self) -> String {
        match self {
            Allocator::System => "build without the jemalloc and mimalloc Cargo features: \
                 cargo build --release --no-default-features --features hwloc"
                .to_string(),
            a => format!(
                "build with the Cargo feature {0}: cargo build --release --no-default-features \
                 --features hwloc,{0}",
                a.name()
            ),
        }
    }
}

/// The allocator compiled into this build.
#[cfg(feature = "jemalloc")]
pub const COMPILED: Allocator = Allocator::Jemalloc;
#[cfg(all(feature = "mimalloc", not(feature = "jemalloc")))]
pub const COMPILED: Allocator = Allocator::Mimalloc;
#[cfg(not(any(feature = "jemalloc", feature = "mimalloc")))]
pub const COMPILED: Allocator = Allocator::System;

/// The allocator the binary wraps and installs.
#[cfg(feature = "jemalloc")]
pub type Inner = tikv_jemallocator::Jemalloc;
#[cfg(feature = "jemalloc")]
pub const INNER: Inner = tikv_jemallocator::Jemalloc;
#[cfg(all(feature = "mimalloc", not(feature = "jemalloc")))]
pub type Inner = mimalloc::MiMalloc;
#[cfg(all(feature = "mimalloc", not(feature = "jemalloc")))]
pub const INNER: Inner = mimalloc::MiMalloc;
#[cfg(not(any(feature = "jemalloc", feature = "mimalloc")))]
pub type Inner = std::alloc::System;
#[cfg(not(any(feature = "jemalloc", feature = "mimalloc")))]
pub const INNER: Inner = std::alloc::System;

/// `talaria --version`: the package version and the allocator.
#[cfg(feature = "jemalloc")]
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (allocator: jemalloc)");
#[cfg(all(feature = "mimalloc", not(feature = "jemalloc")))]
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (allocator: mimalloc)");
#[cfg(not(any(feature = "jemalloc", feature = "mimalloc")))]
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (allocator: system)");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for a in Allocator::ALL {
            assert_eq!(Allocator::parse(a.name()), Some(a));
        }
        assert_eq!(Allocator::parse(" JEMALLOC "), Some(Allocator::Jemalloc));
        assert_eq!(Allocator::parse("tcmalloc"), None);
        assert!(VERSION.ends_with(&format!("(allocator: {})", COMPILED.name())));
    }
}
