//! Deterministic generator of protein and DNA families with controlled identities. (HELPER E)
