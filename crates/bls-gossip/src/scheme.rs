//! The signature scheme the gossip machine is generic over: real BLS ([`Bls`]) or, behind
//! the `fake-crypto` feature, a cheap insecure stand-in with the same shape
//! ([`FakeScheme`]) for fast tests and 10,000-node simulations.

use core::fmt::Debug;

use rand_chacha::rand_core::RngCore;

use crate::signers::SignerVector;
use crate::{Error, bls};

/// Wire length of every scheme's signature (a compressed BLS12-381 G2 point).
pub const WIRE_SIGNATURE_LEN: usize = 96;

/// A linearly aggregatable signature scheme over one message per gossip instance.
///
/// Everything the gossip machine does with signatures goes through here, so a machine
/// test can swap real pairings for `FakeScheme` (feature `fake-crypto`) and keep the
/// protocol identical.
pub trait Scheme: Clone + Debug + PartialEq + Eq + 'static {
    /// A signing key.
    type SecretKey: Clone + Debug;
    /// A public key the verifier trusts (for [`Bls`]: proof of possession checked).
    type PublicKey: Clone + Debug + PartialEq;
    /// A signature or aggregate signature.
    type Signature: Clone + Debug + PartialEq;
    /// A guardian set's keys as the batch verifier uses them, with any precomputation
    /// that speeds batches up (for [`Bls`]: [`bls::KeyTable`]). Built once per set.
    type KeyTable: Clone + Debug + Send + Sync;
    /// Name printed by tools ("bls12-381", "fake").
    const NAME: &'static str;

    /// A key pair from 32 bytes of secret input key material.
    fn keypair(ikm: &[u8; 32]) -> Result<(Self::SecretKey, Self::PublicKey), Error>;
    /// Signs `msg`.
    fn sign(sk: &Self::SecretKey, msg: &[u8]) -> Self::Signature;
    /// The aggregate of two signatures (`σ·σ_j`).
    fn combine(a: &Self::Signature, b: &Self::Signature) -> Self::Signature;
    /// `−sig`, so a known individual signature can be subtracted from an aggregate.
    fn negate(sig: &Self::Signature) -> Result<Self::Signature, Error>;
    /// `k·sig` (double-and-add over [`Scheme::combine`]); `None` for `k = 0`.
    fn scale(sig: &Self::Signature, k: u32) -> Option<Self::Signature> {
        let mut acc: Option<Self::Signature> = None;
        for bit in (0..32 - k.leading_zeros()).rev() {
            acc = acc.map(|a| Self::combine(&a, &a));
            if k >> bit & 1 == 1 {
                acc = Some(acc.map_or_else(|| sig.clone(), |a| Self::combine(&a, sig)));
            }
        }
        acc
    }
    /// The 96-byte wire form.
    fn signature_to_bytes(sig: &Self::Signature) -> [u8; WIRE_SIGNATURE_LEN];
    /// Parses the wire form (for [`Bls`]: subgroup-checked).
    fn signature_from_bytes(bytes: &[u8]) -> Result<Self::Signature, Error>;
    /// Verifies one aggregate: `sig` folds in `c_u` signatures by each `keys[u]`.
    fn verify_aggregate(
        keys: &[Self::PublicKey],
        msg: &[u8],
        signers: &SignerVector,
        sig: &Self::Signature,
    ) -> Result<bool, Error>;
    /// A canonical byte form of a public key (equal keys, equal bytes), which lets
    /// [`crate::GuardianSet::new`] find duplicate keys in `O(n log n)`. The default `None`
    /// makes it compare keys pairwise with `PartialEq` (`O(n²)`) instead.
    fn public_key_bytes(_pk: &Self::PublicKey) -> Option<Vec<u8>> {
        None
    }
    /// Builds the verifier's key table (keys in guardian index order).
    fn key_table(keys: Vec<Self::PublicKey>) -> Self::KeyTable;
    /// The keys of a table, in guardian index order.
    fn table_keys(table: &Self::KeyTable) -> &[Self::PublicKey];
    /// True iff every aggregate in `items` verifies, with random weights from `rng`.
    ///
    /// **Security requirement:** `rng`'s output must be unpredictable to whoever produced
    /// `items`. Peers that can predict the weights `r_j` can send aggregates whose errors
    /// cancel in `Σ r_j·σ_j` (`σ_1 + r_2·X` and `σ_2 − r_1·X`): the batch passes although
    /// neither aggregate, nor their sum, verifies. [`crate::GossipMachine`] derives the
    /// weights from its secret seed and the batch contents.
    fn batch_verify(
        table: &Self::KeyTable,
        msg: &[u8],
        items: &[(&SignerVector, &Self::Signature)],
        rng: &mut dyn RngCore,
    ) -> Result<bool, Error>;

    /// Indices (ascending) of the invalid aggregates in `items`: one batch check when all
    /// are valid, otherwise bisection; each named item is confirmed individually, so an
    /// honest aggregate is never named.
    fn find_invalid(
        table: &Self::KeyTable,
        msg: &[u8],
        items: &[(&SignerVector, &Self::Signature)],
        rng: &mut dyn RngCore,
    ) -> Result<Vec<usize>, Error> {
        if Self::batch_verify(table, msg, items, rng)? {
            return Ok(Vec::new());
        }
        let mut bad = Vec::new();
        // Stack of index ranges known to contain an invalid aggregate.
        let mut stack = vec![(0usize, items.len())];
        while let Some((lo, hi)) = stack.pop() {
            if hi - lo == 1 {
                let (c, s) = items[lo];
                if !Self::verify_aggregate(Self::table_keys(table), msg, c, s)? {
                    bad.push(lo);
                }
                continue;
            }
            let mid = lo + (hi - lo) / 2;
            let left_ok = Self::batch_verify(table, msg, &items[lo..mid], rng)?;
            if left_ok {
                stack.push((mid, hi));
            } else {
                stack.push((lo, mid));
                if !Self::batch_verify(table, msg, &items[mid..hi], rng)? {
                    stack.push((mid, hi));
                }
            }
        }
        bad.sort_unstable();
        Ok(bad)
    }
}

/// Real BLS12-381 (blst, min-pk, IETF POP ciphersuite); see [`crate::bls`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bls;

impl Scheme for Bls {
    type SecretKey = bls::SecretKey;
    type PublicKey = bls::PublicKey;
    type Signature = bls::Signature;
    type KeyTable = bls::KeyTable;
    const NAME: &'static str = "bls12-381";

    fn keypair(ikm: &[u8; 32]) -> Result<(Self::SecretKey, Self::PublicKey), Error> {
        let sk = bls::SecretKey::key_gen(ikm)?;
        let pk = sk.public_key();
        Ok((sk, pk))
    }
    fn sign(sk: &Self::SecretKey, msg: &[u8]) -> Self::Signature {
        sk.sign(msg)
    }
    fn combine(a: &Self::Signature, b: &Self::Signature) -> Self::Signature {
        a.combine(b)
    }
    fn negate(sig: &Self::Signature) -> Result<Self::Signature, Error> {
        sig.negate()
    }
    fn signature_to_bytes(sig: &Self::Signature) -> [u8; WIRE_SIGNATURE_LEN] {
        sig.to_bytes()
    }
    fn signature_from_bytes(bytes: &[u8]) -> Result<Self::Signature, Error> {
        bls::Signature::from_bytes(bytes)
    }
    fn verify_aggregate(
        keys: &[Self::PublicKey],
        msg: &[u8],
        signers: &SignerVector,
        sig: &Self::Signature,
    ) -> Result<bool, Error> {
        bls::verify_weighted(keys, msg, signers, sig)
    }
    fn public_key_bytes(pk: &Self::PublicKey) -> Option<Vec<u8>> {
        Some(pk.to_bytes().to_vec())
    }
    fn key_table(keys: Vec<Self::PublicKey>) -> Self::KeyTable {
        bls::KeyTable::new(keys)
    }
    fn table_keys(table: &Self::KeyTable) -> &[Self::PublicKey] {
        table.keys()
    }
    fn batch_verify(
        table: &Self::KeyTable,
        msg: &[u8],
        items: &[(&SignerVector, &Self::Signature)],
        rng: &mut dyn RngCore,
    ) -> Result<bool, Error> {
        bls::batch_verify_with(table, msg, items, rng)
    }
}

#[cfg(feature = "fake-crypto")]
pub use fake::{FakePublicKey, FakeScheme, FakeSecretKey, FakeSignature};

#[cfg(feature = "fake-crypto")]
mod fake {
    use super::*;

    /// INSECURE linear stand-in for BLS (feature `fake-crypto`): a signature is the sum
    /// `Σ c_u · t(pk_u, m) mod p` of per-key tags in the prime field of
    /// [`FakeScheme::MODULUS`] `p = 2^64 − 59`, so aggregation, weighted and batch
    /// verification (random weights in `[1, p)` folded per key), and the detection of
    /// invalid, inflated or *mutually cancelling* aggregates behave like BLS at a tiny
    /// fraction of the cost: a batch containing any invalid aggregate passes with
    /// probability at most `1/(p − 1)` over the weights, because arithmetic modulo a prime
    /// has no zero divisors (modulo `2^64`, two aggregates each off by `2^63` passed every
    /// batch with odd weights). Anyone can compute any tag: never use it outside tests and
    /// simulations.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct FakeScheme;

    impl FakeScheme {
        /// The prime modulus `2^64 − 59` of fake signatures, tags and batch weights.
        pub const MODULUS: u64 = 0xffff_ffff_ffff_ffc5;
    }

    const P: u64 = FakeScheme::MODULUS;

    /// Fake secret key.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct FakeSecretKey(pub u64);
    /// Fake public key.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct FakePublicKey(pub u64);
    /// Fake signature: an element of the field modulo [`FakeScheme::MODULUS`] (values at or
    /// above it are read modulo it; the wire form is canonical: 8 little-endian bytes of a
    /// value below the modulus, then zeros, 96 bytes in all).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct FakeSignature(pub u64);

    fn mix(mut z: u64) -> u64 {
        z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn digest(msg: &[u8]) -> u64 {
        msg.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| mix(h ^ u64::from(b)))
    }

    /// `x mod p` without a division: `2^64 ≡ 59 (mod p)`, so fold the high half in twice
    /// (`x < 2^128` → below `2^71` → below `2^64 + 2^13`), then subtract `p` at most twice.
    fn reduce(x: u128) -> u64 {
        const LO: u128 = u64::MAX as u128;
        let x = (x >> 64) * 59 + (x & LO);
        let mut x = (x >> 64) * 59 + (x & LO);
        while x >= u128::from(P) {
            x -= u128::from(P);
        }
        // Lossless: below P < 2^64.
        x as u64
    }

    fn add(a: u64, b: u64) -> u64 {
        reduce(u128::from(a) + u128::from(b))
    }

    fn mul(a: u64, b: u64) -> u64 {
        reduce(u128::from(a) * u128::from(b))
    }

    fn tag(pk: u64, h: u64) -> u64 {
        mix(pk ^ h) % P
    }

    fn weighted(keys: &[FakePublicKey], h: u64, scalars: impl Iterator<Item = (usize, u64)>) -> u64 {
        scalars.fold(0u64, |acc, (i, s)| add(acc, mul(s, tag(keys[i].0, h))))
    }

    /// A uniform weight in `[1, p)` (rejection sampling: at most a 59-in-2^64 retry chance).
    fn weight(rng: &mut dyn RngCore) -> u64 {
        loop {
            let r = rng.next_u64();
            if r != 0 && r < P {
                return r;
            }
        }
    }

    impl Scheme for FakeScheme {
        type SecretKey = FakeSecretKey;
        type PublicKey = FakePublicKey;
        type Signature = FakeSignature;
        type KeyTable = Vec<FakePublicKey>;
        const NAME: &'static str = "fake";

        fn keypair(ikm: &[u8; 32]) -> Result<(Self::SecretKey, Self::PublicKey), Error> {
            let sk = digest(ikm) | 1;
            Ok((FakeSecretKey(sk), FakePublicKey(mix(sk))))
        }
        fn sign(sk: &Self::SecretKey, msg: &[u8]) -> Self::Signature {
            FakeSignature(tag(mix(sk.0), digest(msg)))
        }
        fn combine(a: &Self::Signature, b: &Self::Signature) -> Self::Signature {
            FakeSignature(add(a.0 % P, b.0 % P))
        }
        fn negate(sig: &Self::Signature) -> Result<Self::Signature, Error> {
            Ok(FakeSignature((P - sig.0 % P) % P))
        }
        fn signature_to_bytes(sig: &Self::Signature) -> [u8; WIRE_SIGNATURE_LEN] {
            let mut out = [0u8; WIRE_SIGNATURE_LEN];
            out[..8].copy_from_slice(&(sig.0 % P).to_le_bytes());
            out
        }
        fn signature_from_bytes(bytes: &[u8]) -> Result<Self::Signature, Error> {
            if bytes.len() != WIRE_SIGNATURE_LEN {
                return Err(Error::BadLength { expected: WIRE_SIGNATURE_LEN, got: bytes.len() });
            }
            if bytes[8..].iter().any(|&b| b != 0) {
                return Err(Error::BadPoint { what: "fake signature" });
            }
            let mut v = [0u8; 8];
            v.copy_from_slice(&bytes[..8]);
            let value = u64::from_le_bytes(v);
            if value >= P {
                return Err(Error::BadPoint { what: "fake signature" });
            }
            Ok(FakeSignature(value))
        }
        fn verify_aggregate(
            keys: &[Self::PublicKey],
            msg: &[u8],
            signers: &SignerVector,
            sig: &Self::Signature,
        ) -> Result<bool, Error> {
            if signers.len() != keys.len() {
                return Err(Error::LengthMismatch { left: keys.len(), right: signers.len() });
            }
            if signers.is_empty() {
                return Ok(false);
            }
            let h = digest(msg);
            Ok(weighted(keys, h, signers.iter().map(|(i, c)| (i, u64::from(c)))) == sig.0 % P)
        }
        fn public_key_bytes(pk: &Self::PublicKey) -> Option<Vec<u8>> {
            Some(pk.0.to_le_bytes().to_vec())
        }
        fn key_table(keys: Vec<Self::PublicKey>) -> Self::KeyTable {
            keys
        }
        fn table_keys(table: &Self::KeyTable) -> &[Self::PublicKey] {
            table
        }
        fn batch_verify(
            keys: &Self::KeyTable,
            msg: &[u8],
            items: &[(&SignerVector, &Self::Signature)],
            rng: &mut dyn RngCore,
        ) -> Result<bool, Error> {
            let mut scalars = vec![0u64; keys.len()];
            let mut lhs = 0u64;
            for (signers, sig) in items {
                if signers.len() != keys.len() {
                    return Err(Error::LengthMismatch { left: keys.len(), right: signers.len() });
                }
                if signers.is_empty() {
                    return Ok(false);
                }
                let r = weight(rng);
                lhs = add(lhs, mul(r, sig.0 % P));
                for (i, c) in signers.iter() {
                    scalars[i] = add(scalars[i], mul(r, u64::from(c)));
                }
            }
            let h = digest(msg);
            let rhs = weighted(keys, h, scalars.into_iter().enumerate().filter(|&(_, s)| s != 0));
            Ok(lhs == rhs)
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn reduction_matches_the_remainder() {
            let p = u128::from(P);
            let mut x = 0x0123_4567_89ab_cdef_fedc_ba98_7654_3210u128;
            let edges = [0, 1, p - 1, p, p + 1, 2 * p, u128::from(u64::MAX), (p - 1) * (p - 1), u128::MAX];
            for &e in &edges {
                assert_eq!(u128::from(reduce(e)), e % p, "{e}");
            }
            for _ in 0..100_000 {
                x = x.wrapping_mul(0x2545_f491_4f6c_dd1d_9e37_79b9_7f4a_7c15).wrapping_add(1);
                assert_eq!(u128::from(reduce(x)), x % p);
                let (a, b) = ((x >> 64) as u64, x as u64);
                assert_eq!(u128::from(mul(a, b)), u128::from(a) * u128::from(b) % p);
                assert_eq!(u128::from(add(a, b)), (u128::from(a) + u128::from(b)) % p);
            }
        }
    }
}
