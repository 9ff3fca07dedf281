//! tamis's compiled core: the per-word work as plain functions over slices.
//!
//! Each module is a kernel with a Python reference implementation in the `tamis` package; the
//! tests there compare the two value for value. The PyO3 layer (`python`) only converts.

pub mod ngrams;
pub mod repetition;
pub mod split;

#[cfg(feature = "python")]
mod python;
