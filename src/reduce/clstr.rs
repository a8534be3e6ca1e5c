//! CD-HIT's `.clstr` cluster listing, for the many scripts that parse it:
//!
//! ```text
//! >Cluster 0
//! 0<TAB>254aa, >sp|P12345|X... *
//! 1<TAB>250aa, >sp|Q99999|Y... at 95.28%
//! ```
//! Clusters are numbered by representative (input order); the representative comes first, then
//! its members in input order. Clusters can only be listed once every record is decided, so the
//! entries are held in memory (about 40 bytes plus the id per record) and written at the end.

use std::io::Write;

struct Entry {
    record_len: u64,
    id: Box<[u8]>,
    /// Identity in hundredths of a percent; `None` for the representative.
    identity: Option<u32>,
}

/// An identity (0 to 1) as the `.clstr` prints it: hundredths of a percent, floored. Kept
/// this way in the longest-first table (2 bytes where the identity took 8).
pub fn hundredths(identity: f64) -> u16 {
    (identity * 10_000.0).floor().clamp(0.0, 10_000.0) as u16
}

#[derive(Default)]
pub struct ClstrCollector {
    clusters: Vec<Vec<Entry>>,
    bytes: usize,
}

impl ClstrCollector {
    pub fn new_cluster(&mut self, id: &[u8], len: usize) {
        self.bytes += id.len() + 64;
        self.clusters.push(vec![Entry {
            record_len: len as u64,
            id: id.into(),
            identity: None,
        }]);
    }

    /// A member at `hundredths` of a percent identity ([`hundredths`]).
    pub fn add_member(&mut self, rep: u32, id: &[u8], len: usize, hundredths: u16) {
        self.bytes += id.len() + 40;
        let hundredths = hundredths as u32;
        if let Some(cluster) = self.clusters.get_mut(rep as usize) {
            cluster.push(Entry {
                record_len: len as u64,
                id: id.into(),
                identity: Some(hundredths),
            });
        }
    }

    /// Bytes held (reported in the summary).
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// `unit` is "aa" or "nt".
    pub fn write_to(&self, unit: &str, out: &mut dyn Write) -> std::io::Result<()> {
        for (number, cluster) in self.clusters.iter().enumerate() {
            writeln!(out, ">Cluster {number}")?;
            for (i, entry) in cluster.iter().enumerate() {
                write!(out, "{i}\t{}{unit}, >", entry.record_len)?;
                out.write_all(&entry.id)?;
                match entry.identity {
                    None => out.write_all(b"... *\n")?,
                    Some(h) => writeln!(out, "... at {}.{:02}%", h / 100, h % 100)?,
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_cd_hit_layout() {
        let mut c = ClstrCollector::default();
        c.new_cluster(b"repA", 10);
        c.new_cluster(b"repB", 8);
        c.add_member(0, b"m1", 9, hundredths(0.95284));
        c.add_member(1, b"m2", 8, hundredths(1.0));
        let mut out = Vec::new();
        c.write_to("aa", &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            ">Cluster 0\n0\t10aa, >repA... *\n1\t9aa, >m1... at 95.28%\n>Cluster 1\n0\t8aa, >repB... *\n1\t8aa, >m2... at 100.00%\n"
        );
    }
}
