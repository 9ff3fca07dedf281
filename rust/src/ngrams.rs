//! Word n-gram hashes: the one implementation behind Gopher repetition, MinHash shingles and
//! decontamination (Python reference: `tamis.text.hashing.ngram_hashes`).

/// Odd 64-bit multiplier combining word hashes into n-gram hashes (wrapping arithmetic).
pub const MULTIPLIER: u64 = 0x9E37_79B9_7F4A_7C15;

/// The hash of every run of `n` consecutive words: `h(w1..wn) = w1 * M^(n-1) + ... + wn`,
/// wrapping. Empty when there are fewer than `n` words (or `n` is 0).
pub fn ngram_hashes(words: &[u64], n: usize) -> Vec<u64> {
    if n == 0 || words.len() < n {
        return Vec::new();
    }
    let count = words.len() - n + 1;
    let mut hashes = words[..count].to_vec();
    for offset in 1..n {
        for (hash, word) in hashes.iter_mut().zip(&words[offset..offset + count]) {
            *hash = hash.wrapping_mul(MULTIPLIER).wrapping_add(*word);
        }
    }
    hashes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unigrams_are_the_words() {
        assert_eq!(ngram_hashes(&[3, 1, 2], 1), vec![3, 1, 2]);
    }

    #[test]
    fn bigrams_combine_left_to_right() {
        let m = MULTIPLIER;
        assert_eq!(
            ngram_hashes(&[3, 1, 2], 2),
            vec![3u64.wrapping_mul(m) + 1, m + 2]
        );
    }

    #[test]
    fn too_few_words_give_nothing() {
        assert!(ngram_hashes(&[1, 2], 3).is_empty());
        assert!(ngram_hashes(&[], 1).is_empty());
        assert!(ngram_hashes(&[1], 0).is_empty());
    }

    #[test]
    fn wraps_instead_of_overflowing() {
        assert_eq!(ngram_hashes(&[u64::MAX, u64::MAX], 2).len(), 1);
    }
}
