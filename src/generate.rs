//! Deterministic generator of synthetic FASTA databases: families of protein or DNA sequences,
//! each member derived from its family's ancestor at a controlled identity (substitutions and
//! small indels), plus exact duplicates and exact substrings. Used by tests, benches and `perf/`.
//!
//! It streams: families are planned and shuffled in windows of about `window_records` records and
//! only the current window's ancestors are held in memory, so a multi-GB output needs tens of MB.
//! Output depends on the options and the seed only.
//!
//! **Stability.** Every draw comes from `rand::rngs::StdRng` (ChaCha12 in rand 0.8) seeded with
//! `SeedableRng::seed_from_u64` (rand_core 0.6), never `SmallRng`, and every distribution
//! (uniform, lognormal, geometric, residue composition) is computed here from raw `next_u64()`
//! words with basic IEEE arithmetic only (no libm `ln`/`exp`/`cos`, whose last bits vary by
//! platform), not from rand's distribution types. The bytes for a given seed and options therefore
//! stay the same on every platform for as long as the crate is on rand 0.8; `tests/generator.rs`
//! pins a checksum so a change is noticed, not silently absorbed.

use std::io::{self, BufWriter, Write};
use std::str::FromStr;

use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};

use crate::bio::alphabet::Alphabet;

/// Share of a variant's difference budget spent on insertions and deletions (the rest are
/// substitutions). Small, as in real homologs at the identities talaria clusters at.
const INDEL_SHARE: f64 = 0.15;
/// Longest single insertion or deletion event, in residues.
const MAX_INDEL: usize = 3;
/// An exact-substring member keeps between this fraction of its ancestor and [`SUBSTRING_MAX`].
const SUBSTRING_MIN: f64 = 0.5;
const SUBSTRING_MAX: f64 = 0.95;
/// Stream number of an ancestor's residues (records use their member number).
const ANCESTOR_STREAM: u64 = u64::MAX;

/// How record lengths are drawn: lognormal around `median`, plus a thin log-uniform tail from
/// `3 × median` to `max` (so the longest-record paths are exercised), clamped to `[min, max]`.
#[derive(Clone, Debug, PartialEq)]
pub struct LengthModel {
    pub median: f64,
    /// Standard deviation of ln(length).
    pub sigma: f64,
    pub min: usize,
    pub max: usize,
    /// Probability that an ancestor's length comes from the long tail instead.
    pub tail_fraction: f64,
}

impl LengthModel {
    /// Protein: median ~300 like UniProtKB, a tail up to titin-like 30,000 residues.
    pub const fn protein() -> Self {
        LengthModel {
            median: 300.0,
            sigma: 0.6,
            min: 20,
            max: 30_000,
            tail_fraction: 0.002,
        }
    }
    /// DNA: median 1,500 (16S-sized), tail up to 100,000.
    pub const fn nucleotide() -> Self {
        LengthModel {
            median: 1500.0,
            sigma: 0.5,
            min: 50,
            max: 100_000,
            tail_fraction: 0.002,
        }
    }
    pub const fn for_alphabet(alphabet: Alphabet) -> Self {
        match alphabet {
            Alphabet::Protein => Self::protein(),
            Alphabet::Nucleotide => Self::nucleotide(),
        }
    }
}

/// Identity range `MIN-MAX` (or a single value) that variants are drawn from, uniformly.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct IdentityRange {
    pub min: f64,
    pub max: f64,
}

impl FromStr for IdentityRange {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let parse = |v: &str| {
            v.trim()
                .parse::<f64>()
                .map_err(|_| format!("identity {v:?} is not a number"))
        };
        let (min, max) = match s.split_once('-') {
            Some((a, b)) => (parse(a)?, parse(b)?),
            None => (parse(s)?, parse(s)?),
        };
        if !(0.0 < min && min <= max && max <= 1.0) {
            return Err(format!(
                "identity range {s:?} must satisfy 0 < MIN <= MAX <= 1"
            ));
        }
        Ok(IdentityRange { min, max })
    }
}

/// Everything that shapes the output. Same options (seed included), same bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct GenOptions {
    pub alphabet: Alphabet,
    /// Total records written, exactly.
    pub records: u64,
    /// Mean members per family (ancestor included); sizes are geometric with this mean.
    pub mean_family_size: f64,
    pub max_family_size: u32,
    pub identity: IdentityRange,
    /// Share of non-ancestor members that are exact copies of the ancestor.
    pub exact_duplicate_fraction: f64,
    /// Share of non-ancestor members that are exact substrings of the ancestor.
    pub substring_fraction: f64,
    pub length: LengthModel,
    /// Residues per line; 0 writes each sequence on one line.
    pub line_width: usize,
    /// Share of records with one lowercase stretch (soft-masking).
    pub lowercase_fraction: f64,
    pub crlf: bool,
    pub seed: u64,
    /// Records planned and shuffled together; members of a family are interleaved within it.
    pub window_records: usize,
}

impl Default for GenOptions {
    fn default() -> Self {
        GenOptions::for_alphabet(Alphabet::Protein)
    }
}

impl GenOptions {
    pub fn for_alphabet(alphabet: Alphabet) -> Self {
        GenOptions {
            alphabet,
            records: 10_000,
            mean_family_size: 5.0,
            max_family_size: 1000,
            identity: IdentityRange { min: 0.5, max: 1.0 },
            exact_duplicate_fraction: 0.05,
            substring_fraction: 0.05,
            length: LengthModel::for_alphabet(alphabet),
            line_width: 60,
            lowercase_fraction: 0.0,
            crlf: false,
            seed: 1,
            window_records: 1 << 16,
        }
    }

    /// Checks the options; the error names the offending option.
    pub fn validate(&self) -> io::Result<()> {
        let bad = |msg: String| Err(io::Error::new(io::ErrorKind::InvalidInput, msg));
        let fraction = |v: f64| (0.0..=1.0).contains(&v);
        let IdentityRange { min, max } = self.identity;
        let LengthModel {
            median,
            sigma,
            min: lmin,
            max: lmax,
            tail_fraction,
        } = self.length;
        if !(self.mean_family_size >= 1.0 && self.mean_family_size.is_finite()) {
            return bad(format!(
                "family size mean {} must be >= 1",
                self.mean_family_size
            ));
        }
        if self.max_family_size == 0 {
            return bad("max family size must be >= 1".into());
        }
        if !(0.0 < min && min <= max && max <= 1.0) {
            return bad(format!(
                "identity range {min}-{max} must satisfy 0 < MIN <= MAX <= 1"
            ));
        }
        let (dup, sub) = (self.exact_duplicate_fraction, self.substring_fraction);
        if !(fraction(dup) && fraction(sub) && dup + sub <= 1.0) {
            return bad(format!(
                "duplicate ({dup}) and substring ({sub}) fractions must sum to <= 1"
            ));
        }
        if !fraction(self.lowercase_fraction) || !fraction(tail_fraction) {
            return bad("lowercase and tail fractions must be within 0..=1".into());
        }
        if !(lmin >= 1 && lmin <= lmax && median > 0.0 && sigma >= 0.0 && sigma.is_finite()) {
            return bad(format!(
                "length model needs 1 <= min ({lmin}) <= max ({lmax}), median > 0"
            ));
        }
        if self.window_records == 0 {
            return bad("window must hold at least one record".into());
        }
        Ok(())
    }
}

/// What a record is, relative to its family's ancestor (written as `kind=` in the header).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemberKind {
    Ancestor,
    Variant,
    Duplicate,
    Substring,
}

impl MemberKind {
    pub fn name(self) -> &'static str {
        match self {
            MemberKind::Ancestor => "ancestor",
            MemberKind::Variant => "variant",
            MemberKind::Duplicate => "duplicate",
            MemberKind::Substring => "substring",
        }
    }
}

/// Counts of what was written.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GenSummary {
    pub records: u64,
    pub families: u64,
    pub ancestors: u64,
    pub variants: u64,
    pub duplicates: u64,
    pub substrings: u64,
    /// Records with a lowercase stretch.
    pub lowercased: u64,
    pub residues: u64,
    pub bytes: u64,
}

/// Writes `opts.records` FASTA records to `out` (buffered internally) and flushes it.
///
/// Headers look like `>gen|F000123|M0004 family=123 identity=0.93 len=311 kind=variant`, where
/// `identity` is identical aligned residues / shorter length along the edit script that made the
/// member, rounded down to two decimals (an optimal alignment finds at least that much).
pub fn generate(opts: &GenOptions, out: &mut dyn Write) -> io::Result<GenSummary> {
    opts.validate()?;
    let mut writer = RecordWriter::new(opts, out);
    let residues = Residues::new(opts.alphabet);
    let mut plan_rng = StdRng::seed_from_u64(opts.seed);
    let mut summary = GenSummary::default();
    let mut member = Vec::new();
    let mut from_ancestor = Vec::new();
    while summary.records < opts.records {
        // Plan one window: whole families (only the very last one is cut to the record total).
        let mut families: Vec<Family> = Vec::new();
        let mut slots: Vec<(u32, u32)> = Vec::new();
        let remaining = opts.records - summary.records;
        let target = remaining.min(opts.window_records as u64);
        while (slots.len() as u64) < target {
            let left = remaining - slots.len() as u64;
            let size = family_size(&mut plan_rng, opts).min(left) as u32;
            let id = summary.families;
            summary.families += 1;
            let mut rng = record_rng(opts.seed, id, ANCESTOR_STREAM);
            let len = sample_length(&mut rng, &opts.length);
            let mut ancestor = Vec::with_capacity(len);
            residues.fill(&mut rng, len, &mut ancestor);
            if opts.alphabet == Alphabet::Protein {
                ancestor[0] = b'M';
            }
            let index = families.len() as u32;
            slots.extend((0..size).map(|m| (index, m)));
            families.push(Family { id, ancestor });
        }
        shuffle(&mut plan_rng, &mut slots);

        for &(index, m) in &slots {
            let family = &families[index as usize];
            let mut rng = record_rng(opts.seed, family.id, u64::from(m));
            let (kind, identity) = if m == 0 {
                member.clear();
                member.extend_from_slice(&family.ancestor);
                (MemberKind::Ancestor, 1.0)
            } else {
                derive_member(
                    &family.ancestor,
                    opts,
                    &residues,
                    &mut rng,
                    &mut member,
                    &mut from_ancestor,
                )
            };
            let lowercased = uniform(&mut rng) < opts.lowercase_fraction;
            if lowercased {
                let a = below(&mut rng, member.len() as u64) as usize;
                let b = a + 1 + below(&mut rng, (member.len() - a) as u64) as usize;
                member[a..b].make_ascii_lowercase();
            }
            writer.write_record(family.id, m, identity, kind, &member)?;
            summary.records += 1;
            summary.residues += member.len() as u64;
            summary.lowercased += u64::from(lowercased);
            match kind {
                MemberKind::Ancestor => summary.ancestors += 1,
                MemberKind::Variant => summary.variants += 1,
                MemberKind::Duplicate => summary.duplicates += 1,
                MemberKind::Substring => summary.substrings += 1,
            }
        }
    }
    summary.bytes = writer.finish()?;
    Ok(summary)
}

struct Family {
    id: u64,
    ancestor: Vec<u8>,
}

/// Builds a non-ancestor member into `member`; returns its kind and identity to the ancestor.
fn derive_member(
    ancestor: &[u8],
    opts: &GenOptions,
    residues: &Residues,
    rng: &mut StdRng,
    member: &mut Vec<u8>,
    from_ancestor: &mut Vec<bool>,
) -> (MemberKind, f64) {
    member.clear();
    let u = uniform(rng);
    if u < opts.exact_duplicate_fraction {
        member.extend_from_slice(ancestor);
        return (MemberKind::Duplicate, 1.0);
    }
    if u < opts.exact_duplicate_fraction + opts.substring_fraction {
        let l = ancestor.len();
        let share = SUBSTRING_MIN + (SUBSTRING_MAX - SUBSTRING_MIN) * uniform(rng);
        let len = ((l as f64 * share) as usize).clamp(1, l);
        let start = below(rng, (l - len + 1) as u64) as usize;
        member.extend_from_slice(&ancestor[start..start + len]);
        return (MemberKind::Substring, 1.0);
    }
    let IdentityRange { min, max } = opts.identity;
    let target = min + (max - min) * uniform(rng);
    let identity = derive_variant(ancestor, target, residues, rng, member, from_ancestor);
    (MemberKind::Variant, identity)
}

/// Mutates `ancestor` into `member` so that, along the edit script, identical aligned residues /
/// shorter length is the smallest value >= `target` the lengths allow. Returns that identity.
fn derive_variant(
    ancestor: &[u8],
    target: f64,
    residues: &Residues,
    rng: &mut StdRng,
    member: &mut Vec<u8>,
    from_ancestor: &mut Vec<bool>,
) -> f64 {
    let l = ancestor.len();
    let budget = ((1.0 - target) * l as f64).floor() as usize;
    // Indel events of 1..=MAX_INDEL residues, spending about INDEL_SHARE of the budget.
    let mut indel_left = (budget as f64 * INDEL_SHARE).round() as usize;
    let mut events = Vec::new();
    while indel_left > 0 {
        let len = 1 + below(rng, indel_left.min(MAX_INDEL) as u64) as usize;
        events.push(len);
        indel_left -= len;
    }
    // Walk the ancestor, starting events at positions picked by selection sampling.
    member.clear();
    from_ancestor.clear();
    let mut next_event = 0;
    let mut i = 0;
    while i < l {
        let need = (events.len() - next_event) as u64;
        if need > 0 && below(rng, (l - i) as u64) < need {
            let len = events[next_event];
            next_event += 1;
            if rng.next_u64() & 1 == 0 {
                for _ in 0..len {
                    member.push(residues.draw(rng));
                    from_ancestor.push(false);
                }
            } else {
                i += len;
                continue;
            }
        }
        member.push(ancestor[i]);
        from_ancestor.push(true);
        i += 1;
    }
    if member.is_empty() {
        member.push(ancestor[0]);
        from_ancestor.push(true);
    }
    // Substitute just enough kept residues to reach the target.
    let kept = from_ancestor.iter().filter(|&&k| k).count();
    let shorter = l.min(member.len());
    let matches = ((target * shorter as f64).ceil() as usize).min(kept);
    let mut subs_left = (kept - matches) as u64;
    let mut kept_left = kept as u64;
    for (residue, &is_kept) in member.iter_mut().zip(from_ancestor.iter()) {
        if !is_kept {
            continue;
        }
        if below(rng, kept_left) < subs_left {
            *residue = residues.draw_other(rng, *residue);
            subs_left -= 1;
        }
        kept_left -= 1;
    }
    matches as f64 / shorter as f64
}

/// Residue composition: a 1024-entry table so one 10-bit draw picks a residue.
struct Residues {
    table: [u8; 1024],
}

impl Residues {
    fn new(alphabet: Alphabet) -> Self {
        // Amino-acid frequencies in UniProtKB/Swiss-Prot, in hundredths of a percent.
        const PROTEIN: [(u8, u32); 20] = [
            (b'A', 825),
            (b'R', 553),
            (b'N', 406),
            (b'D', 546),
            (b'C', 138),
            (b'Q', 393),
            (b'E', 672),
            (b'G', 707),
            (b'H', 227),
            (b'I', 591),
            (b'L', 965),
            (b'K', 580),
            (b'M', 241),
            (b'F', 386),
            (b'P', 474),
            (b'S', 664),
            (b'T', 535),
            (b'W', 110),
            (b'Y', 292),
            (b'V', 686),
        ];
        const DNA: [(u8, u32); 4] = [(b'A', 1), (b'C', 1), (b'G', 1), (b'T', 1)];
        let weights: &[(u8, u32)] = match alphabet {
            Alphabet::Protein => &PROTEIN,
            Alphabet::Nucleotide => &DNA,
        };
        let total: u32 = weights.iter().map(|&(_, w)| w).sum();
        let mut table = [0u8; 1024];
        let mut cumulative = 0;
        for &(residue, weight) in weights {
            let start = (cumulative * 1024 / total) as usize;
            cumulative += weight;
            let end = (cumulative * 1024 / total) as usize;
            table[start..end].fill(residue);
        }
        Residues { table }
    }

    fn draw(&self, rng: &mut StdRng) -> u8 {
        self.table[(rng.next_u64() >> 54) as usize]
    }

    fn draw_other(&self, rng: &mut StdRng, residue: u8) -> u8 {
        loop {
            let r = self.draw(rng);
            if r != residue.to_ascii_uppercase() {
                return r;
            }
        }
    }

    /// Appends `len` residues, six 10-bit draws per 64-bit word.
    fn fill(&self, rng: &mut StdRng, len: usize, out: &mut Vec<u8>) {
        while out.len() < len {
            let mut word = rng.next_u64();
            for _ in 0..6.min(len - out.len()) {
                out.push(self.table[(word & 1023) as usize]);
                word >>= 10;
            }
        }
    }
}

/// The generator of one record (or one ancestor): its own ChaCha stream keyed by seed, family and
/// stream number, so a record does not depend on how many draws came before it.
fn record_rng(seed: u64, family: u64, stream: u64) -> StdRng {
    StdRng::seed_from_u64(splitmix(seed ^ splitmix(family ^ splitmix(stream))))
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Uniform in [0, 1) from the top 53 bits.
fn uniform(rng: &mut StdRng) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// Uniform integer in [0, n) (multiply-shift; bias below 2^-40 for the ranges used here).
fn below(rng: &mut StdRng, n: u64) -> u64 {
    ((u128::from(rng.next_u64()) * u128::from(n)) >> 64) as u64
}

/// Standard normal, approximately: Irwin–Hall (sum of 12 uniforms − 6). Basic arithmetic only,
/// so the result is the same on every platform (libm's `ln`/`cos` may differ in the last bit).
fn normal(rng: &mut StdRng) -> f64 {
    (0..12).map(|_| uniform(rng)).sum::<f64>() - 6.0
}

fn sample_length(rng: &mut StdRng, model: &LengthModel) -> usize {
    let len = if uniform(rng) < model.tail_fraction {
        let lo = (model.median * 3.0).min(model.max as f64);
        lo * portable_exp(uniform(rng) * portable_ln(model.max as f64 / lo))
    } else {
        model.median * portable_exp(model.sigma * normal(rng))
    };
    (len.round() as usize).clamp(model.min, model.max)
}

/// Geometric on {1, 2, ...} with the configured mean (Bernoulli trials, no `ln`), capped at the
/// configured maximum.
fn family_size(rng: &mut StdRng, opts: &GenOptions) -> u64 {
    let grow = 1.0 - 1.0 / opts.mean_family_size;
    let mut size = 1;
    while size < u64::from(opts.max_family_size) && uniform(rng) < grow {
        size += 1;
    }
    size
}

/// e^x from basic arithmetic (range reduction by ln 2, Taylor series): bit-identical everywhere,
/// accurate to a few ulps, which is all a length draw needs.
fn portable_exp(x: f64) -> f64 {
    let k = (x / std::f64::consts::LN_2).round();
    let r = x - k * std::f64::consts::LN_2;
    let mut term = 1.0;
    let mut sum = 1.0;
    for n in 1..=20 {
        term *= r / f64::from(n);
        sum += term;
    }
    let mut scale = 1.0;
    for _ in 0..(k.abs() as u32) {
        scale *= 2.0;
    }
    if k < 0.0 {
        sum / scale
    } else {
        sum * scale
    }
}

/// ln x for x > 0 from basic arithmetic: x = 2^k·m with m in [1, 2), ln m = 2·atanh((m−1)/(m+1)).
fn portable_ln(mut x: f64) -> f64 {
    let mut k = 0.0;
    while x >= 2.0 {
        x /= 2.0;
        k += 1.0;
    }
    while x < 1.0 {
        x *= 2.0;
        k -= 1.0;
    }
    let y = (x - 1.0) / (x + 1.0);
    let (y2, mut power, mut sum) = (y * y, y, 0.0);
    for n in 0..30 {
        sum += power / f64::from(2 * n + 1);
        power *= y2;
    }
    k * std::f64::consts::LN_2 + 2.0 * sum
}

fn shuffle<T>(rng: &mut StdRng, items: &mut [T]) {
    for i in (1..items.len()).rev() {
        items.swap(i, below(rng, i as u64 + 1) as usize);
    }
}

/// FASTA output with the configured line width and line ending; counts bytes.
struct RecordWriter<'a> {
    out: BufWriter<&'a mut dyn Write>,
    line_width: usize,
    eol: &'static [u8],
    bytes: u64,
    header: Vec<u8>,
}

impl<'a> RecordWriter<'a> {
    fn new(opts: &GenOptions, out: &'a mut dyn Write) -> Self {
        RecordWriter {
            out: BufWriter::with_capacity(1 << 20, out),
            line_width: opts.line_width,
            eol: if opts.crlf { b"\r\n" } else { b"\n" },
            bytes: 0,
            header: Vec::with_capacity(128),
        }
    }

    fn write_record(
        &mut self,
        family: u64,
        member: u32,
        identity: f64,
        kind: MemberKind,
        sequence: &[u8],
    ) -> io::Result<()> {
        self.header.clear();
        let shown = (identity * 100.0 + 1e-9).floor() / 100.0;
        write!(
            self.header,
            ">gen|F{family:06}|M{member:04} family={family} identity={shown:.2} len={} kind={}",
            sequence.len(),
            kind.name()
        )?;
        self.header.extend_from_slice(self.eol);
        self.out.write_all(&self.header)?;
        self.bytes += self.header.len() as u64;
        let width = if self.line_width == 0 {
            sequence.len().max(1)
        } else {
            self.line_width
        };
        for line in sequence.chunks(width) {
            self.out.write_all(line)?;
            self.out.write_all(self.eol)?;
            self.bytes += (line.len() + self.eol.len()) as u64;
        }
        Ok(())
    }

    fn finish(mut self) -> io::Result<u64> {
        self.out.flush()?;
        Ok(self.bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn portable_math_matches_libm() {
        for i in -400..=400 {
            let x = f64::from(i) / 37.0;
            assert!((portable_exp(x) / x.exp() - 1.0).abs() < 1e-13, "exp({x})");
            let y = portable_exp(x) * 3.0;
            assert!((portable_ln(y) - y.ln()).abs() < 1e-12, "ln({y})");
        }
    }

    #[test]
    fn family_sizes_have_the_configured_mean() {
        let opts = GenOptions {
            mean_family_size: 6.0,
            ..GenOptions::default()
        };
        let mut rng = StdRng::seed_from_u64(3);
        let mean = (0..20_000)
            .map(|_| family_size(&mut rng, &opts))
            .sum::<u64>() as f64
            / 20_000.0;
        assert!((mean - 6.0).abs() < 0.2, "mean family size {mean}");
    }
}
