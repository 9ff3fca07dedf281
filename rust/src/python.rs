//! The thin PyO3 layer: converts NumPy arrays and Python strings, releases the GIL, calls the
//! kernels. No logic lives here.

use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyString};

use crate::{ngrams, repetition, split};

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

/// repeated_ngram_chars(word_hashes, word_lengths, top_sizes, duplicate_sizes) ->
/// (top n-gram characters per top size, duplicated n-gram characters per duplicate size).
#[pyfunction]
fn repeated_ngram_chars<'py>(
    py: Python<'py>,
    word_hashes: PyReadonlyArray1<'py, u64>,
    word_lengths: PyReadonlyArray1<'py, u64>,
    top_sizes: Vec<usize>,
    duplicate_sizes: Vec<usize>,
) -> PyResult<(Vec<u64>, Vec<u64>)> {
    let words = word_hashes.as_slice()?;
    let lengths = word_lengths.as_slice()?;
    if words.len() != lengths.len() {
        return Err(PyValueError::new_err("one length per word hash"));
    }
    Ok(py.detach(|| {
        let top = top_sizes
            .iter()
            .map(|&n| repetition::top_ngram_chars(words, lengths, n))
            .collect();
        let duplicated = duplicate_sizes
            .iter()
            .map(|&n| repetition::duplicated_ngram_chars(words, lengths, n))
            .collect();
        (top, duplicated)
    }))
}

/// Tokenizer(specials, rules, limit): splits texts into words with a memo of chunk tokens;
/// `rules(chunk) -> list[str]` splits a chunk the memo and the common shapes do not cover.
#[pyclass(module = "tamis._core")]
struct Tokenizer {
    inner: split::Tokenizer,
    rules: Py<PyAny>,
}

impl Tokenizer {
    /// Split the chunks of `text` that are new to the memo with the Python rules, and learn them.
    fn learn_missing(&mut self, py: Python<'_>, text: &str) -> PyResult<()> {
        let inner = &self.inner;
        let missing: Vec<String> =
            py.detach(|| inner.missing(text).into_iter().map(String::from).collect());
        let mut found = Vec::with_capacity(missing.len());
        for chunk in missing {
            let tokens: Vec<String> = self.rules.call1(py, (chunk.as_str(),))?.extract(py)?;
            if tokens.concat() != chunk {
                return Err(PyValueError::new_err(format!(
                    "the rules split {chunk:?} into {tokens:?}, which do not spell it"
                )));
            }
            found.push((chunk, tokens.iter().map(|t| t.len() as u32).collect()));
        }
        self.inner.learn(found);
        Ok(())
    }
}

#[pymethods]
impl Tokenizer {
    #[new]
    fn new(specials: Vec<String>, rules: Py<PyAny>, limit: usize) -> Self {
        Tokenizer {
            inner: split::Tokenizer::new(specials, limit),
            rules,
        }
    }

    /// words(text) -> (words, line_word_starts, word_lengths, word_hashes): the word tokens of
    /// the text in order, the index where each line's words begin (then the number of words),
    /// each word's length in characters (int64) and a 64-bit hash of each word (uint64).
    #[allow(clippy::type_complexity)]
    fn words<'py>(
        &mut self,
        py: Python<'py>,
        text: &str,
    ) -> PyResult<(
        Bound<'py, PyList>,
        Vec<usize>,
        Bound<'py, PyArray1<i64>>,
        Bound<'py, PyArray1<u64>>,
    )> {
        let inner = &self.inner;
        let mut words = py.detach(|| inner.words(text));
        if words.is_none() {
            self.learn_missing(py, text)?;
            let inner = &self.inner;
            words = py.detach(|| inner.words(text));
        }
        let words = words.ok_or_else(|| PyValueError::new_err("a chunk was left unsplit"))?;
        let (lengths, hashes) = py.detach(|| split::lengths_and_hashes(text, &words.spans));
        let strings = words
            .spans
            .iter()
            .map(|&(start, end)| PyString::new(py, &text[start..end]));
        Ok((
            PyList::new(py, strings)?,
            words.line_starts,
            lengths.into_pyarray(py),
            hashes.into_pyarray(py),
        ))
    }
}

#[pymodule]
fn _core(module: &Bound<'_, PyModule>) -> PyResult<()> {
    module.add_function(wrap_pyfunction!(ngram_hashes, module)?)?;
    module.add_function(wrap_pyfunction!(repeated_ngram_chars, module)?)?;
    module.add_class::<Tokenizer>()?;
    Ok(())
}
