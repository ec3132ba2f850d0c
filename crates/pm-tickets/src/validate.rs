//! Recipient-side checks: the stateless recipientRand, the per-rand nonce ledger, and
//! ticket validation (signature recovery, win test, replay check).

use std::collections::{BTreeMap, BTreeSet};

use hmac::{KeyInit, Mac};
use primitives::{Address, H256, Signature, U256};

use crate::Error;
use crate::ticket::{Price, Ticket, TicketExpirationParams, is_winning};

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// The default per-rand nonce cap (go-livepeer `MaxSenderNonces`).
pub const MAX_SENDER_NONCES: usize = 600;

/// Everything a recipient's rand commits to. A sender must echo these unchanged, or the
/// recomputed rand no longer hashes to the advertised `recipientRandHash`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RandInput<'a> {
    /// The fresh seed of the quote.
    pub seed: &'a H256,
    /// The sender the quote is for.
    pub sender: &'a Address,
    /// Advertised face value.
    pub face_value: &'a U256,
    /// Advertised win probability.
    pub win_prob: &'a U256,
    /// Advertised params expiration block.
    pub expiration_block: u64,
    /// Advertised price.
    pub price: &'a Price,
    /// Advertised creation round and block hash.
    pub expiration_params: &'a TicketExpirationParams,
}

/// The stateless recipientRand: `HMAC-SHA256(secret, seed ‖ sender ‖ faceValue ‖ winProb
/// ‖ expirationBlock ‖ price.num ‖ price.den ‖ auxData)`.
///
/// **\[beyond\]** Every field is fixed-width (32-byte words; 20-byte sender; 64-byte
/// auxData), so the message is unambiguous. go-livepeer concatenates minimal big-endian
/// encodings (`big.Int.Bytes()`), so e.g. faceValue `0x0102` with winProb `0x03` and
/// faceValue `0x01` with winProb `0x0203` give the same rand — a sender could shift
/// bytes between fields. The rand never goes on chain except as its hash, so this
/// change costs no compatibility with the TicketBroker.
pub fn recipient_rand(secret: &[u8; 32], input: &RandInput<'_>) -> H256 {
    // HMAC pads keys shorter than the 64-byte SHA-256 block with zeros, so the padded
    // key is the same key, and the constructor cannot fail.
    let mut block_key = [0u8; 64];
    block_key[..32].copy_from_slice(secret);
    let mut mac = HmacSha256::new(&block_key.into());
    let mut word = [0u8; 32];
    mac.update(input.seed.as_bytes());
    mac.update(input.sender.as_bytes());
    for v in [
        input.face_value,
        input.win_prob,
        &U256::from(input.expiration_block),
        &input.price.num,
        &input.price.den,
    ] {
        v.write_as_big_endian(&mut word);
        mac.update(&word);
    }
    mac.update(&input.expiration_params.aux_data());
    H256::from_slice(mac.finalize().into_bytes().as_slice())
}

/// Nonces seen under one recipientRand, capped (go-livepeer keeps at most 600).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NonceLedger {
    seen: BTreeSet<u32>,
}

impl NonceLedger {
    /// An empty ledger.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of nonces recorded.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// Whether no nonce is recorded.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    /// Whether `nonce` was recorded.
    pub fn contains(&self, nonce: u32) -> bool {
        self.seen.contains(&nonce)
    }

    /// The recorded nonces in increasing order.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        self.seen.iter().copied()
    }

    /// Records `nonce`: a replay is [`Error::NonceReplayed`], a full ledger
    /// [`Error::TooManyNonces`]. Nonces may arrive in any order.
    pub fn record(&mut self, nonce: u32, cap: usize) -> Result<(), Error> {
        if self.seen.contains(&nonce) {
            return Err(Error::NonceReplayed { nonce });
        }
        if self.seen.len() >= cap {
            return Err(Error::TooManyNonces { limit: cap });
        }
        self.seen.insert(nonce);
        Ok(())
    }
}

/// The outcome of validating one ticket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Validated {
    /// The ticket hash.
    pub hash: H256,
    /// Whether it won.
    pub wins: bool,
}

/// Validates one ticket whose params were already checked: recovers the signer
/// (must be the sender), records the nonce in `ledger` (replay check), and runs the
/// win test. On error the ledger is unchanged.
pub fn validate_ticket(
    ticket: &Ticket,
    sig: &Signature,
    recipient_rand: &H256,
    ledger: &mut NonceLedger,
    nonce_cap: usize,
) -> Result<Validated, Error> {
    let hash = ticket.verify_signature(sig)?;
    ledger.record(ticket.sender_nonce, nonce_cap)?;
    Ok(Validated { hash, wins: is_winning(sig, recipient_rand, ticket.win_prob) })
}

/// Verifies the signatures of many tickets one after another, returning their hashes
/// in order.
pub fn verify_signatures(tickets: &[(Ticket, Signature)]) -> Vec<Result<H256, Error>> {
    tickets.iter().map(|(t, s)| t.verify_signature(s)).collect()
}

/// Like [`verify_signatures`], with the recoveries spread over rayon's thread pool
/// (feature `parallel`). Same results, same order.
#[cfg(feature = "parallel")]
pub fn par_verify_signatures(tickets: &[(Ticket, Signature)]) -> Vec<Result<H256, Error>> {
    use rayon::prelude::*;
    tickets.par_iter().map(|(t, s)| t.verify_signature(s)).collect()
}

/// The TicketBroker's creation-round block-hash rule (the auxData check): the ticket's
/// creation round is known, with a non-zero block hash, and the ticket names exactly that
/// hash. `round_hashes` maps rounds to their block hashes. Shared by
/// the broker and the recipient, so both judge a ticket the same way.
pub(crate) fn check_creation_round_hash(
    round_hashes: &BTreeMap<u64, H256>,
    ep: &TicketExpirationParams,
) -> Result<(), Error> {
    let expected = round_hashes
        .get(&ep.creation_round)
        .copied()
        .filter(|h| !h.is_zero())
        .ok_or(Error::UnknownCreationRound { round: U256::from(ep.creation_round) })?;
    if expected != ep.creation_round_block_hash {
        return Err(Error::CreationRoundBlockHashMismatch {
            round: ep.creation_round,
            found: ep.creation_round_block_hash,
            expected,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ledger_replay_and_cap() {
        let mut l = NonceLedger::new();
        l.record(5, 2).unwrap();
        assert_eq!(l.record(5, 2), Err(Error::NonceReplayed { nonce: 5 }));
        l.record(1, 2).unwrap();
        assert_eq!(l.record(9, 2), Err(Error::TooManyNonces { limit: 2 }));
        assert_eq!(l.len(), 2);
    }

    #[test]
    fn rand_binds_every_field() {
        let secret = [7u8; 32];
        let (seed, sender, face, wp) =
            (H256::repeat_byte(1), Address::repeat_byte(2), U256::from(0x0102), U256::from(3));
        let price = Price::new(U256::one(), U256::one()).unwrap();
        let ep = TicketExpirationParams::default();
        let base = RandInput {
            seed: &seed,
            sender: &sender,
            face_value: &face,
            win_prob: &wp,
            expiration_block: 9,
            price: &price,
            expiration_params: &ep,
        };
        let r = recipient_rand(&secret, &base);
        // The go-livepeer ambiguity: shifting a byte from faceValue into winProb.
        let (face2, wp2) = (U256::from(1), U256::from(0x0203));
        assert_ne!(r, recipient_rand(&secret, &RandInput { face_value: &face2, win_prob: &wp2, ..base }));
        assert_ne!(r, recipient_rand(&secret, &RandInput { expiration_block: 10, ..base }));
        let ep2 = TicketExpirationParams { creation_round: 1, ..ep };
        assert_ne!(r, recipient_rand(&secret, &RandInput { expiration_params: &ep2, ..base }));
        assert_ne!(r, recipient_rand(&[8u8; 32], &base));
        assert_eq!(r, recipient_rand(&secret, &base));
        // Independently: HMAC over the message assembled by hand, with the unpadded key.
        let mut msg = Vec::new();
        msg.extend_from_slice(seed.as_bytes());
        msg.extend_from_slice(sender.as_bytes());
        for v in [face, wp, U256::from(9), U256::one(), U256::one()] {
            msg.extend_from_slice(&v.to_big_endian());
        }
        msg.extend_from_slice(&[0u8; 64]);
        let mut mac = HmacSha256::new_from_slice(&secret).unwrap();
        mac.update(&msg);
        assert_eq!(r.as_bytes(), mac.finalize().into_bytes().as_slice());
    }

    #[test]
    fn hmac_rfc4231_case_2() {
        let mut mac = HmacSha256::new_from_slice(b"Jefe").unwrap();
        mac.update(b"what do ya want for nothing?");
        assert_eq!(
            primitives::codec::to_hex(mac.finalize().into_bytes()),
            "0x5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
