//! reconstruct (ME)
