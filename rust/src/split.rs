//! The word split of a text (Python reference: `tamis.text.split`).
//!
//! Whitespace chunks exactly as Python's `str.split()`, lines as `str.split("\n")`, and each
//! chunk's word tokens from a memo (chunk -> token lengths in bytes). Chunks missing from the memo
//! are tokenised by the caller (the Python reference's rules, so the result is the reference's by
//! construction), except the commonest ASCII shapes, which `common_shape` settles here with the
//! reference's own shortcut.

use std::hash::BuildHasher;

use rustc_hash::{FxHashMap, FxHashSet};

/// Python's `str.isspace()`: what `str.split()` splits on (Unicode White_Space plus the four
/// ASCII information separators U+001C..U+001F).
pub fn is_python_space(c: char) -> bool {
    matches!(c,
        '\t'..='\r' | '\u{1c}'..='\u{20}' | '\u{85}' | '\u{a0}' | '\u{1680}' | '\u{2000}'..='\u{200a}'
        | '\u{2028}' | '\u{2029}' | '\u{202f}' | '\u{205f}' | '\u{3000}')
}

/// The byte ranges of `text.split()`: maximal runs of non-space characters.
pub fn chunks(text: &str) -> Vec<(usize, usize)> {
    let mut found = Vec::new();
    let mut start: Option<usize> = None;
    for (index, c) in text.char_indices() {
        if is_python_space(c) {
            if let Some(first) = start.take() {
                found.push((first, index));
            }
        } else if start.is_none() {
            start = Some(index);
        }
    }
    if let Some(first) = start {
        found.push((first, text.len()));
    }
    found
}

/// Marks that spaCy's suffix rules always cut from the end of a word of ASCII letters.
const WORD_END_MARKS: &[u8] = b",;:!?)\"'";

/// Word splitting with a bounded memo of chunk tokens.
pub struct Tokenizer {
    memo: FxHashMap<Box<str>, Box<[u32]>>,
    specials: FxHashSet<Box<str>>,
    limit: usize,
}

/// A text's words as byte ranges, and where each line's words begin (then the word count).
pub struct Words {
    pub spans: Vec<(usize, usize)>,
    pub line_starts: Vec<usize>,
}

impl Tokenizer {
    /// `specials`: the chunks the shortcut must leave to the rules (spaCy's special cases).
    pub fn new(specials: impl IntoIterator<Item = String>, limit: usize) -> Self {
        Tokenizer {
            memo: FxHashMap::default(),
            specials: specials.into_iter().map(String::into_boxed_str).collect(),
            limit,
        }
    }

    /// The reference's shortcut (`_common_shape_tokens`) on ASCII chunks: letters alone are one
    /// token; letters then one mark are two, a full stop only after a lowercase letter. Returns
    /// the length of the first token (the second, if any, is the last byte); None when the
    /// rules must decide.
    pub fn common_shape(&self, chunk: &str) -> Option<usize> {
        let bytes = chunk.as_bytes();
        let (&mark, stem) = bytes.split_last()?;
        if !chunk.is_ascii() || self.specials.contains(chunk) {
            return None;
        }
        if bytes.iter().all(u8::is_ascii_alphabetic) {
            return Some(bytes.len());
        }
        let cut = WORD_END_MARKS.contains(&mark)
            || (mark == b'.' && stem.last().is_some_and(u8::is_ascii_lowercase));
        let stem_is_word = !stem.is_empty() && stem.iter().all(u8::is_ascii_alphabetic);
        if cut && stem_is_word && !self.specials.contains(&chunk[..stem.len()]) {
            return Some(stem.len());
        }
        None
    }

    /// The distinct chunks of `text` that neither the memo nor the shortcut can split.
    pub fn missing<'t>(&self, text: &'t str) -> Vec<&'t str> {
        let mut seen = FxHashSet::default();
        chunks(text)
            .into_iter()
            .map(|(start, end)| &text[start..end])
            .filter(|chunk| self.common_shape(chunk).is_none() && !self.memo.contains_key(*chunk))
            .filter(|chunk| seen.insert(*chunk))
            .collect()
    }

    /// Remember the token lengths (bytes) of chunks the rules split. Clears the memo first
    /// when the new chunks would take it past its limit.
    pub fn learn(&mut self, found: Vec<(String, Vec<u32>)>) {
        if self.memo.len() + found.len() > self.limit {
            self.memo.clear();
        }
        for (chunk, lengths) in found {
            self.memo
                .insert(chunk.into_boxed_str(), lengths.into_boxed_slice());
        }
    }

    /// The words of `text`, line by line; None if some chunk is neither memoised nor a common
    /// shape (call `missing` and `learn` first).
    pub fn words(&self, text: &str) -> Option<Words> {
        let mut spans = Vec::with_capacity(text.len() / 5);
        let mut line_starts = Vec::new();
        let mut line_start = 0;
        for line in text.split('\n') {
            line_starts.push(spans.len());
            for (start, end) in chunks(line) {
                let chunk = &line[start..end];
                let mut at = line_start + start;
                let mut push = |length: u32| {
                    spans.push((at, at + length as usize));
                    at += length as usize;
                };
                if let Some(first) = self.common_shape(chunk) {
                    push(first as u32);
                    if first < chunk.len() {
                        push((chunk.len() - first) as u32);
                    }
                } else {
                    self.memo.get(chunk)?.iter().copied().for_each(&mut push);
                }
            }
            line_start += line.len() + 1;
        }
        line_starts.push(spans.len());
        Some(Words { spans, line_starts })
    }
}

/// Length in characters (code points, as Python's `len`) and a 64-bit hash of every word.
pub fn lengths_and_hashes(text: &str, spans: &[(usize, usize)]) -> (Vec<i64>, Vec<u64>) {
    spans
        .iter()
        .map(|&(start, end)| {
            let word = &text[start..end];
            (
                word.chars().count() as i64,
                rustc_hash::FxBuildHasher.hash_one(word),
            )
        })
        .unzip()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokenizer() -> Tokenizer {
        Tokenizer::new(["U.S.".to_string(), "Dr".to_string()], 100)
    }

    fn words(tokenizer: &Tokenizer, text: &str) -> Vec<String> {
        let found = tokenizer.words(text).expect("all chunks known");
        found
            .spans
            .iter()
            .map(|&(s, e)| text[s..e].to_string())
            .collect()
    }

    #[test]
    fn chunks_split_on_python_whitespace() {
        let text = " a\u{1c}b\u{3000}c\u{a0} d ";
        let found: Vec<&str> = chunks(text).iter().map(|&(s, e)| &text[s..e]).collect();
        assert_eq!(found, ["a", "b", "c", "d"]);
        assert!(chunks("").is_empty());
        assert!(chunks(" \n\t").is_empty());
    }

    #[test]
    fn common_shapes_are_split_without_the_rules() {
        let t = tokenizer();
        assert_eq!(
            words(&t, "the dog said, why?\nok."),
            ["the", "dog", "said", ",", "why", "?", "ok", "."]
        );
        assert_eq!(t.common_shape("said,"), Some(4));
        assert_eq!(t.common_shape("V."), None); // uppercase before the stop: the rules decide
        assert_eq!(t.common_shape("Dr,"), None); // a special case stem
        assert_eq!(t.common_shape("U.S."), None);
        assert_eq!(t.common_shape("café"), None); // not ASCII
    }

    #[test]
    fn unknown_chunks_are_reported_then_learned() {
        let mut t = tokenizer();
        let text = "don't stop don't";
        assert_eq!(t.missing(text), ["don't"]);
        assert!(t.words(text).is_none());
        t.learn(vec![("don't".to_string(), vec![2, 3])]);
        assert_eq!(words(&t, text), ["do", "n't", "stop", "do", "n't"]);
    }

    #[test]
    fn line_starts_count_words_before_each_line() {
        let t = tokenizer();
        let found = t.words("a b\n\nc\n").unwrap();
        assert_eq!(found.line_starts, [0, 2, 2, 3, 3]);
    }

    #[test]
    fn lengths_count_characters_and_equal_words_hash_equal() {
        let text = "né né x";
        let spans = [(0, 3), (4, 7), (8, 9)];
        let (lengths, hashes) = lengths_and_hashes(text, &spans);
        assert_eq!(lengths, [2, 2, 1]);
        assert_eq!(hashes[0], hashes[1]);
        assert_ne!(hashes[0], hashes[2]);
    }

    #[test]
    fn the_memo_is_bounded() {
        let mut t = Tokenizer::new(Vec::<String>::new(), 1);
        t.learn(vec![("x-y".to_string(), vec![1, 1, 1])]);
        t.learn(vec![("a-b".to_string(), vec![1, 1, 1])]);
        assert_eq!(t.memo.len(), 1);
    }
}
