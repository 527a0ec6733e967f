//! A deterministic random number generator seeded from the round's lcl hash,
//! so that every node draws the same numbers.

use crate::args::Lcl;

/// xoshiro256** (Blackman & Vigna), seeded from the round's lcl hash.
///
/// **Seed**: the lcl hash's 32 bytes (64 hex characters) read as four
/// little-endian `u64` words. Where there is no lcl (read requests), or the
/// hash is not 64 hex characters, or all four words are zero, the seed is
/// expanded with SplitMix64 from the FNV-1a hash of the hash string instead.
/// The algorithm and the seeding are fixed: the same lcl gives the same
/// numbers on every platform and every version of this crate.
///
/// It is not a cryptographic generator: the lcl hash is public, so anyone can
/// predict the numbers. Use it for deterministic choices (shuffles, lotteries
/// among equals), not for secrets.
///
/// ```
/// use hotpocket::Rng;
/// let mut a = Rng::from_seed_bytes(&[7; 32]);
/// let mut b = Rng::from_seed_bytes(&[7; 32]);
/// assert_eq!(a.next_u64(), b.next_u64());
/// let d = a.below(6) + 1;
/// assert!((1..=6).contains(&d));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rng {
    s: [u64; 4],
}

impl Rng {
    pub(crate) fn from_lcl(lcl: Option<&Lcl>) -> Rng {
        let hash = lcl.map(|l| l.hash.as_str()).unwrap_or("");
        let mut bytes = [0u8; 32];
        if hash.len() == 64 && decode_hex(hash, &mut bytes) {
            return Rng::from_seed_bytes(&bytes);
        }
        Rng::from_splitmix(fnv1a(hash.as_bytes()))
    }

    /// Seeds from 32 bytes (four little-endian words).
    pub fn from_seed_bytes(seed: &[u8; 32]) -> Rng {
        let mut s = [0u64; 4];
        for (word, chunk) in s.iter_mut().zip(seed.chunks_exact(8)) {
            let mut w = [0u8; 8];
            w.copy_from_slice(chunk);
            *word = u64::from_le_bytes(w);
        }
        if s == [0; 4] {
            // xoshiro's all-zero state is a fixed point.
            return Rng::from_splitmix(0);
        }
        Rng { s }
    }

    fn from_splitmix(mut x: u64) -> Rng {
        let mut next = || {
            x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        Rng {
            s: [next(), next(), next(), next()],
        }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// A uniform number in `0..n` (no modulo bias). Returns 0 when `n` is 0.
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            return 0;
        }
        // Lemire's multiply-and-reject.
        let threshold = n.wrapping_neg() % n;
        loop {
            let m = u128::from(self.next_u64()) * u128::from(n);
            if (m as u64) >= threshold {
                return (m >> 64) as u64;
            }
        }
    }

    /// Fills `buf` with random bytes.
    pub fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let bytes = self.next_u64().to_le_bytes();
            for (dst, src) in chunk.iter_mut().zip(bytes) {
                *dst = src;
            }
        }
    }

    /// Shuffles `items` (Fisher–Yates).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

fn decode_hex(hex: &str, out: &mut [u8; 32]) -> bool {
    let digit = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    for (byte, pair) in out.iter_mut().zip(hex.as_bytes().chunks_exact(2)) {
        match (
            pair.first().copied().and_then(digit),
            pair.get(1).copied().and_then(digit),
        ) {
            (Some(h), Some(l)) => *byte = h << 4 | l,
            _ => return false,
        }
    }
    true
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_sequence_for_a_fixed_seed() {
        // Reference values: xoshiro256** from state [1, 2, 3, 4] (the
        // authors' reference implementation gives 11520, 0, 1509978240, ...).
        let mut r = Rng { s: [1, 2, 3, 4] };
        let got: Vec<u64> = (0..4).map(|_| r.next_u64()).collect();
        assert_eq!(got, [11520, 0, 1509978240, 1215971899390074240]);
    }

    #[test]
    fn seeded_from_lcl_hash() {
        let lcl = Lcl {
            seq_no: 1,
            hash: "01".repeat(32),
        };
        let a = Rng::from_lcl(Some(&lcl));
        assert_eq!(a, Rng::from_seed_bytes(&[1; 32]));
        assert_ne!(Rng::from_lcl(None), a);
        assert_eq!(Rng::from_lcl(None), Rng::from_lcl(None));
        let zero = Lcl {
            seq_no: 1,
            hash: "0".repeat(64),
        };
        assert_ne!(Rng::from_lcl(Some(&zero)).s, [0; 4]);
    }

    #[test]
    fn below_is_in_range_and_shuffle_permutes() {
        let mut r = Rng::from_seed_bytes(&[9; 32]);
        for n in [1u64, 2, 3, 7, 1000, u64::MAX] {
            for _ in 0..100 {
                assert!(r.below(n) < n);
            }
        }
        let mut v: Vec<u32> = (0..50).collect();
        r.shuffle(&mut v);
        let mut sorted = v.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, (0..50).collect::<Vec<_>>());
        assert_ne!(v, sorted);
    }
}
