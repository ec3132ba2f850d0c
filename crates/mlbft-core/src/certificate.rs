//! Quorum certificates: one 96-byte aggregate signature plus a signer bitmap, verified
//! with one aggregate check against the set's key `Σ_{u∈signers} pk_u`, quorum included
//! (DESIGN.md section 4.3 **[beyond]**: BLS votes instead of a list of ECDSA signatures).
//!
//! [`Certificate`] is generic over the member set ([`QuorumSet`]): validators for commit
//! certificates, and `bls_gossip::GuardianSet` for a guardian checkpoint signed once by
//! each guardian.

use bls_gossip::{GuardianSet, Scheme, SignerVector, WIRE_SIGNATURE_LEN};
use primitives::U256;
use primitives::rlp::{Rlp, RlpStream};

use crate::Error;
use crate::types::{BlockRef, expect_list, vote_message};
use crate::validators::{ValidatorIndex, ValidatorSet, exceeds_two_thirds};

/// Largest member set a certificate may name (bounds decoder allocations).
pub const MAX_MEMBERS: usize = 1 << 16;

/// A set of members with keys and stake that certificates are checked against.
pub trait QuorumSet<S: Scheme> {
    /// Keys by member index.
    fn member_keys(&self) -> &[S::PublicKey];
    /// Stake of member `index`.
    fn member_stake(&self, index: usize) -> U256;
    /// Total stake.
    fn total(&self) -> U256;
}

impl<S: Scheme> QuorumSet<S> for ValidatorSet<S> {
    fn member_keys(&self) -> &[S::PublicKey] {
        self.keys()
    }
    fn member_stake(&self, index: usize) -> U256 {
        u32::try_from(index).map_or(U256::zero(), |i| self.stake(i))
    }
    fn total(&self) -> U256 {
        self.total_stake()
    }
}

impl<S: Scheme> QuorumSet<S> for GuardianSet<S> {
    fn member_keys(&self) -> &[S::PublicKey] {
        self.keys()
    }
    fn member_stake(&self, index: usize) -> U256 {
        U256::from(self.stake(index))
    }
    fn total(&self) -> U256 {
        U256::from(self.total_stake())
    }
}

/// Which members signed: bit `i` is byte `i / 8`, bit `i % 8` (LSB first).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SignerBitmap {
    len: usize,
    bytes: Vec<u8>,
}

impl SignerBitmap {
    /// No signers among `len` members.
    pub fn new(len: usize) -> Self {
        SignerBitmap { len, bytes: vec![0; len.div_ceil(8)] }
    }

    /// Marks `index`; fails out of range.
    pub fn insert(&mut self, index: usize) -> Result<(), Error> {
        if index >= self.len {
            return Err(Error::BitmapLength { expected: self.len, got: index });
        }
        self.bytes[index / 8] |= 1 << (index % 8);
        Ok(())
    }

    /// Whether `index` signed.
    pub fn contains(&self, index: usize) -> bool {
        index < self.len && self.bytes[index / 8] >> (index % 8) & 1 == 1
    }

    /// Number of members covered.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether it covers no member.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Signer indices, ascending.
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.len).filter(|&i| self.contains(i))
    }

    /// Number of signers.
    pub fn count(&self) -> usize {
        self.bytes.iter().map(|b| b.count_ones() as usize).sum()
    }

    /// The packed bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Parses packed bytes for a set of `len` members: exactly `⌈len/8⌉` bytes, padding
    /// bits zero (one canonical form).
    pub fn from_bytes(bytes: &[u8], len: usize) -> Result<Self, Error> {
        if bytes.len() != len.div_ceil(8) {
            return Err(Error::BitmapLength { expected: len, got: bytes.len() * 8 });
        }
        if !len.is_multiple_of(8)
            && let Some(last) = bytes.last()
            && last >> (len % 8) != 0
        {
            return Err(Error::Malformed { what: "signer bitmap", reason: "padding bits set".into() });
        }
        Ok(SignerBitmap { len, bytes: bytes.to_vec() })
    }
}

/// An aggregate signature by the members in `signers` over one message.
#[derive(Clone, Debug, PartialEq)]
pub struct Certificate<S: Scheme> {
    /// Who signed.
    pub signers: SignerBitmap,
    /// The aggregate of their signatures (96 bytes on the wire).
    pub signature: S::Signature,
}

impl<S: Scheme> Certificate<S> {
    /// Aggregates `(index, signature)` pairs over a set of `members` members. Fails on an
    /// empty list or an index out of range; duplicates are refused.
    pub fn aggregate(members: usize, sigs: &[(usize, S::Signature)]) -> Result<Self, Error> {
        let mut signers = SignerBitmap::new(members);
        let mut acc: Option<S::Signature> = None;
        for (i, sig) in sigs {
            if signers.contains(*i) {
                return Err(Error::Malformed {
                    what: "certificate",
                    reason: format!("duplicate signer {i}"),
                });
            }
            signers.insert(*i)?;
            acc = Some(acc.map_or_else(|| sig.clone(), |a| S::combine(&a, sig)));
        }
        let signature = acc.ok_or(Error::Scheme(bls_gossip::Error::EmptyAggregate))?;
        Ok(Certificate { signers, signature })
    }

    /// Checks that the signers hold more than 2/3 of `set`'s stake *and* that the
    /// aggregate verifies over `message` (one aggregate check). Quorum is checked first,
    /// so an under-signed certificate costs no pairing.
    pub fn verify(&self, set: &impl QuorumSet<S>, message: &[u8]) -> Result<(), Error> {
        let keys = set.member_keys();
        if self.signers.len() != keys.len() {
            return Err(Error::BitmapLength { expected: keys.len(), got: self.signers.len() });
        }
        let signed = self.signers.iter().fold(U256::zero(), |acc, i| acc.saturating_add(set.member_stake(i)));
        if !exceeds_two_thirds(signed, set.total()) {
            return Err(Error::NoQuorum { signed: signed.to_string(), total: set.total().to_string() });
        }
        let counts: Vec<u8> = (0..keys.len()).map(|i| u8::from(self.signers.contains(i))).collect();
        let vector = SignerVector::from_counts(&counts);
        if S::verify_aggregate(keys, message, &vector, &self.signature)? {
            Ok(())
        } else {
            Err(Error::BadCertificate)
        }
    }

    pub(crate) fn rlp_append(&self, s: &mut RlpStream) {
        s.begin_list(2);
        s.append(&self.signers.as_bytes());
        s.append(&S::signature_to_bytes(&self.signature).as_slice());
    }

    pub(crate) fn rlp_decode(r: &Rlp<'_>, members: usize) -> Result<Self, Error> {
        expect_list(r, 2, "certificate")?;
        if members > MAX_MEMBERS {
            return Err(Error::TooLong { len: members, limit: MAX_MEMBERS });
        }
        let bitmap: Vec<u8> = r.val_at(0)?;
        let signers = SignerBitmap::from_bytes(&bitmap, members)?;
        let sig: Vec<u8> = r.val_at(1)?;
        if sig.len() != WIRE_SIGNATURE_LEN {
            return Err(Error::Malformed {
                what: "certificate",
                reason: format!("signature of {} bytes", sig.len()),
            });
        }
        Ok(Certificate { signers, signature: S::signature_from_bytes(&sig)? })
    }

    /// RLP `[bitmap, signature]`.
    pub fn encode(&self) -> Vec<u8> {
        let mut s = RlpStream::new();
        self.rlp_append(&mut s);
        s.out().to_vec()
    }

    /// Decodes untrusted bytes (at most `limit`) for a set of `members` members. The
    /// signature is parsed (subgroup-checked for BLS), not verified.
    pub fn decode(bytes: &[u8], members: usize, limit: usize) -> Result<Self, Error> {
        let r = bounded_rlp(bytes, limit)?;
        Self::rlp_decode(&r, members)
    }
}

/// A commit certificate (CC): more than 2/3 of validator stake voted for `block`.
#[derive(Clone, Debug, PartialEq)]
pub struct CommitCertificate<S: Scheme> {
    /// The certified block.
    pub block: BlockRef,
    /// The aggregated votes.
    pub cert: Certificate<S>,
}

impl<S: Scheme> CommitCertificate<S> {
    /// Verifies validity and quorum against `set`.
    pub fn verify(&self, set: &ValidatorSet<S>) -> Result<(), Error> {
        self.cert.verify(set, &vote_message(&self.block))
    }

    /// Voters, ascending.
    pub fn signers(&self) -> impl Iterator<Item = ValidatorIndex> + '_ {
        self.cert.signers.iter().map(|i| i as ValidatorIndex)
    }

    pub(crate) fn rlp_append(&self, s: &mut RlpStream) {
        s.begin_list(2);
        self.block.rlp_append(s);
        self.cert.rlp_append(s);
    }

    pub(crate) fn rlp_decode(r: &Rlp<'_>, members: usize) -> Result<Self, Error> {
        expect_list(r, 2, "commit certificate")?;
        Ok(CommitCertificate {
            block: BlockRef::rlp_decode(&r.at(0)?)?,
            cert: Certificate::rlp_decode(&r.at(1)?, members)?,
        })
    }

    /// RLP `[[height, epoch, hash], [bitmap, signature]]`.
    pub fn encode(&self) -> Vec<u8> {
        let mut s = RlpStream::new();
        self.rlp_append(&mut s);
        s.out().to_vec()
    }

    /// Decodes untrusted bytes (at most `limit`) for a set of `members` validators.
    pub fn decode(bytes: &[u8], members: usize, limit: usize) -> Result<Self, Error> {
        let r = bounded_rlp(bytes, limit)?;
        Self::rlp_decode(&r, members)
    }
}

/// The one RLP item of untrusted `bytes`: at most `limit` bytes, spanning all of the input
/// (no trailing bytes). Every decoder of this crate starts here.
pub(crate) fn bounded_rlp(bytes: &[u8], limit: usize) -> Result<Rlp<'_>, Error> {
    if bytes.len() > limit {
        return Err(Error::TooLong { len: bytes.len(), limit });
    }
    let r = Rlp::new(bytes);
    let info = r.payload_info()?;
    if info.header_len + info.value_len != bytes.len() {
        return Err(Error::Malformed { what: "rlp", reason: "trailing bytes".into() });
    }
    Ok(r)
}
