//! Signer-multiplicity vectors: how many times each guardian's signature is folded into
//! an aggregate (DESIGN.md section 4.2, "an aggregate is (message, signer vector c, σ)").
//!
//! Merging two aggregates adds their vectors (`c ← c + c_j`), so a guardian reached along
//! two gossip paths is counted twice and its key must be weighted twice in verification.
//!
//! **Bound.** Multiplicities are `u8`: at most [`MAX_MULTIPLICITY`] = 255. A merge is
//! checked first and refused with [`Error::MultiplicityOverflow`] (leaving the vector
//! unchanged) if any count would pass the bound or a caller's lower cap; it never wraps.
//! The gossip machine prefers merges with few overlaps and rebuilds its aggregate from
//! the fewest pieces each round, which keeps counts far below the bound in practice
//! (see docs/bls-gossip.md).
//!
//! **Encoding** (canonical; the smaller of two forms, ties to sparse):
//!
//! ```text
//! varint n                          number of guardians
//! 0x00  varint k  k × (varint gap, varint count)      sparse: gap = index − previous − 1
//! 0x01  bitmap ⌈n/8⌉ bytes  gamma(count) per signer    dense: bit i = byte i/8, bit i%8;
//!                                                      Elias-gamma bit stream, MSB first,
//!                                                      zero-padded to a byte
//! ```
//!
//! A count of 1 costs two bits in the dense form (bitmap bit + gamma `1`), 2–3 four bits,
//! 4–7 six bits. [`SignerVector::decode`] takes the expected `n` and a byte limit, rejects
//! anything that is not exactly the canonical encoding, and never allocates more than `n`.

use crate::{Error, varint};

/// The largest multiplicity a [`SignerVector`] holds.
pub const MAX_MULTIPLICITY: u8 = u8::MAX;

const SPARSE: u8 = 0;
const DENSE: u8 = 1;

/// Multiplicity per guardian index, with the support kept as a bitset for fast
/// set operations (subset, gain, overlap).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct SignerVector {
    counts: Vec<u8>,
    bits: Vec<u64>,
    distinct: usize,
}

impl core::fmt::Debug for SignerVector {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "SignerVector(n={}, signers={}, [", self.len(), self.distinct)?;
        for (k, (i, c)) in self.iter().enumerate() {
            if k == 8 {
                return write!(f, " …])");
            }
            write!(f, " {i}×{c}")?;
        }
        write!(f, " ])")
    }
}

impl SignerVector {
    /// The empty vector over `n` guardians.
    pub fn new(n: usize) -> Self {
        SignerVector { counts: vec![0; n], bits: vec![0; n.div_ceil(64)], distinct: 0 }
    }

    /// `e_index`: one signature by `index`.
    pub fn singleton(n: usize, index: usize) -> Result<Self, Error> {
        let mut v = SignerVector::new(n);
        v.set(index, 1)?;
        Ok(v)
    }

    /// A vector from explicit counts (zero = not a signer).
    pub fn from_counts(counts: &[u8]) -> Self {
        let mut v = SignerVector::new(counts.len());
        for (i, &c) in counts.iter().enumerate() {
            if c != 0 {
                v.counts[i] = c;
                v.bits[i / 64] |= 1 << (i % 64);
                v.distinct += 1;
            }
        }
        v
    }

    /// Sets the multiplicity of `index` (0 removes it).
    pub fn set(&mut self, index: usize, count: u8) -> Result<(), Error> {
        let len = self.len();
        let slot = self.counts.get_mut(index).ok_or(Error::SignerOutOfRange { index, len })?;
        match (*slot != 0, count != 0) {
            (false, true) => self.distinct += 1,
            (true, false) => self.distinct -= 1,
            _ => {}
        }
        *slot = count;
        if count != 0 {
            self.bits[index / 64] |= 1 << (index % 64);
        } else {
            self.bits[index / 64] &= !(1 << (index % 64));
        }
        Ok(())
    }

    /// Number of guardians the vector ranges over.
    pub fn len(&self) -> usize {
        self.counts.len()
    }

    /// True when no guardian has signed.
    pub fn is_empty(&self) -> bool {
        self.distinct == 0
    }

    /// Number of distinct signers.
    pub fn distinct(&self) -> usize {
        self.distinct
    }

    /// Multiplicity of `index` (0 when out of range or absent).
    pub fn count(&self, index: usize) -> u8 {
        self.counts.get(index).copied().unwrap_or(0)
    }

    /// The largest multiplicity (0 when empty).
    pub fn max_count(&self) -> u8 {
        self.iter().map(|(_, c)| c).max().unwrap_or(0)
    }

    /// Sum of all multiplicities (the number of individual signatures folded in).
    pub fn total(&self) -> u64 {
        self.iter().map(|(_, c)| u64::from(c)).sum()
    }

    /// `(index, count)` for every signer, by ascending index.
    pub fn iter(&self) -> impl Iterator<Item = (usize, u8)> + '_ {
        self.bits.iter().enumerate().flat_map(move |(w, &word)| {
            let mut word = word;
            core::iter::from_fn(move || {
                if word == 0 {
                    return None;
                }
                let i = w * 64 + word.trailing_zeros() as usize;
                word &= word - 1;
                Some((i, self.counts[i]))
            })
        })
    }

    /// The multiplicity of every index, `0` for non-signers (`len()` bytes).
    pub fn counts(&self) -> &[u8] {
        &self.counts
    }

    /// The support as a bitset (bit `i` of word `i / 64`).
    pub fn support(&self) -> &[u64] {
        &self.bits
    }

    /// True iff every signer of `other` is a signer of `self`.
    ///
    /// Vectors of different lengths compare as sets of indices (an index beyond a
    /// vector's length is not one of its signers), so nothing is truncated.
    pub fn covers(&self, other: &SignerVector) -> bool {
        other.bits.iter().enumerate().all(|(w, b)| b & !self.bits.get(w).copied().unwrap_or(0) == 0)
    }

    /// Signers of `other` that `self` lacks: what merging `other` would add.
    ///
    /// Defined for any two lengths, as sets of indices: a signer of `other` at an index
    /// beyond `self`'s length counts as lacking (it is never silently dropped). The merge
    /// itself still refuses vectors of different lengths ([`Error::LengthMismatch`]).
    pub fn gain(&self, other: &SignerVector) -> usize {
        other
            .bits
            .iter()
            .enumerate()
            .map(|(w, b)| (b & !self.bits.get(w).copied().unwrap_or(0)).count_ones() as usize)
            .sum()
    }

    /// Signers in both (for any two lengths: the indices that are signers of both).
    pub fn overlap(&self, other: &SignerVector) -> usize {
        self.bits.iter().zip(&other.bits).map(|(a, b)| (a & b).count_ones() as usize).sum()
    }

    /// The largest count a signer of `other` would have in `self + other` — the counts a
    /// merge touches, which [`SignerVector::merge_capped`] checks against its cap — or 0
    /// when `other` is empty. Defined for any two lengths: an index beyond `self`'s length
    /// counts 0 there; it never panics. The merge itself still refuses vectors of
    /// different lengths ([`Error::LengthMismatch`]).
    pub fn max_after_merge(&self, other: &SignerVector) -> u32 {
        if self.len() == other.len() {
            // Same length: every index of `other` is in range of `self`.
            return other.iter().map(|(i, c)| u32::from(self.counts[i]) + u32::from(c)).max().unwrap_or(0);
        }
        other.iter().map(|(i, c)| u32::from(self.count(i)) + u32::from(c)).max().unwrap_or(0)
    }

    /// `self ← self + other`, refusing (unchanged) if a count would exceed `cap`
    /// (itself at most [`MAX_MULTIPLICITY`]).
    pub fn merge_capped(&mut self, other: &SignerVector, cap: u8) -> Result<(), Error> {
        if self.len() != other.len() {
            return Err(Error::LengthMismatch { left: self.len(), right: other.len() });
        }
        if let Some((index, would_be)) = other
            .iter()
            .map(|(i, c)| (i, u32::from(self.counts[i]) + u32::from(c)))
            .find(|&(_, s)| s > u32::from(cap))
        {
            return Err(Error::MultiplicityOverflow { index, would_be, max: u32::from(cap) });
        }
        for (i, c) in other.iter() {
            if self.counts[i] == 0 {
                self.distinct += 1;
            }
            self.counts[i] += c;
        }
        for (a, b) in self.bits.iter_mut().zip(&other.bits) {
            *a |= b;
        }
        Ok(())
    }

    /// `self ← self + other`, checked against [`MAX_MULTIPLICITY`].
    pub fn merge(&mut self, other: &SignerVector) -> Result<(), Error> {
        self.merge_capped(other, MAX_MULTIPLICITY)
    }

    fn sparse_len(&self) -> usize {
        let mut len = 1 + varint::len(self.distinct as u64);
        let mut prev: Option<usize> = None;
        for (i, c) in self.iter() {
            let gap = prev.map_or(i, |p| i - p - 1);
            len += varint::len(gap as u64) + varint::len(u64::from(c));
            prev = Some(i);
        }
        len
    }

    fn gamma_bits(c: u8) -> usize {
        let b = 8 - c.leading_zeros() as usize;
        2 * b - 1
    }

    fn dense_len(&self) -> usize {
        let bits: usize = self.iter().map(|(_, c)| Self::gamma_bits(c)).sum();
        1 + self.len().div_ceil(8) + bits.div_ceil(8)
    }

    /// Length of [`SignerVector::encode`]'s output, without encoding.
    pub fn encoded_len(&self) -> usize {
        varint::len(self.len() as u64) + self.sparse_len().min(self.dense_len())
    }

    /// The canonical encoding (module docs).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode_to(&mut out);
        out
    }

    /// Appends the canonical encoding to `out`.
    pub fn encode_to(&self, out: &mut Vec<u8>) {
        varint::put(out, self.len() as u64);
        if self.sparse_len() <= self.dense_len() {
            out.push(SPARSE);
            varint::put(out, self.distinct as u64);
            let mut prev: Option<usize> = None;
            for (i, c) in self.iter() {
                varint::put(out, prev.map_or(i, |p| i - p - 1) as u64);
                varint::put(out, u64::from(c));
                prev = Some(i);
            }
        } else {
            out.push(DENSE);
            let start = out.len();
            out.resize(start + self.len().div_ceil(8), 0);
            for (i, _) in self.iter() {
                out[start + i / 8] |= 1 << (i % 8);
            }
            let mut acc = 0u8;
            let mut filled = 0u32;
            for (_, c) in self.iter() {
                let b = 8 - c.leading_zeros();
                // (b - 1) zeros then the b bits of c, MSB first.
                for k in (0..(2 * b - 1)).rev() {
                    let bit = if k >= b { 0 } else { (c >> k) & 1 };
                    acc = (acc << 1) | bit;
                    filled += 1;
                    if filled == 8 {
                        out.push(acc);
                        acc = 0;
                        filled = 0;
                    }
                }
            }
            if filled > 0 {
                out.push(acc << (8 - filled));
            }
        }
    }

    /// Decodes from the front of `bytes`, advancing it; the vector must range over exactly
    /// `expected_n` guardians. Callers bound the whole input's size (see
    /// [`SignerVector::decode`]).
    pub fn decode_from(bytes: &mut &[u8], expected_n: usize) -> Result<Self, Error> {
        let start: &[u8] = bytes;
        let n = varint::get(bytes, "guardian count")?;
        if n != expected_n as u64 {
            return Err(Error::LengthMismatch {
                left: expected_n,
                right: usize::try_from(n).unwrap_or(usize::MAX),
            });
        }
        let (&form, rest) = bytes.split_first().ok_or(Error::Truncated { what: "form" })?;
        *bytes = rest;
        let mut v = SignerVector::new(expected_n);
        match form {
            SPARSE => {
                let k = varint::get(bytes, "signer count")?;
                if k > expected_n as u64 || k > bytes.len() as u64 {
                    return Err(Error::Malformed { reason: "more signers than guardians or bytes" });
                }
                let mut next = 0u64;
                for _ in 0..k {
                    let gap = varint::get(bytes, "gap")?;
                    let c = varint::get(bytes, "count")?;
                    let i = next.checked_add(gap).filter(|&i| i < expected_n as u64);
                    let i = i.ok_or(Error::SignerOutOfRange { index: usize::MAX, len: expected_n })? as usize;
                    let c = u8::try_from(c).map_err(|_| Error::MultiplicityOverflow {
                        index: i,
                        would_be: u32::try_from(c).unwrap_or(u32::MAX),
                        max: u32::from(MAX_MULTIPLICITY),
                    })?;
                    if c == 0 {
                        return Err(Error::Malformed { reason: "zero count in sparse form" });
                    }
                    v.set(i, c)?;
                    next = i as u64 + 1;
                }
            }
            DENSE => {
                let map_len = expected_n.div_ceil(8);
                if bytes.len() < map_len {
                    return Err(Error::Truncated { what: "bitmap" });
                }
                let (map, rest) = bytes.split_at(map_len);
                *bytes = rest;
                let mut reader = BitReader { bytes, byte: 0, bit: 0 };
                for (j, &byte) in map.iter().enumerate() {
                    let mut byte = byte;
                    while byte != 0 {
                        let i = j * 8 + byte.trailing_zeros() as usize;
                        byte &= byte - 1;
                        if i >= expected_n {
                            return Err(Error::Malformed { reason: "bitmap padding bit set" });
                        }
                        let mut zeros = 0u32;
                        while !reader.bit()? {
                            zeros += 1;
                            if zeros >= 8 {
                                return Err(Error::MultiplicityOverflow {
                                    index: i,
                                    would_be: 256,
                                    max: u32::from(MAX_MULTIPLICITY),
                                });
                            }
                        }
                        let mut c = 1u8;
                        for _ in 0..zeros {
                            c = (c << 1) | u8::from(reader.bit()?);
                        }
                        v.set(i, c)?;
                    }
                }
                let used = reader.byte + usize::from(reader.bit > 0);
                *bytes = &reader.bytes[used..];
            }
            _ => return Err(Error::Malformed { reason: "unknown signer-vector form" }),
        }
        let consumed = start.len() - bytes.len();
        if v.encode() != start[..consumed] {
            return Err(Error::Malformed { reason: "non-canonical signer vector" });
        }
        Ok(v)
    }

    /// Decodes exactly `bytes` (at most `limit` long) as a vector over `expected_n`
    /// guardians.
    pub fn decode(bytes: &[u8], expected_n: usize, limit: usize) -> Result<Self, Error> {
        if bytes.len() > limit {
            return Err(Error::TooLong { len: bytes.len(), limit });
        }
        let mut rest = bytes;
        let v = Self::decode_from(&mut rest, expected_n)?;
        if !rest.is_empty() {
            return Err(Error::Malformed { reason: "trailing bytes" });
        }
        Ok(v)
    }
}

struct BitReader<'a> {
    bytes: &'a [u8],
    byte: usize,
    bit: u32,
}

impl BitReader<'_> {
    fn bit(&mut self) -> Result<bool, Error> {
        let b = *self.bytes.get(self.byte).ok_or(Error::Truncated { what: "gamma codes" })?;
        let v = (b >> (7 - self.bit)) & 1 == 1;
        self.bit += 1;
        if self.bit == 8 {
            self.bit = 0;
            self.byte += 1;
        }
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_adds_counts_and_refuses_overflow_unchanged() {
        let mut a = SignerVector::from_counts(&[1, 0, 2, 0]);
        let b = SignerVector::from_counts(&[0, 3, 1, 0]);
        assert_eq!(a.gain(&b), 1);
        assert_eq!(a.overlap(&b), 1);
        a.merge(&b).unwrap();
        assert_eq!(a, SignerVector::from_counts(&[1, 3, 3, 0]));
        assert_eq!(a.distinct(), 3);
        assert!(a.covers(&b));
        let before = a.clone();
        let err = a.merge_capped(&b, 5).unwrap_err();
        assert_eq!(err, Error::MultiplicityOverflow { index: 1, would_be: 6, max: 5 });
        assert_eq!(a, before);
        let big = SignerVector::from_counts(&[255, 0, 0, 0]);
        assert!(matches!(a.merge(&big), Err(Error::MultiplicityOverflow { index: 0, would_be: 256, .. })));
        assert!(matches!(a.merge(&SignerVector::new(3)), Err(Error::LengthMismatch { .. })));
    }

    #[test]
    fn both_forms_round_trip_and_the_smaller_is_chosen() {
        let sparse = SignerVector::from_counts(&{
            let mut c = vec![0u8; 1000];
            c[3] = 1;
            c[999] = 200;
            c
        });
        let enc = sparse.encode();
        assert_eq!(enc[2], SPARSE);
        assert_eq!(enc.len(), sparse.encoded_len());
        assert_eq!(SignerVector::decode(&enc, 1000, 4096).unwrap(), sparse);

        let dense = SignerVector::from_counts(&(0..1000).map(|i| (i % 5) as u8).collect::<Vec<_>>());
        let enc = dense.encode();
        assert_eq!(enc[2], DENSE);
        assert_eq!(enc.len(), dense.encoded_len());
        assert!(enc.len() < 1000 / 8 + 1000);
        assert_eq!(SignerVector::decode(&enc, 1000, 4096).unwrap(), dense);
        assert!(matches!(SignerVector::decode(&enc, 999, 4096), Err(Error::LengthMismatch { .. })));
        assert!(matches!(SignerVector::decode(&enc, 1000, 10), Err(Error::TooLong { .. })));
        let mut long = enc.clone();
        long.push(0);
        assert!(SignerVector::decode(&long, 1000, 4096).is_err());
    }

    #[test]
    fn all_ones_dense_is_a_quarter_byte_per_guardian() {
        let v = SignerVector::from_counts(&[1u8; 10_000]);
        assert_eq!(v.encoded_len(), 2 + 1 + 1250 + 1250);
        assert_eq!(SignerVector::decode(&v.encode(), 10_000, 1 << 20).unwrap(), v);
    }

    #[test]
    fn non_canonical_sparse_is_rejected() {
        // A dense-worthy vector written in sparse form must be refused.
        let v = SignerVector::from_counts(&[1u8; 64]);
        let mut out = Vec::new();
        varint::put(&mut out, 64);
        out.push(SPARSE);
        varint::put(&mut out, 64);
        for _ in 0..64 {
            out.extend_from_slice(&[0, 1]);
        }
        assert!(v.encode().len() < out.len());
        assert_eq!(
            SignerVector::decode(&out, 64, 4096),
            Err(Error::Malformed { reason: "non-canonical signer vector" })
        );
        // Zero counts and out-of-range indices are refused.
        assert!(SignerVector::decode(&[4, 0, 1, 0, 0], 4, 64).is_err());
        assert!(SignerVector::decode(&[4, 0, 1, 4, 1], 4, 64).is_err());
    }
}
