//! Gopher's repeated n-gram measures (Python reference: `tamis.signals.gopher`), from word
//! hashes and word lengths in characters.

use rustc_hash::{FxHashMap, FxHashSet};

use crate::ngrams::ngram_hashes;

/// Characters of the most frequent n-gram (its words joined by single spaces) times its count;
/// ties go to the n-gram seen first. 0 when there are fewer than `n` words.
pub fn top_ngram_chars(words: &[u64], lengths: &[u64], n: usize) -> u64 {
    let hashes = ngram_hashes(words, n);
    let mut counts: FxHashMap<u64, (u64, usize)> = FxHashMap::default();
    for (position, hash) in hashes.iter().enumerate() {
        counts.entry(*hash).or_insert((0, position)).0 += 1;
    }
    // The highest count, then the earliest first occurrence.
    let best = counts
        .values()
        .max_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
    match best {
        Some(&(count, position)) => {
            let chars: u64 = lengths[position..position + n].iter().sum();
            (chars + n as u64 - 1) * count
        }
        None => 0,
    }
}

/// Characters (spaces excluded) in repeated n-grams, scanning left to right: an n-gram seen
/// before adds its characters and the scan jumps past it, so overlapping repeats count once.
pub fn duplicated_ngram_chars(words: &[u64], lengths: &[u64], n: usize) -> u64 {
    let hashes = ngram_hashes(words, n);
    let mut seen = FxHashSet::default();
    let mut chars = 0;
    let mut position = 0;
    while position < hashes.len() {
        if seen.insert(hashes[position]) {
            position += 1;
        } else {
            chars += lengths[position..position + n].iter().sum::<u64>();
            position += n;
        }
    }
    chars
}

#[cfg(test)]
mod tests {
    use super::*;

    // "a b a b a": a=1 b=2, every word one character.
    const WORDS: [u64; 5] = [1, 2, 1, 2, 1];
    const LENGTHS: [u64; 5] = [1, 1, 1, 1, 1];

    #[test]
    fn top_bigram_counts_its_characters_with_spaces() {
        // "a b" twice, "b a" twice: the first seen wins; "a b" is 3 characters.
        assert_eq!(top_ngram_chars(&WORDS, &LENGTHS, 2), 6);
        assert_eq!(top_ngram_chars(&WORDS, &LENGTHS, 6), 0);
    }

    #[test]
    fn duplicated_ngrams_jump_past_each_repeat() {
        // bigrams: ab ba ab(repeat, +2, jump to 4) -> only one repeat counted.
        assert_eq!(duplicated_ngram_chars(&WORDS, &LENGTHS, 2), 2);
        assert_eq!(duplicated_ngram_chars(&WORDS, &LENGTHS, 3), 3);
        assert_eq!(duplicated_ngram_chars(&WORDS, &LENGTHS, 4), 0);
    }
}
