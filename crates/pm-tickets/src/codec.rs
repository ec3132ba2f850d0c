//! Canonical encodings (DESIGN.md section 3).
//!
//! * [`TicketBatch`] — what a sender sends a recipient with a segment — travels as a
//!   versioned SCALE frame ([`TicketBatch::encode`], [`TicketBatch::decode`]).
//! * [`SignedTicket`] — the redemption record (ticket, signature, revealed rand), the
//!   thing a recipient stores and evidence is built from — is RLP
//!   ([`SignedTicket::to_rlp`], [`SignedTicket::from_rlp`]).
//!
//! The ticket **hash** is not RLP: it is the contract's `abi.encodePacked` layout
//! ([`Ticket::packed`]), because it must match the deployed TicketBroker byte for byte.
//!
//! Every decoder takes untrusted bytes, enforces a size limit before parsing, rejects
//! trailing bytes, non-canonical signatures (high-S, `v ∉ {27, 28}`) and wrong-length
//! `auxData`, and returns a typed [`Error`].

use parity_scale_codec::{Decode, Encode};
use primitives::codec::{decode_frame, encode_frame, rlp_decode};
use primitives::rlp::{self, Decodable, DecoderError, Encodable, Rlp, RlpStream};
use primitives::{Address, H256, Signature};

use crate::Error;
use crate::ticket::{SignedTicket, Ticket, TicketExpirationParams, TicketParams};

/// Version byte of [`TicketBatch`] frames.
pub const BATCH_VERSION: u8 = 1;
/// Most tickets one batch may carry (the recipient's per-rand nonce cap).
pub const MAX_BATCH_TICKETS: usize = 600;
/// Largest encoded batch accepted: params, sender, and [`MAX_BATCH_TICKETS`]
/// `(nonce, signature)` pairs, with room for the length prefix.
pub const MAX_BATCH_BYTES: usize = 512 + MAX_BATCH_TICKETS * (4 + Signature::LEN);
/// Largest RLP [`SignedTicket`] accepted.
pub const MAX_SIGNED_TICKET_RLP: usize = 512;

/// One ticket's sender-specific part: its nonce and signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Encode, Decode)]
pub struct TicketSenderParams {
    /// The sender nonce.
    pub sender_nonce: u32,
    /// The sender's signature over the ticket.
    pub sig: Signature,
}

/// Tickets that share params and sender, each identified by its nonce and signature
/// (go-livepeer `TicketBatch`).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct TicketBatch {
    /// The params the recipient advertised (echoed back so it can recompute the rand).
    pub params: TicketParams,
    /// The paying sender.
    pub sender: Address,
    /// One entry per ticket.
    pub sender_params: Vec<TicketSenderParams>,
}

impl TicketBatch {
    /// The tickets of the batch, with their signatures.
    pub fn tickets(&self) -> impl Iterator<Item = (Ticket, Signature)> + '_ {
        self.sender_params.iter().map(|sp| (Ticket::new(&self.params, self.sender, sp.sender_nonce), sp.sig))
    }

    /// Number of tickets.
    pub fn len(&self) -> usize {
        self.sender_params.len()
    }

    /// Whether the batch has no tickets.
    pub fn is_empty(&self) -> bool {
        self.sender_params.is_empty()
    }

    /// The versioned SCALE frame.
    pub fn encode(&self) -> Vec<u8> {
        encode_frame(BATCH_VERSION, self)
    }

    /// Decodes a frame from untrusted bytes: at most [`MAX_BATCH_BYTES`], between 1 and
    /// [`MAX_BATCH_TICKETS`] tickets, canonical signatures, nothing trailing.
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        let batch: TicketBatch = decode_frame(bytes, BATCH_VERSION, MAX_BATCH_BYTES)?;
        if batch.is_empty() {
            return Err(Error::EmptyBatch);
        }
        if batch.len() > MAX_BATCH_TICKETS {
            return Err(Error::BatchTooLarge { count: batch.len(), limit: MAX_BATCH_TICKETS });
        }
        Ok(batch)
    }
}

impl Encodable for SignedTicket {
    fn rlp_append(&self, s: &mut RlpStream) {
        let t = &self.ticket;
        s.begin_list(9);
        s.append(&t.recipient);
        s.append(&t.sender);
        s.append(&t.face_value);
        s.append(&t.win_prob);
        s.append(&t.sender_nonce);
        s.append(&t.recipient_rand_hash);
        s.append(&t.expiration_params.aux_data().as_slice());
        s.append(&self.sig);
        s.append(&self.recipient_rand);
    }
}

impl Decodable for SignedTicket {
    fn decode(rlp: &Rlp<'_>) -> Result<Self, DecoderError> {
        if rlp.item_count()? != 9 {
            return Err(DecoderError::RlpIncorrectListLen);
        }
        let aux: Vec<u8> = rlp.val_at(6)?;
        let expiration_params = TicketExpirationParams::from_aux_data(&aux)
            .map_err(|_| DecoderError::Custom("invalid auxData"))?;
        Ok(SignedTicket {
            ticket: Ticket {
                recipient: rlp.val_at::<Address>(0)?,
                sender: rlp.val_at(1)?,
                face_value: rlp.val_at(2)?,
                win_prob: rlp.val_at(3)?,
                sender_nonce: rlp.val_at(4)?,
                recipient_rand_hash: rlp.val_at(5)?,
                expiration_params,
            },
            sig: rlp.val_at(7)?,
            recipient_rand: rlp.val_at::<H256>(8)?,
        })
    }
}

impl SignedTicket {
    /// The RLP record `[recipient, sender, faceValue, winProb, senderNonce,
    /// recipientRandHash, auxData, sig, recipientRand]`.
    pub fn to_rlp(&self) -> Vec<u8> {
        rlp::encode(self).to_vec()
    }

    /// Decodes an RLP record from untrusted bytes (at most [`MAX_SIGNED_TICKET_RLP`]).
    pub fn from_rlp(bytes: &[u8]) -> Result<Self, Error> {
        Ok(rlp_decode(bytes, MAX_SIGNED_TICKET_RLP)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ticket::Price;
    use primitives::{SecretKey, U256};

    fn sample() -> (TicketBatch, SecretKey) {
        let key = SecretKey::from_bytes([3; 32]).unwrap();
        let params = TicketParams {
            recipient: Address::repeat_byte(7),
            face_value: U256::from(1_000_000u64),
            win_prob: U256::MAX / 1000,
            recipient_rand_hash: H256::repeat_byte(1),
            seed: H256::repeat_byte(2),
            expiration_block: 99,
            price: Price::new(U256::from(3), U256::from(4)).unwrap(),
            expiration_params: TicketExpirationParams {
                creation_round: 5,
                creation_round_block_hash: H256::repeat_byte(6),
            },
        };
        let sender_params = (1..=3u32)
            .map(|n| {
                let sig = Ticket::new(&params, key.address(), n).sign(&key).unwrap();
                TicketSenderParams { sender_nonce: n, sig }
            })
            .collect();
        (TicketBatch { params, sender: key.address(), sender_params }, key)
    }

    #[test]
    fn batch_round_trip_and_limits() {
        let (batch, _) = sample();
        let bytes = batch.encode();
        assert_eq!(TicketBatch::decode(&bytes).unwrap(), batch);
        let mut extra = bytes.clone();
        extra.push(0);
        assert!(matches!(
            TicketBatch::decode(&extra),
            Err(Error::Primitives(primitives::Error::TrailingBytes { extra: 1 }))
        ));
        let empty = TicketBatch { sender_params: vec![], ..batch.clone() };
        assert_eq!(TicketBatch::decode(&empty.encode()), Err(Error::EmptyBatch));
        let mut big = batch.clone();
        big.sender_params = vec![batch.sender_params[0]; MAX_BATCH_TICKETS + 1];
        assert_eq!(
            TicketBatch::decode(&big.encode()),
            Err(Error::BatchTooLarge { count: MAX_BATCH_TICKETS + 1, limit: MAX_BATCH_TICKETS })
        );
        assert!(batch.tickets().all(|(t, sig)| t.verify_signature(&sig).is_ok()));
    }

    #[test]
    fn signed_ticket_rlp_round_trip() {
        let (batch, _) = sample();
        let (ticket, sig) = batch.tickets().next().unwrap();
        let st = SignedTicket { ticket, sig, recipient_rand: H256::repeat_byte(8) };
        let bytes = st.to_rlp();
        assert_eq!(SignedTicket::from_rlp(&bytes).unwrap(), st);
        assert!(SignedTicket::from_rlp(&bytes[..bytes.len() - 1]).is_err());
    }
}
