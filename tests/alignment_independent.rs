//! An independent check of talaria's aligner: a plain full-matrix overlap alignment with affine
//! gaps, written here in the simplest style (its own BLOSUM62 text, its own M/X/Y recurrences,
//! i64 scores, no band, no traceback) and never calling talaria's kernel. On random related
//! pairs, talaria's unbanded `align()` must reach the same optimal score, with a path whose own
//! score and identity agree with what it reports.

use proptest::prelude::*;
use talaria::bio::alignment::{AlignOp, Aligner, Alignment};
use talaria::bio::alphabet::Alphabet;

const BLOSUM62_TEXT: &str = "
   A  R  N  D  C  Q  E  G  H  I  L  K  M  F  P  S  T  W  Y  V  B  Z  X  *
A  4 -1 -2 -2  0 -1 -1  0 -2 -1 -1 -1 -1 -2 -1  1  0 -3 -2  0 -2 -1  0 -4
R -1  5  0 -2 -3  1  0 -2  0 -3 -2  2 -1 -3 -2 -1 -1 -3 -2 -3 -1  0 -1 -4
N -2  0  6  1 -3  0  0  0  1 -3 -3  0 -2 -3 -2  1  0 -4 -2 -3  3  0 -1 -4
D -2 -2  1  6 -3  0  2 -1 -1 -3 -4 -1 -3 -3 -1  0 -1 -4 -3 -3  4  1 -1 -4
C  0 -3 -3 -3  9 -3 -4 -3 -3 -1 -1 -3 -1 -2 -3 -1 -1 -2 -2 -1 -3 -3 -2 -4
Q -1  1  0  0 -3  5  2 -2  0 -3 -2  1  0 -3 -1  0 -1 -2 -1 -2  0  3 -1 -4
E -1  0  0  2 -4  2  5 -2  0 -3 -3  1 -2 -3 -1  0 -1 -3 -2 -2  1  4 -1 -4
G  0 -2  0 -1 -3 -2 -2  6 -2 -4 -4 -2 -3 -3 -2  0 -2 -2 -3 -3 -1 -2 -1 -4
H -2  0  1 -1 -3  0  0 -2  8 -3 -3 -1 -2 -1 -2 -1 -2 -2  2 -3  0  0 -1 -4
I -1 -3 -3 -3 -1 -3 -3 -4 -3  4  2 -3  1  0 -3 -2 -1 -3 -1  3 -3 -3 -1 -4
L -1 -2 -3 -4 -1 -2 -3 -4 -3  2  4 -2  2  0 -3 -2 -1 -2 -1  1 -4 -3 -1 -4
K -1  2  0 -1 -3  1  1 -2 -1 -3 -2  5 -1 -3 -1  0 -1 -3 -2 -2  0  1 -1 -4
M -1 -1 -2 -3 -1  0 -2 -3 -2  1  2 -1  5  0 -2 -1 -1 -1 -1  1 -3 -1 -1 -4
F -2 -3 -3 -3 -2 -3 -3 -3 -1  0  0 -3  0  6 -4 -2 -2  1  3 -1 -3 -3 -1 -4
P -1 -2 -2 -1 -3 -1 -1 -2 -2 -3 -3 -1 -2 -4  7 -1 -1 -4 -3 -2 -2 -1 -2 -4
S  1 -1  1  0 -1  0  0  0 -1 -2 -2  0 -1 -2 -1  4  1 -3 -2 -2  0  0  0 -4
T  0 -1  0 -1 -1 -1 -1 -2 -2 -1 -1 -1 -1 -2 -1  1  5 -2 -2  0 -1 -1  0 -4
W -3 -3 -4 -4 -2 -2 -3 -2 -2 -3 -2 -3 -1  1 -4 -3 -2 11  2 -3 -4 -3 -2 -4
Y -2 -2 -2 -3 -2 -1 -2 -3  2 -1 -1 -2 -1  3 -3 -2 -2  2  7 -1 -3 -2 -1 -4
V  0 -3 -3 -3 -1 -2 -2 -3 -3  3  1 -2  1 -1 -2 -2  0 -3 -1  4 -3 -2 -1 -4
B -2 -1  3  4 -3  0  1 -1  0 -3 -4  0 -3 -3 -2  0 -1 -4 -3 -3  4  1 -1 -4
Z -1  0  0  1 -3  3  4 -2  0 -3 -3  1 -1 -3 -1  0 -1 -3 -2 -2  1  4 -1 -4
X  0 -1 -1 -1 -2 -1 -1 -1 -1 -1 -1 -1 -1 -1 -2  0  0 -2 -1 -1 -1 -1 -1 -4
* -4 -4 -4 -4 -4 -4 -4 -4 -4 -4 -4 -4 -4 -4 -4 -4 -4 -4 -4 -4 -4 -4 -4  1
";

/// The scoring the brief specifies, written out independently of talaria's tables.
struct Scheme {
    protein: bool,
    open: i64,
    extend: i64,
}

const PROTEIN: Scheme = Scheme {
    protein: true,
    open: 11,
    extend: 1,
};
const NUCLEOTIDE: Scheme = Scheme {
    protein: false,
    open: 5,
    extend: 2,
};

/// BLOSUM62 parsed from the text above: (letters in column order, scores by row).
fn blosum62_parsed() -> &'static (Vec<u8>, Vec<Vec<i64>>) {
    static PARSED: std::sync::OnceLock<(Vec<u8>, Vec<Vec<i64>>)> = std::sync::OnceLock::new();
    PARSED.get_or_init(|| {
        let mut lines = BLOSUM62_TEXT.lines().filter(|l| !l.trim().is_empty());
        let header: Vec<u8> = lines
            .next()
            .unwrap()
            .split_whitespace()
            .map(|s| s.as_bytes()[0])
            .collect();
        let rows = lines
            .map(|l| {
                l.split_whitespace()
                    .skip(1)
                    .map(|v| v.parse().unwrap())
                    .collect()
            })
            .collect();
        (header, rows)
    })
}

fn blosum62(a: u8, b: u8) -> i64 {
    let (header, rows) = blosum62_parsed();
    let index = |x: u8| {
        let x = x.to_ascii_uppercase();
        header.iter().position(|&h| h == x).unwrap_or(22) // the X row for anything unknown
    };
    rows[index(a)][index(b)]
}

impl Scheme {
    fn substitution(&self, a: u8, b: u8) -> i64 {
        if self.protein {
            return blosum62(a, b);
        }
        let canonical = |x: u8| match x.to_ascii_uppercase() {
            b'U' => Some(b'T'),
            c @ (b'A' | b'C' | b'G' | b'T') => Some(c),
            _ => None,
        };
        match (canonical(a), canonical(b)) {
            (Some(x), Some(y)) if x == y => 2,
            (Some(_), Some(_)) => -3,
            _ => -1,
        }
    }

    fn gap(&self, len: i64) -> i64 {
        self.open + self.extend * len
    }
}

/// Optimal overlap alignment score: M = ends in a residue pair, X = ends in a query residue
/// against a gap, Y = ends in a target residue against a gap. Any cell of the first row or
/// column is a free start; the answer is the best cell of the last row or column.
fn reference_score(scheme: &Scheme, q: &[u8], t: &[u8]) -> i64 {
    let (n, m) = (q.len(), t.len());
    let minus_infinity = i64::MIN / 4;
    let mut mm = vec![vec![minus_infinity; m + 1]; n + 1];
    let mut xx = vec![vec![minus_infinity; m + 1]; n + 1];
    let mut yy = vec![vec![minus_infinity; m + 1]; n + 1];
    for i in 0..=n {
        for j in 0..=m {
            if i == 0 || j == 0 {
                mm[i][j] = 0;
                continue;
            }
            let best_before_pair = mm[i - 1][j - 1].max(xx[i - 1][j - 1]).max(yy[i - 1][j - 1]);
            mm[i][j] = best_before_pair + scheme.substitution(q[i - 1], t[j - 1]);
            let open = scheme.gap(1);
            xx[i][j] = (mm[i - 1][j] - open)
                .max(yy[i - 1][j] - open)
                .max(xx[i - 1][j] - scheme.extend);
            yy[i][j] = (mm[i][j - 1] - open)
                .max(xx[i][j - 1] - open)
                .max(yy[i][j - 1] - scheme.extend);
        }
    }
    let mut best = minus_infinity;
    for i in 0..=n {
        for j in 0..=m {
            if i == n || j == m {
                best = best.max(mm[i][j]).max(xx[i][j]).max(yy[i][j]);
            }
        }
    }
    best
}

/// Walk talaria's path with this file's scoring: (score, identical columns).
fn score_path(scheme: &Scheme, q: &[u8], t: &[u8], aln: &Alignment) -> (i64, usize) {
    let (mut i, mut j) = (aln.query_start, aln.target_start);
    let (mut score, mut identical) = (0, 0);
    for &(op, len) in &aln.ops {
        match op {
            AlignOp::Pair => {
                for _ in 0..len {
                    score += scheme.substitution(q[i], t[j]);
                    identical += q[i].eq_ignore_ascii_case(&t[j]) as usize;
                    i += 1;
                    j += 1;
                }
            }
            AlignOp::Insert => {
                score -= scheme.gap(len as i64);
                i += len as usize;
            }
            AlignOp::Delete => {
                score -= scheme.gap(len as i64);
                j += len as usize;
            }
        }
    }
    assert_eq!(
        (i, j),
        (aln.query_end, aln.target_end),
        "path does not end where it says"
    );
    (score, identical)
}

fn check_pair(alphabet: Alphabet, q: &[u8], t: &[u8]) {
    let scheme = match alphabet {
        Alphabet::Protein => &PROTEIN,
        Alphabet::Nucleotide => &NUCLEOTIDE,
    };
    let aln = Aligner::for_alphabet(alphabet)
        .align(q, t)
        .expect("small pair");
    if q.is_empty() || t.is_empty() {
        assert_eq!(aln, Alignment::default());
        return;
    }
    let expected = reference_score(scheme, q, t);
    assert_eq!(
        aln.score as i64, expected,
        "optimal score differs for {q:?} / {t:?}"
    );
    let (path_score, identical) = score_path(scheme, q, t, &aln);
    assert_eq!(
        path_score, expected,
        "reported path does not score what it claims"
    );
    assert_eq!(identical, aln.identical);
    let identity = aln.identity(q.len(), t.len());
    assert!((0.0..=1.0).contains(&identity));
    assert_eq!(identity, identical as f64 / q.len().min(t.len()) as f64);
}

#[test]
fn reference_hand_checks() {
    // The checker itself: a perfect match, a one-residue gap, a dovetail overlap.
    assert_eq!(reference_score(&PROTEIN, b"WWW", b"WWW"), 33);
    assert_eq!(
        reference_score(&PROTEIN, b"WWWWCWWWW", b"WWWWWWWW"),
        88 - 12
    );
    assert_eq!(reference_score(&NUCLEOTIDE, b"TTTTACGT", b"ACGTAAAA"), 8);
    assert_eq!(reference_score(&NUCLEOTIDE, b"AAAA", b"CCCC"), 0);
    assert_eq!(blosum62(b'w', b'U'), -2);
}

fn mutate(source: &[u8], letters: &[u8], edits: &[(u8, usize, usize)]) -> Vec<u8> {
    let mut out = source.to_vec();
    for &(kind, at, what) in edits {
        let letter = letters[what % letters.len()];
        match kind % 5 {
            0 | 1 if !out.is_empty() => {
                let k = at % out.len();
                out[k] = letter;
            }
            2 if !out.is_empty() => {
                let k = at % out.len();
                out.drain(k..(k + 1 + what % 4).min(out.len()));
            }
            3 => {
                let k = at % (out.len() + 1);
                for _ in 0..1 + what % 5 {
                    out.insert(k, letter);
                }
            }
            4 if !out.is_empty() => {
                let k = at % out.len();
                out[k] = out[k].to_ascii_lowercase();
            }
            _ => {}
        }
    }
    out
}

fn related(letters: &'static [u8]) -> impl Strategy<Value = (Vec<u8>, Vec<u8>, bool)> {
    let seq = proptest::collection::vec(proptest::sample::select(letters), 0..90);
    let edits = proptest::collection::vec((any::<u8>(), any::<usize>(), any::<usize>()), 0..20);
    (seq, edits, 0..30usize, 0..30usize, any::<bool>()).prop_map(
        move |(target, edits, head, tail, swap)| {
            let mut query = mutate(&target, letters, &edits);
            query.drain(..head.min(query.len()));
            query.truncate(query.len().saturating_sub(tail));
            (query, target, swap)
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn protein_scores_match_the_reference((q, t, swap) in related(b"ACDEFGHIKLMNPQRSTVWYBZXUO*")) {
        if swap { check_pair(Alphabet::Protein, &t, &q) } else { check_pair(Alphabet::Protein, &q, &t) }
    }

    #[test]
    fn nucleotide_scores_match_the_reference((q, t, swap) in related(b"ACGTNUR")) {
        if swap { check_pair(Alphabet::Nucleotide, &t, &q) } else { check_pair(Alphabet::Nucleotide, &q, &t) }
    }

    #[test]
    fn unrelated_pairs_match_the_reference(
        q in proptest::collection::vec(proptest::sample::select(b"ACGT".as_slice()), 0..40),
        t in proptest::collection::vec(proptest::sample::select(b"ACGT".as_slice()), 0..40),
    ) {
        check_pair(Alphabet::Nucleotide, &q, &t);
    }
}
