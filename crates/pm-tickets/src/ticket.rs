//! Tickets, their parameters, the packed hash, the signature and the win test
//! (DESIGN.md section 4.5; Livepeer Streamflow, "probabilistic micropayments").
//!
//! Byte layouts follow the deployed `TicketBroker` (`MixinTicketBrokerCore.getTicketHash`,
//! `isValidTicketSig`, `isWinningTicket`) and go-livepeer's `pm` package.

use parity_scale_codec::{Decode, Encode};
use primitives::{Address, H256, SecretKey, Signature, U256, keccak256, keccak256_concat};

use crate::Error;
use crate::ev::ExpectedValue;

/// Length of the packed ticket preimage: 20 + 20 + 32 + 32 + 32 + 32 + 64.
pub const PACKED_LEN: usize = 232;

/// Length of `auxData`: creationRound (32 bytes, big-endian) ‖ creationRoundBlockHash.
pub const AUX_DATA_LEN: usize = 64;

/// The largest win probability, `2^256 − 1`: a ticket with this `winProb` wins unless its
/// win hash is exactly `2^256 − 1`. Probabilities are `winProb / (2^256 − 1)`.
pub const MAX_WIN_PROB: U256 = U256::MAX;

/// When a ticket was created, which bounds how long it can be redeemed
/// (`auxData` of the on-chain ticket).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Encode, Decode)]
pub struct TicketExpirationParams {
    /// The round in which the ticket was created (the last initialized round).
    pub creation_round: u64,
    /// The block hash the round was initialized with.
    pub creation_round_block_hash: H256,
}

impl TicketExpirationParams {
    /// `auxData`: creationRound as a 32-byte big-endian word ‖ creationRoundBlockHash.
    pub fn aux_data(&self) -> [u8; AUX_DATA_LEN] {
        let mut out = [0u8; AUX_DATA_LEN];
        out[24..32].copy_from_slice(&self.creation_round.to_be_bytes());
        out[32..].copy_from_slice(self.creation_round_block_hash.as_bytes());
        out
    }

    /// Parses `auxData` as the contract does (`getCreationRoundAndBlockHash`): exactly
    /// 64 bytes. Rounds that do not fit in `u64` are refused as unknown rounds.
    pub fn from_aux_data(bytes: &[u8]) -> Result<Self, Error> {
        if bytes.len() != AUX_DATA_LEN {
            return Err(Error::BadAuxDataLength { len: bytes.len() });
        }
        let round = U256::from_big_endian(&bytes[..32]);
        if round > U256::from(u64::MAX) {
            return Err(Error::UnknownCreationRound { round });
        }
        Ok(TicketExpirationParams {
            creation_round: round.low_u64(),
            creation_round_block_hash: H256::from_slice(&bytes[32..]),
        })
    }
}

/// A price per unit of work (per pixel in Livepeer) as an exact fraction.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Encode, Decode)]
pub struct Price {
    /// Numerator, in base units.
    pub num: U256,
    /// Denominator (units of work); never zero in a valid price.
    pub den: U256,
}

impl Price {
    /// `num / den`; a zero denominator is an error.
    pub fn new(num: U256, den: U256) -> Result<Self, Error> {
        if den.is_zero() {
            return Err(Error::ZeroPriceDenominator);
        }
        Ok(Price { num, den })
    }
}

/// What a recipient advertises to a sender (go-livepeer `TicketParams`).
///
/// `recipient_rand_hash` commits to a secret `recipientRand` that the recipient can
/// recompute from `seed` and the other fields (see [`crate::validate::recipient_rand`]), so the
/// recipient keeps no per-quote state and a sender that alters any field is caught.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Encode, Decode)]
pub struct TicketParams {
    /// The recipient (orchestrator) address.
    pub recipient: Address,
    /// Paid out if the ticket wins.
    pub face_value: U256,
    /// Wins iff the win hash is below this (probability `winProb / (2^256 − 1)`).
    pub win_prob: U256,
    /// keccak256 of the recipient's secret rand.
    pub recipient_rand_hash: H256,
    /// The fresh value the rand was derived from.
    pub seed: H256,
    /// Tickets must be received before this block.
    pub expiration_block: u64,
    /// The advertised price.
    pub price: Price,
    /// Creation round and its block hash, fixed at quote time.
    pub expiration_params: TicketExpirationParams,
}

impl TicketParams {
    /// The exact expected value of one ticket made with these params.
    pub fn expected_value(&self) -> ExpectedValue {
        ExpectedValue::of(self.face_value, self.win_prob)
    }
}

/// A lottery ticket (the on-chain `Ticket` struct).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Encode, Decode)]
pub struct Ticket {
    /// Who can redeem it.
    pub recipient: Address,
    /// Who pays; must have signed it.
    pub sender: Address,
    /// Payout if it wins.
    pub face_value: U256,
    /// Win threshold.
    pub win_prob: U256,
    /// Makes each ticket under one recipientRand unique (`uint256` on chain,
    /// `uint32` in go-livepeer; this crate uses go-livepeer's range).
    pub sender_nonce: u32,
    /// Commitment to the recipient's rand.
    pub recipient_rand_hash: H256,
    /// `auxData`.
    pub expiration_params: TicketExpirationParams,
}

impl Ticket {
    /// The ticket a sender makes from advertised `params` with nonce `sender_nonce`.
    pub fn new(params: &TicketParams, sender: Address, sender_nonce: u32) -> Self {
        Ticket {
            recipient: params.recipient,
            sender,
            face_value: params.face_value,
            win_prob: params.win_prob,
            sender_nonce,
            recipient_rand_hash: params.recipient_rand_hash,
            expiration_params: params.expiration_params,
        }
    }

    /// `abi.encodePacked(recipient, sender, faceValue, winProb, senderNonce,
    /// recipientRandHash, auxData)`: 232 bytes.
    pub fn packed(&self) -> [u8; PACKED_LEN] {
        let mut out = [0u8; PACKED_LEN];
        out[0..20].copy_from_slice(self.recipient.as_bytes());
        out[20..40].copy_from_slice(self.sender.as_bytes());
        self.face_value.write_as_big_endian(&mut out[40..72]);
        self.win_prob.write_as_big_endian(&mut out[72..104]);
        out[132..136].copy_from_slice(&self.sender_nonce.to_be_bytes());
        out[136..168].copy_from_slice(self.recipient_rand_hash.as_bytes());
        out[168..].copy_from_slice(&self.expiration_params.aux_data());
        out
    }

    /// The ticket hash: keccak256 of [`Ticket::packed`]. It is also the key of the
    /// broker's used-ticket set.
    pub fn hash(&self) -> H256 {
        keccak256(self.packed())
    }

    /// The digest that is actually signed: EIP-191
    /// `keccak256("\x19Ethereum Signed Message:\n32" ‖ hash)`.
    pub fn sign_digest(&self) -> H256 {
        signed_digest(&self.hash())
    }

    /// Signs the ticket (RFC 6979 nonce, low-S, `v ∈ {27, 28}`). The key's address must
    /// be the ticket's sender.
    pub fn sign(&self, key: &SecretKey) -> Result<Signature, Error> {
        let signer = key.address();
        if signer != self.sender {
            return Err(Error::SignerMismatch { signer, sender: self.sender });
        }
        Ok(key.sign_prehash(&self.sign_digest()))
    }

    /// Checks that `sig` is the sender's signature over this ticket; returns the ticket
    /// hash. One public-key recovery.
    pub fn verify_signature(&self, sig: &Signature) -> Result<H256, Error> {
        if self.sender.is_zero() {
            return Err(Error::ZeroSender);
        }
        let hash = self.hash();
        let recovered = sig.recover(&signed_digest(&hash))?;
        if recovered != self.sender {
            return Err(Error::BadSignature { sender: self.sender, recovered });
        }
        Ok(hash)
    }

    /// The exact expected value of this ticket.
    pub fn expected_value(&self) -> ExpectedValue {
        ExpectedValue::of(self.face_value, self.win_prob)
    }
}

/// EIP-191 digest of a 32-byte ticket hash (`ECDSA.toEthSignedMessageHash(bytes32)`).
pub fn signed_digest(hash: &H256) -> H256 {
    keccak256_concat([b"\x19Ethereum Signed Message:\n32".as_slice(), hash.as_bytes()])
}

/// `keccak256(abi.encodePacked(recipientRand))`: the commitment advertised in params.
pub fn rand_hash(recipient_rand: &H256) -> H256 {
    keccak256(recipient_rand.as_bytes())
}

/// The win hash `uint256(keccak256(sig ‖ recipientRand))`.
pub fn win_hash(sig: &Signature, recipient_rand: &H256) -> U256 {
    let h = keccak256_concat([sig.to_bytes().as_slice(), recipient_rand.as_bytes()]);
    U256::from_big_endian(h.as_bytes())
}

/// The win test of `TicketBroker.isWinningTicket`: `win_hash(sig, rand) < winProb`.
pub fn is_winning(sig: &Signature, recipient_rand: &H256, win_prob: U256) -> bool {
    win_hash(sig, recipient_rand) < win_prob
}

/// A ticket with the sender's signature and, once revealed, the recipient's rand:
/// everything `redeemWinningTicket` takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Encode, Decode)]
pub struct SignedTicket {
    /// The ticket.
    pub ticket: Ticket,
    /// The sender's signature over [`Ticket::sign_digest`].
    pub sig: Signature,
    /// The preimage of `ticket.recipient_rand_hash`.
    pub recipient_rand: H256,
}

impl SignedTicket {
    /// Whether the ticket wins (does not check the signature or the rand).
    pub fn wins(&self) -> bool {
        is_winning(&self.sig, &self.recipient_rand, self.ticket.win_prob)
    }

    /// Checks the contract's winning-ticket rules that need no chain state: non-zero
    /// recipient and sender, rand matches its hash, valid sender signature, and a win.
    /// Returns the ticket hash.
    pub fn check_winning(&self) -> Result<H256, Error> {
        let t = &self.ticket;
        if t.recipient.is_zero() {
            return Err(Error::ZeroRecipient);
        }
        if t.sender.is_zero() {
            return Err(Error::ZeroSender);
        }
        let computed = rand_hash(&self.recipient_rand);
        if computed != t.recipient_rand_hash {
            return Err(Error::RecipientRandMismatch { expected: t.recipient_rand_hash, computed });
        }
        let hash = t.verify_signature(&self.sig)?;
        if !self.wins() {
            return Err(Error::NotWinning);
        }
        Ok(hash)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_layout_is_abi_encode_packed() {
        let t = Ticket {
            recipient: Address::repeat_byte(0x11),
            sender: Address::repeat_byte(0x22),
            face_value: U256::from(0x0102),
            win_prob: U256::MAX,
            sender_nonce: 0x0a0b0c0d,
            recipient_rand_hash: H256::repeat_byte(0x33),
            expiration_params: TicketExpirationParams {
                creation_round: 0x0506,
                creation_round_block_hash: H256::repeat_byte(0x44),
            },
        };
        let p = t.packed();
        assert_eq!(&p[..20], &[0x11; 20]);
        assert_eq!(&p[20..40], &[0x22; 20]);
        assert_eq!(&p[70..72], &[1, 2]);
        assert!(p[40..70].iter().all(|&b| b == 0));
        assert_eq!(&p[72..104], &[0xff; 32]);
        assert!(p[104..132].iter().all(|&b| b == 0));
        assert_eq!(&p[132..136], &[0x0a, 0x0b, 0x0c, 0x0d]);
        assert_eq!(&p[136..168], &[0x33; 32]);
        assert_eq!(&p[198..200], &[5, 6]);
        assert_eq!(&p[200..], &[0x44; 32]);
        assert_eq!(TicketExpirationParams::from_aux_data(&p[168..]).unwrap(), t.expiration_params);
    }

    #[test]
    fn aux_data_rejects_bad_length_and_huge_round() {
        assert_eq!(TicketExpirationParams::from_aux_data(&[0; 63]), Err(Error::BadAuxDataLength { len: 63 }));
        let mut aux = [0u8; 64];
        aux[0] = 1;
        assert!(matches!(
            TicketExpirationParams::from_aux_data(&aux),
            Err(Error::UnknownCreationRound { .. })
        ));
    }

    #[test]
    fn sign_refuses_foreign_sender() {
        let key = SecretKey::from_bytes([5; 32]).unwrap();
        let mut t = Ticket {
            recipient: Address::repeat_byte(1),
            sender: Address::repeat_byte(2),
            face_value: U256::one(),
            win_prob: U256::one(),
            sender_nonce: 1,
            recipient_rand_hash: H256::zero(),
            expiration_params: TicketExpirationParams::default(),
        };
        assert!(matches!(t.sign(&key), Err(Error::SignerMismatch { .. })));
        t.sender = key.address();
        let sig = t.sign(&key).unwrap();
        assert_eq!(t.verify_signature(&sig).unwrap(), t.hash());
        t.sender_nonce = 2;
        assert!(matches!(t.verify_signature(&sig), Err(Error::BadSignature { .. })));
    }

    #[test]
    fn win_test_edges() {
        let key = SecretKey::from_bytes([5; 32]).unwrap();
        let sig = key.sign_prehash(&keccak256(b"x"));
        let rand = H256::repeat_byte(9);
        assert!(!is_winning(&sig, &rand, U256::zero()));
        let h = win_hash(&sig, &rand);
        assert!(!is_winning(&sig, &rand, h));
        assert!(is_winning(&sig, &rand, h + 1));
    }
}
