//! k-mers (ME)
