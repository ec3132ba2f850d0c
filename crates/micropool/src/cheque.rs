//! Off-chain cumulative cheques (whitepaper v2.0, "Resource Oriented Micropayment Pool",
//! Figure 7: the `ServicePayment` transactions the viewer signs to each caching peer).
//!
//! A cheque says "of reserve `reserve_seq`, `source` owes `target` a cumulative `amount`
//! for resource `resource_id`"; each new cheque to the same target carries a higher
//! `payment_seq` and replaces the previous one, so a payee keeps only the newest.

use primitives::rlp::{self, Decodable, DecoderError, Encodable, Rlp, RlpStream};
use primitives::{Address, H256, Signature, U256, keccak256};

use crate::error::{Error, Role};

/// Identifies a resource (a video stream or file) the pool pays for: keccak256 of its
/// name, see [`resource_id`].
pub type ResourceId = H256;

/// The resource id of a named resource: `keccak256(name)`.
pub fn resource_id(name: &str) -> ResourceId {
    keccak256(name.as_bytes())
}

/// Domain tag of the cheque digest, so no other signed message of the workspace can be
/// replayed as a cheque.
pub const CHEQUE_DOMAIN: &[u8] = b"meshcast/micropool/cheque/v1";

/// Longest encoded [`SignedCheque`] [`SignedCheque::decode`] accepts.
pub const MAX_CHEQUE_BYTES: usize = 256;

/// One off-chain promise of payment, cumulative per `(source, reserve_seq, target)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Cheque {
    /// The pool's owner, who signs.
    pub source: Address,
    /// Which of the source's reserves pays.
    pub reserve_seq: u64,
    /// The payee.
    pub target: Address,
    /// The resource served.
    pub resource_id: ResourceId,
    /// Cumulative amount owed to `target` by this reserve.
    pub amount: U256,
    /// Strictly increasing per `(reserve, target)`.
    pub payment_seq: u64,
}

impl Cheque {
    /// The digest the source signs: keccak256 of the RLP list
    /// `[CHEQUE_DOMAIN, chain_id, source, reserve_seq, target, resource_id, amount,
    /// payment_seq]`.
    pub fn signing_hash(&self, chain_id: u64) -> H256 {
        let mut s = RlpStream::new_list(8);
        s.append(&CHEQUE_DOMAIN);
        s.append(&chain_id);
        self.append_fields(&mut s);
        keccak256(s.out())
    }

    /// Signs the cheque with the source's key. The caller makes sure the key is the
    /// source's; [`SignedCheque::verify`] checks it.
    pub fn sign(self, key: &primitives::SecretKey, chain_id: u64) -> SignedCheque {
        let signature = key.sign_prehash(&self.signing_hash(chain_id));
        SignedCheque { cheque: self, signature }
    }

    fn append_fields(&self, s: &mut RlpStream) {
        s.append(&self.source);
        s.append(&self.reserve_seq);
        s.append(&self.target);
        s.append(&self.resource_id);
        s.append(&self.amount);
        s.append(&self.payment_seq);
    }

    fn from_fields(r: &Rlp<'_>, at: usize) -> Result<Self, DecoderError> {
        Ok(Cheque {
            source: r.val_at(at)?,
            reserve_seq: r.val_at(at + 1)?,
            target: r.val_at(at + 2)?,
            resource_id: r.val_at(at + 3)?,
            amount: r.val_at(at + 4)?,
            payment_seq: r.val_at(at + 5)?,
        })
    }
}

/// A cheque with the source's secp256k1 signature: what the viewer sends a caching peer.
///
/// Wire form: the RLP list `[source, reserve_seq, target, resource_id, amount,
/// payment_seq, signature]`, canonical, at most [`MAX_CHEQUE_BYTES`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SignedCheque {
    /// The promise.
    pub cheque: Cheque,
    /// The source's signature over [`Cheque::signing_hash`].
    pub signature: Signature,
}

impl SignedCheque {
    /// Checks that the source signed this cheque for `chain_id`.
    pub fn verify(&self, chain_id: u64) -> Result<(), Error> {
        let digest = self.cheque.signing_hash(chain_id);
        check_signer(&self.signature, &digest, self.cheque.source, Role::Source)
    }

    /// The canonical wire bytes.
    pub fn encode(&self) -> Vec<u8> {
        rlp::encode(self).to_vec()
    }

    /// Decodes untrusted wire bytes: at most [`MAX_CHEQUE_BYTES`], canonical RLP only.
    /// The signature is parsed (low-S, v in {27, 28}) but not yet checked against the
    /// source: call [`SignedCheque::verify`].
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        decode_canonical(bytes, MAX_CHEQUE_BYTES, "signed cheque")
    }
}

impl Encodable for SignedCheque {
    fn rlp_append(&self, s: &mut RlpStream) {
        s.begin_list(7);
        self.cheque.append_fields(s);
        s.append(&self.signature);
    }
}

impl Decodable for SignedCheque {
    fn decode(r: &Rlp<'_>) -> Result<Self, DecoderError> {
        if r.item_count()? != 7 {
            return Err(DecoderError::RlpIncorrectListLen);
        }
        Ok(SignedCheque { cheque: Cheque::from_fields(r, 0)?, signature: r.val_at(6)? })
    }
}

/// Recovers the signer of `digest` and compares it with `expected`.
pub(crate) fn check_signer(
    sig: &Signature,
    digest: &H256,
    expected: Address,
    role: Role,
) -> Result<(), Error> {
    match sig.recover(digest) {
        Ok(recovered) if recovered == expected => Ok(()),
        Ok(recovered) => Err(Error::WrongSigner { role, expected, recovered: Some(recovered) }),
        Err(_) => Err(Error::WrongSigner { role, expected, recovered: None }),
    }
}

/// Decodes one RLP value spanning all of `bytes` (at most `limit` long) and rejects any
/// encoding that does not re-encode to the same bytes, so signed bytes are canonical.
pub(crate) fn decode_canonical<T: Decodable + Encodable>(
    bytes: &[u8],
    limit: usize,
    what: &'static str,
) -> Result<T, Error> {
    let value: T = primitives::codec::rlp_decode(bytes, limit).map_err(Error::decode(what))?;
    if rlp::encode(&value).as_ref() != bytes {
        return Err(Error::Decode {
            what,
            source: primitives::Error::Rlp(DecoderError::Custom("non-canonical encoding")),
        });
    }
    Ok(value)
}

/// Verifies a batch of cheques, returning one result per cheque in order.
///
/// With the `parallel` feature the batch is spread over rayon's thread pool (the
/// caller's, if called inside `ThreadPool::install`); without it, one thread.
pub fn verify_batch(cheques: &[SignedCheque], chain_id: u64) -> Vec<Result<(), Error>> {
    #[cfg(feature = "parallel")]
    {
        use rayon::prelude::*;
        cheques.par_iter().map(|c| c.verify(chain_id)).collect()
    }
    #[cfg(not(feature = "parallel"))]
    {
        cheques.iter().map(|c| c.verify(chain_id)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use primitives::SecretKey;

    fn key(b: u8) -> SecretKey {
        SecretKey::from_bytes([b; 32]).unwrap()
    }

    fn cheque(src: &SecretKey) -> Cheque {
        Cheque {
            source: src.address(),
            reserve_seq: 3,
            target: key(2).address(),
            resource_id: resource_id("video/1"),
            amount: U256::from(1_000u64),
            payment_seq: 1,
        }
    }

    #[test]
    fn signed_cheque_round_trips_and_verifies() {
        let src = key(1);
        let sc = cheque(&src).sign(&src, 7);
        let bytes = sc.encode();
        assert!(bytes.len() <= MAX_CHEQUE_BYTES);
        let back = SignedCheque::decode(&bytes).unwrap();
        assert_eq!(back, sc);
        back.verify(7).unwrap();
    }

    #[test]
    fn signature_binds_chain_and_every_field() {
        let src = key(1);
        let sc = cheque(&src).sign(&src, 7);
        assert!(matches!(
            sc.verify(8),
            Err(Error::WrongSigner { role: Role::Source, recovered: Some(r), .. }) if r != src.address()
        ));
        let mut tampered = sc.clone();
        tampered.cheque.amount = U256::from(1_001u64);
        assert!(matches!(tampered.verify(7), Err(Error::WrongSigner { .. })));
        let forged = cheque(&src).sign(&key(9), 7);
        assert_eq!(
            forged.verify(7),
            Err(Error::WrongSigner {
                role: Role::Source,
                expected: src.address(),
                recovered: Some(key(9).address())
            })
        );
    }

    #[test]
    fn decoder_rejects_bad_bytes() {
        let src = key(1);
        let bytes = cheque(&src).sign(&src, 7).encode();
        let mut long = bytes.clone();
        long.push(0);
        assert!(matches!(SignedCheque::decode(&long), Err(Error::Decode { .. })));
        assert!(matches!(SignedCheque::decode(&bytes[..bytes.len() - 1]), Err(Error::Decode { .. })));
        assert!(matches!(SignedCheque::decode(&[0xc0]), Err(Error::Decode { .. })));
        assert!(matches!(
            SignedCheque::decode(&[0u8; MAX_CHEQUE_BYTES + 1]),
            Err(Error::Decode { source: primitives::Error::TooLong { .. }, .. })
        ));
    }

    #[test]
    fn batch_matches_one_by_one() {
        let src = key(1);
        let good = cheque(&src).sign(&src, 7);
        let bad = cheque(&src).sign(&key(4), 7);
        let out = verify_batch(&[good.clone(), bad.clone(), good], 7);
        assert!(out[0].is_ok() && out[1].is_err() && out[2].is_ok());
        assert_eq!(out[1], bad.verify(7));
    }
}
