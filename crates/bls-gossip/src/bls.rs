//! A narrow BLS12-381 wrapper over `blst::min_pk` (DESIGN.md section 3).
//!
//! Public keys are G1 points (48 bytes compressed), signatures G2 points (96 bytes
//! compressed), hashing to G2 with the IETF proof-of-possession ciphersuite
//! [`DST_SIGNATURE`] — the ciphersuite Ethereum's consensus layer uses, so its test vectors
//! apply unchanged. Proofs of possession sign the compressed public key under the separate
//! [`DST_POP`] tag.
//!
//! Every value of these types is valid by construction: a [`PublicKey`] is never the
//! identity and always in the prime-order subgroup, a [`Signature`] is always in the
//! subgroup (the identity is representable, as IETF `Aggregate` requires, but never
//! verifies), a [`SecretKey`] is never zero. Decoders return typed [`Error`]s.
//!
//! The weighted forms are what the gossip needs: an aggregate `(c, σ)` with signer
//! multiplicities `c_u` is valid iff `e(σ, g1) = e(H(m), Σ c_u·pk_u)`, and the weighted key
//! is one multi-scalar multiplication ([`weighted_public_key`]). [`batch_verify`] checks
//! many aggregates over one message with random 64-bit weights `r_j` folded into the
//! per-key scalars `Σ_j r_j·c_{j,u}`, so a batch costs one G1 MSM, one small G2 MSM and two
//! pairings; [`find_invalid`] bisects a failed batch to name the bad aggregates. A
//! [`KeyTable`] built once per guardian set precomputes `2^{9l}·pk_u` so that the G1 MSM
//! of a batch is a single window with no doublings ([`batch_verify_with`]).

use core::fmt;
use std::sync::Arc;

use blst::min_pk;
use blst::{BLST_ERROR, MultiPoint};
use rand_chacha::rand_core::RngCore;

use crate::Error;
use crate::scheme::{Bls, Scheme};
use crate::signers::SignerVector;

/// The IETF ciphersuite for signatures: `BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_`.
pub const DST_SIGNATURE: &[u8] = b"BLS_SIG_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_";
/// The IETF ciphersuite tag for proofs of possession: `BLS_POP_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_`.
pub const DST_POP: &[u8] = b"BLS_POP_BLS12381G2_XMD:SHA-256_SSWU_RO_POP_";
/// Compressed public key length.
pub const PUBLIC_KEY_LEN: usize = 48;
/// Compressed signature length.
pub const SIGNATURE_LEN: usize = 96;
/// Secret key length (big-endian scalar).
pub const SECRET_KEY_LEN: usize = 32;

fn point_error(what: &'static str, e: BLST_ERROR) -> Error {
    match e {
        BLST_ERROR::BLST_POINT_NOT_IN_GROUP => Error::NotInSubgroup { what },
        BLST_ERROR::BLST_PK_IS_INFINITY => Error::IdentityKey,
        _ => Error::BadPoint { what },
    }
}

/// A BLS secret key: a non-zero scalar below the group order.
#[derive(Clone)]
pub struct SecretKey(min_pk::SecretKey);

impl SecretKey {
    /// Derives a key from input key material with the IETF `KeyGen` (HKDF-SHA-256, salt
    /// `BLS-SIG-KEYGEN-SALT-`, empty `key_info`). `ikm` must be at least 32 bytes.
    pub fn key_gen(ikm: &[u8]) -> Result<Self, Error> {
        if ikm.len() < 32 {
            return Err(Error::ShortKeyMaterial { len: ikm.len() });
        }
        min_pk::SecretKey::key_gen(ikm, &[])
            .map(SecretKey)
            .map_err(|_| Error::ShortKeyMaterial { len: ikm.len() })
    }

    /// Parses a 32-byte big-endian scalar; zero and values `≥ r` are rejected.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        if bytes.len() != SECRET_KEY_LEN {
            return Err(Error::BadLength { expected: SECRET_KEY_LEN, got: bytes.len() });
        }
        if bytes.iter().all(|&b| b == 0) {
            return Err(Error::ZeroSecret);
        }
        min_pk::SecretKey::from_bytes(bytes).map(SecretKey).map_err(|_| Error::InvalidSecret)
    }

    /// The 32-byte big-endian scalar.
    pub fn to_bytes(&self) -> [u8; SECRET_KEY_LEN] {
        self.0.to_bytes()
    }

    /// The public key `sk·g1`.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.0.sk_to_pk())
    }

    /// Signs `msg` under [`DST_SIGNATURE`].
    pub fn sign(&self, msg: &[u8]) -> Signature {
        Signature(self.0.sign(msg, DST_SIGNATURE, &[]))
    }

    /// A proof of possession: the compressed public key signed under [`DST_POP`].
    pub fn prove_possession(&self) -> ProofOfPossession {
        let pk = self.public_key().to_bytes();
        ProofOfPossession(Signature(self.0.sign(&pk, DST_POP, &[])))
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

/// A BLS public key: a G1 point in the prime-order subgroup, never the identity.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKey(min_pk::PublicKey);

impl PublicKey {
    /// Parses a 48-byte compressed key (IETF `KeyValidate`: on the curve, in the
    /// subgroup, not the identity).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        if bytes.len() != PUBLIC_KEY_LEN {
            return Err(Error::BadLength { expected: PUBLIC_KEY_LEN, got: bytes.len() });
        }
        min_pk::PublicKey::key_validate(bytes).map(PublicKey).map_err(|e| point_error("public key", e))
    }

    /// The 48-byte compressed form.
    pub fn to_bytes(&self) -> [u8; PUBLIC_KEY_LEN] {
        self.0.compress()
    }

    /// IETF `Verify`: true iff `sig` is this key's signature over `msg`.
    pub fn verify(&self, msg: &[u8], sig: &Signature) -> bool {
        sig.0.verify(false, msg, DST_SIGNATURE, &[], &self.0, false) == BLST_ERROR::BLST_SUCCESS
    }

    /// IETF `PopVerify`: checks a proof of possession for this key. Do this once, when the
    /// key is staked; only checked keys may be aggregated (rogue-key defence).
    pub fn verify_possession(&self, pop: &ProofOfPossession) -> Result<(), Error> {
        let pk = self.to_bytes();
        match pop.0.0.verify(false, &pk, DST_POP, &[], &self.0, false) {
            BLST_ERROR::BLST_SUCCESS => Ok(()),
            _ => Err(Error::InvalidPossession),
        }
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", crate::hex(&self.to_bytes()[..8]))
    }
}

/// A BLS signature or aggregate signature: a G2 point in the prime-order subgroup.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature(min_pk::Signature);

impl Signature {
    /// Parses a 96-byte compressed signature, checking subgroup membership. The identity
    /// is accepted (IETF `Aggregate` may produce it) but verifies against no key.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        if bytes.len() != SIGNATURE_LEN {
            return Err(Error::BadLength { expected: SIGNATURE_LEN, got: bytes.len() });
        }
        let sig = min_pk::Signature::from_bytes(bytes).map_err(|e| point_error("signature", e))?;
        sig.validate(false).map_err(|e| point_error("signature", e))?;
        Ok(Signature(sig))
    }

    /// The 96-byte compressed form.
    pub fn to_bytes(&self) -> [u8; SIGNATURE_LEN] {
        self.0.compress()
    }

    /// `self + other` in G2 (the gossip's `σ ← σ·σ_j`).
    pub fn combine(&self, other: &Signature) -> Signature {
        let mut agg = min_pk::AggregateSignature::from_signature(&self.0);
        // Both points are subgroup-checked already; `false` skips re-validation and the
        // call cannot fail then.
        let _ = agg.add_signature(&other.0, false);
        Signature(agg.to_signature())
    }

    /// `−self`, by flipping the sign flag of the compressed form (one decompression, no
    /// subgroup check needed: the negation of a subgroup point is in the subgroup).
    pub fn negate(&self) -> Result<Signature, Error> {
        let mut b = self.to_bytes();
        if b[0] & 0x40 != 0 {
            return Ok(*self);
        }
        b[0] ^= 0x20;
        min_pk::Signature::from_bytes(&b).map(Signature).map_err(|e| point_error("signature", e))
    }

    /// True for the identity (point at infinity).
    pub fn is_identity(&self) -> bool {
        self.to_bytes()[0] & 0x40 != 0
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", crate::hex(&self.to_bytes()[..8]))
    }
}

/// A proof of possession of a secret key (a signature over the public key under
/// [`DST_POP`]).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ProofOfPossession(Signature);

impl ProofOfPossession {
    /// Parses the 96-byte compressed form (subgroup-checked).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        Signature::from_bytes(bytes).map(ProofOfPossession)
    }

    /// The 96-byte compressed form.
    pub fn to_bytes(&self) -> [u8; SIGNATURE_LEN] {
        self.0.to_bytes()
    }
}

/// IETF `Aggregate`: the sum of the signatures. Fails on an empty list.
pub fn aggregate_signatures(sigs: &[Signature]) -> Result<Signature, Error> {
    let (first, rest) = sigs.split_first().ok_or(Error::EmptyAggregate)?;
    Ok(rest.iter().fold(*first, |acc, s| acc.combine(s)))
}

/// The sum of public keys (fails on an empty list or an identity sum).
pub fn aggregate_public_keys(pks: &[PublicKey]) -> Result<PublicKey, Error> {
    if pks.is_empty() {
        return Err(Error::EmptyAggregate);
    }
    let refs: Vec<&min_pk::PublicKey> = pks.iter().map(|p| &p.0).collect();
    let agg =
        min_pk::AggregatePublicKey::aggregate(&refs, false).map_err(|e| point_error("public key", e))?;
    non_identity(agg.to_public_key())
}

fn non_identity(pk: min_pk::PublicKey) -> Result<PublicKey, Error> {
    if pk.compress()[0] & 0x40 != 0 { Err(Error::IdentityKey) } else { Ok(PublicKey(pk)) }
}

/// IETF `FastAggregateVerify`: `sig` aggregates signatures by every key in `pks` over one
/// `msg`. False for an empty key list. The keys must have passed proof-of-possession.
pub fn fast_aggregate_verify(pks: &[PublicKey], msg: &[u8], sig: &Signature) -> bool {
    if pks.is_empty() {
        return false;
    }
    let refs: Vec<&min_pk::PublicKey> = pks.iter().map(|p| &p.0).collect();
    sig.0.fast_aggregate_verify(false, msg, DST_SIGNATURE, &refs) == BLST_ERROR::BLST_SUCCESS
}

/// `Σ w_i·pk_i` over the `(index, weight)` terms with non-zero weight, as one
/// multi-scalar multiplication (Pippenger, in blst). Weights are little-endian scalars of
/// at most 128 bits; the MSM runs over only as many bits as the largest weight needs.
pub fn weighted_public_key(keys: &[PublicKey], terms: &[(usize, u128)]) -> Result<PublicKey, Error> {
    let mut points = Vec::with_capacity(terms.len());
    let mut max = 0u128;
    for &(index, w) in terms {
        let key = keys.get(index).ok_or(Error::SignerOutOfRange { index, len: keys.len() })?;
        if w != 0 {
            points.push((key.0, w));
            max = max.max(w);
        }
    }
    if points.is_empty() {
        return Err(Error::EmptyAggregate);
    }
    let nbits = (128 - max.leading_zeros()) as usize;
    let nbytes = nbits.div_ceil(8);
    let mut pks = Vec::with_capacity(points.len());
    let mut scalars = Vec::with_capacity(points.len() * nbytes);
    for (pk, w) in points {
        pks.push(pk);
        scalars.extend_from_slice(&w.to_le_bytes()[..nbytes]);
    }
    let agg = min_pk::AggregatePublicKey::aggregate_with_randomness(&pks, &scalars, nbits, false)
        .map_err(|e| point_error("public key", e))?;
    non_identity(agg.to_public_key())
}

fn signer_terms(keys: &[PublicKey], signers: &SignerVector) -> Result<Vec<(usize, u128)>, Error> {
    if signers.len() != keys.len() {
        return Err(Error::LengthMismatch { left: keys.len(), right: signers.len() });
    }
    Ok(signers.iter().map(|(i, c)| (i, u128::from(c))).collect())
}

/// Verifies one aggregate `(c, σ)` over `msg`: `e(σ, g1) = e(H(m), Σ c_u·pk_u)`.
/// `keys` is the whole guardian set (index `u` ↔ `keys[u]`), each key PoP-checked.
/// An empty signer vector never verifies.
pub fn verify_weighted(
    keys: &[PublicKey],
    msg: &[u8],
    signers: &SignerVector,
    sig: &Signature,
) -> Result<bool, Error> {
    let terms = signer_terms(keys, signers)?;
    if terms.is_empty() {
        return Ok(false);
    }
    let apk = weighted_public_key(keys, &terms);
    Ok(apk.is_ok_and(|apk| apk.verify(msg, sig)))
}

/// Bits per digit of a [`KeyTable`].
const TABLE_DIGIT_BITS: usize = 9;
/// Levels of a [`KeyTable`]: digits of scalars below `2^72`.
const TABLE_LEVELS: usize = 8;

/// A guardian set's keys as the batch verifier uses them: the keys, plus (when built with
/// [`KeyTable::new`]) a fixed-base precomputation for [`batch_verify_with`].
///
/// The precomputation holds `2^{9·l}·pk_u` for every key and `l = 0..8`, in affine form (768 bytes per
/// key). With it, the batch's G1 multi-scalar multiplication `Σ_u s_u·pk_u` over ~72-bit
/// folded scalars becomes a single 9-bit-window Pippenger pass over `8·n` points, with no
/// doublings and about a quarter fewer point additions than the plain multi-window MSM.
/// Build it once per guardian set (72 doublings per key, about 20 ms for 1,000 keys);
/// [`GuardianSet`] does.
///
/// [`GuardianSet`]: crate::GuardianSet
#[derive(Clone)]
pub struct KeyTable {
    keys: Vec<PublicKey>,
    /// Level-major: `points[l·n + u] = 2^{9·l}·pk_u`. `None` for an empty key list.
    points: Option<Arc<blst::p1_affines>>,
}

impl KeyTable {
    /// The keys (in guardian index order) with the fixed-base precomputation.
    pub fn new(keys: Vec<PublicKey>) -> Self {
        let n = keys.len();
        let points = (n > 0).then(|| {
            let mut proj: Vec<blst::blst_p1> = Vec::with_capacity(n * TABLE_LEVELS);
            let mut level: Vec<min_pk::AggregatePublicKey> =
                keys.iter().map(|k| min_pk::AggregatePublicKey::from_public_key(&k.0)).collect();
            for l in 0..TABLE_LEVELS {
                if l > 0 {
                    for p in &mut level {
                        for _ in 0..TABLE_DIGIT_BITS {
                            let q = *p;
                            p.add_aggregate(&q);
                        }
                    }
                }
                proj.extend(level.iter().map(|p| blst::blst_p1::from(*p)));
            }
            Arc::new(blst::p1_affines::from(&proj))
        });
        KeyTable { keys, points }
    }

    /// The keys without precomputation: batches use the plain multi-window MSM. Cheap to
    /// build; for one-off checks.
    pub fn without_precomputation(keys: Vec<PublicKey>) -> Self {
        KeyTable { keys, points: None }
    }

    /// Whether the fixed-base precomputation is present.
    pub fn is_precomputed(&self) -> bool {
        self.points.is_some()
    }

    /// The keys the table was built from.
    pub fn keys(&self) -> &[PublicKey] {
        &self.keys
    }

    /// `Σ_u s_u·pk_u` with one single-window MSM, or `None` when a scalar needs more than
    /// 72 bits (the caller then uses the plain MSM).
    fn weighted_key(&self, scalars: &[u128]) -> Option<Result<PublicKey, Error>> {
        let points = self.points.as_ref()?;
        let n = self.keys.len();
        let max = scalars.iter().copied().max().unwrap_or(0);
        let levels = ((128 - max.leading_zeros()) as usize).div_ceil(TABLE_DIGIT_BITS);
        if levels > TABLE_LEVELS || scalars.len() != n {
            return None;
        }
        if levels == 0 {
            return Some(Err(Error::EmptyAggregate));
        }
        let mut digits = Vec::with_capacity(levels * n * 2);
        for l in 0..levels {
            let shift = l * TABLE_DIGIT_BITS;
            for &s in scalars {
                // Lossless: masked to 9 bits.
                let d = ((s >> shift) & ((1 << TABLE_DIGIT_BITS) - 1)) as u16;
                digits.extend_from_slice(&d.to_le_bytes());
            }
        }
        let sum = points.as_slice()[..levels * n].mult(&digits, TABLE_DIGIT_BITS);
        Some(non_identity(min_pk::AggregatePublicKey::from(sum).to_public_key()))
    }
}

impl fmt::Debug for KeyTable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyTable({} keys, {} levels)", self.keys.len(), TABLE_LEVELS)
    }
}

/// Batch-verifies aggregates over one message: draws a non-zero 64-bit `r_j` per
/// aggregate from `rng` and checks `e(Σ r_j σ_j, g1) = e(H(m), Σ_u (Σ_j r_j c_{j,u})·pk_u)`
/// with one G1 MSM, one G2 MSM and two pairings. True iff every aggregate is valid (a
/// batch with an invalid member passes with probability at most 2^-63 over weights the
/// items' authors cannot predict). Empty: true.
///
/// **Security requirement:** `rng` must be unpredictable to whoever produced `items`
/// (seeded from a secret, and not reused with contents chosen after its output could be
/// observed). With predictable weights, `σ_1 + r_2·X` and `σ_2 − r_1·X` pass together
/// although neither verifies. [`crate::GossipMachine`] keys each batch's weights with its
/// secret seed and the batch contents.
///
/// Bound: per-key scalars are `Σ_j r_j·c_{j,u} < items · 2^64 · 2^8`, which fits `u128`
/// for any batch that fits in memory.
pub fn batch_verify(
    keys: &[PublicKey],
    msg: &[u8],
    items: &[(&SignerVector, &Signature)],
    rng: &mut dyn RngCore,
) -> Result<bool, Error> {
    batch_core(keys, None, msg, items, rng)
}

/// [`batch_verify`] over the keys of `table`, using its fixed-base precomputation (if any)
/// for the G1 multi-scalar multiplication: same result, same soundness, about a quarter
/// faster. It applies while the folded scalars fit 72 bits, i.e. while the number of
/// aggregates times their largest multiplicity is below 256; larger batches fall back to
/// the plain MSM.
pub fn batch_verify_with(
    table: &KeyTable,
    msg: &[u8],
    items: &[(&SignerVector, &Signature)],
    rng: &mut dyn RngCore,
) -> Result<bool, Error> {
    batch_core(&table.keys, Some(table), msg, items, rng)
}

fn batch_core(
    keys: &[PublicKey],
    table: Option<&KeyTable>,
    msg: &[u8],
    items: &[(&SignerVector, &Signature)],
    rng: &mut dyn RngCore,
) -> Result<bool, Error> {
    match items {
        [] => return Ok(true),
        [(signers, sig)] => return verify_weighted(keys, msg, signers, sig),
        _ => {}
    }
    let mut scalars = vec![0u128; keys.len()];
    let mut rs = Vec::with_capacity(items.len() * 8);
    let mut sigs = Vec::with_capacity(items.len());
    for (signers, sig) in items {
        if signers.len() != keys.len() {
            return Err(Error::LengthMismatch { left: keys.len(), right: signers.len() });
        }
        if signers.distinct() == 0 {
            return Ok(false);
        }
        let r = loop {
            let r = rng.next_u64();
            if r != 0 {
                break r;
            }
        };
        for (i, c) in signers.iter() {
            scalars[i] = scalars[i].saturating_add(u128::from(r) * u128::from(c));
        }
        rs.extend_from_slice(&r.to_le_bytes());
        sigs.push(sig.0);
    }
    let combined = min_pk::AggregateSignature::aggregate_with_randomness(&sigs, &rs, 64, false)
        .map_err(|e| point_error("signature", e))?
        .to_signature();
    let apk = match table.and_then(|t| t.weighted_key(&scalars)) {
        Some(apk) => apk,
        None => {
            let terms: Vec<(usize, u128)> =
                scalars.into_iter().enumerate().filter(|&(_, s)| s != 0).collect();
            weighted_public_key(keys, &terms)
        }
    };
    Ok(apk.is_ok_and(|apk| apk.verify(msg, &Signature(combined))))
}

/// Names the invalid aggregates of a batch (indices into `items`, ascending): one batch
/// check when all are valid, otherwise bisection (about `2·b·log2(n/b)` batch checks for
/// `b` bad among `n`).
pub fn find_invalid(
    table: &KeyTable,
    msg: &[u8],
    items: &[(&SignerVector, &Signature)],
    rng: &mut dyn RngCore,
) -> Result<Vec<usize>, Error> {
    <Bls as Scheme>::find_invalid(table, msg, items, rng)
}
