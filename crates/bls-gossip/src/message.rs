//! Aggregates, the gossip wire message, and the checkpoint message guardians sign.

use std::sync::Arc;

use crate::scheme::{Scheme, WIRE_SIGNATURE_LEN};
use crate::signers::SignerVector;
use crate::{Error, varint};

/// Version byte of [`GossipMessage`] encodings.
pub const WIRE_VERSION: u8 = 1;

/// Namespace of the guardian checkpoint message (DESIGN.md section 3: one domain per
/// message kind).
pub const CHECKPOINT_DOMAIN: &[u8] = b"meshcast/guardian-checkpoint/v1";

/// `len(domain) ‖ domain ‖ payload`: the bytes actually signed for a message kind, so a
/// signature over one kind can never be replayed as another (the length prefix keeps the
/// split unambiguous).
pub fn namespaced(domain: &[u8], payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(varint::len(domain.len() as u64) + domain.len() + payload.len());
    varint::put(&mut out, domain.len() as u64);
    out.extend_from_slice(domain);
    out.extend_from_slice(payload);
    out
}

/// The message every guardian signs for a checkpoint (whitepaper section 5.2;
/// DESIGN.md section 4.2): `namespaced(CHECKPOINT_DOMAIN, RLP([height, checkpoint_hash,
/// guardian_set_hash]))`. The RLP is Ethereum's (height as a minimal big-endian integer,
/// hashes as 32-byte strings), written here directly so `bls-gossip` needs no RLP crate;
/// the embedder (mlbft-core) computes the keccak hashes.
pub fn checkpoint_message(height: u64, checkpoint_hash: &[u8; 32], guardian_set_hash: &[u8; 32]) -> Vec<u8> {
    let mut payload = Vec::with_capacity(80);
    let be = height.to_be_bytes();
    let skip = be.iter().take_while(|&&b| b == 0).count();
    let h = &be[skip..];
    match h {
        [] => payload.push(0x80),
        [b] if *b < 0x80 => payload.push(*b),
        _ => {
            payload.push(0x80 + h.len() as u8);
            payload.extend_from_slice(h);
        }
    }
    for hash in [checkpoint_hash, guardian_set_hash] {
        payload.push(0xa0);
        payload.extend_from_slice(hash);
    }
    // The payload is 67..=75 bytes, so the list header is the long form with one length byte.
    let mut rlp = Vec::with_capacity(2 + payload.len());
    rlp.push(0xf8);
    rlp.push(payload.len() as u8);
    rlp.extend_from_slice(&payload);
    namespaced(CHECKPOINT_DOMAIN, &rlp)
}

/// An aggregate `(c, σ)`: `signature` folds in `signers.count(u)` signatures by guardian
/// `u` over the instance's message. The signer vector is shared (`Arc`) so copies into
/// outgoing messages are cheap.
#[derive(Clone, Debug, PartialEq)]
pub struct Aggregate<S: Scheme> {
    /// Multiplicity per guardian.
    pub signers: Arc<SignerVector>,
    /// The aggregate signature.
    pub signature: S::Signature,
}

impl<S: Scheme> Aggregate<S> {
    /// Verifies against the guardian keys and message.
    pub fn verify(&self, keys: &[S::PublicKey], msg: &[u8]) -> Result<bool, Error> {
        S::verify_aggregate(keys, msg, &self.signers, &self.signature)
    }
}

/// What guardians gossip: an aggregate for one checkpoint instance.
///
/// Wire form: `version (1) ‖ varint instance ‖ signer vector ‖ signature (96)`.
#[derive(Clone, Debug, PartialEq)]
pub struct GossipMessage<S: Scheme> {
    instance: u64,
    aggregate: Aggregate<S>,
    encoded_len: usize,
}

impl<S: Scheme> GossipMessage<S> {
    /// A message carrying `aggregate` for `instance` (a checkpoint height, or any id the
    /// host routes by).
    pub fn new(instance: u64, aggregate: Aggregate<S>) -> Self {
        let encoded_len = 1 + varint::len(instance) + aggregate.signers.encoded_len() + WIRE_SIGNATURE_LEN;
        GossipMessage { instance, aggregate, encoded_len }
    }

    /// The instance.
    pub fn instance(&self) -> u64 {
        self.instance
    }

    /// The aggregate.
    pub fn aggregate(&self) -> &Aggregate<S> {
        &self.aggregate
    }

    /// Length of [`GossipMessage::encode`]'s output (cached).
    pub fn encoded_len(&self) -> usize {
        self.encoded_len
    }

    /// The wire form.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len);
        out.push(WIRE_VERSION);
        varint::put(&mut out, self.instance);
        self.aggregate.signers.encode_to(&mut out);
        out.extend_from_slice(&S::signature_to_bytes(&self.aggregate.signature));
        out
    }

    /// Decodes untrusted bytes: at most `limit` long, a signer vector over exactly
    /// `guardians` guardians, a signature that parses (subgroup-checked for BLS), no
    /// trailing bytes, canonical throughout. The signature is *not* verified here.
    pub fn decode(bytes: &[u8], guardians: usize, limit: usize) -> Result<Self, Error> {
        if bytes.len() > limit {
            return Err(Error::TooLong { len: bytes.len(), limit });
        }
        let (&version, mut rest) = bytes.split_first().ok_or(Error::Truncated { what: "version" })?;
        if version != WIRE_VERSION {
            return Err(Error::UnsupportedVersion { found: version, expected: WIRE_VERSION });
        }
        let instance = varint::get(&mut rest, "instance")?;
        let signers = SignerVector::decode_from(&mut rest, guardians)?;
        if rest.len() < WIRE_SIGNATURE_LEN {
            return Err(Error::Truncated { what: "signature" });
        }
        if rest.len() > WIRE_SIGNATURE_LEN {
            return Err(Error::Malformed { reason: "trailing bytes" });
        }
        let signature = S::signature_from_bytes(rest)?;
        Ok(GossipMessage::new(instance, Aggregate { signers: Arc::new(signers), signature }))
    }
}
