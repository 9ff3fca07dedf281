//! The thin PyO3 layer: converts NumPy arrays and Python strings, releases the GIL, calls the
//! kernels. No logic lives here.

use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;

use crate::ngrams;

/// ngram_hashes(word_hashes, n): uint64 hash of every run of n words (empty if fewer words).
#[pyfunction]
fn ngram_hashes<'py>(
    py: Python<'py>,
    word_hashes: PyReadonlyArray1<'py, u64>,
    n: usize,
) -> PyResult<Bound<'py, PyArray1<u64>>> {
    let words = word_hashes.as_slice()?;
    let hashes = py.detach(|| ngrams::ngram_hashes(words, n));
    Ok(hashes.into_pyarray(py))
}

#[pymodule]
fn _core(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_function(wrap_pyfunction!(ngram_hashes, module)?)?;
    Ok(())
}
