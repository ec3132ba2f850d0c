//! The recipient's saved state: what a restarted recipient process needs so that it
//! never credits a ticket twice and never forgets a winner ([`crate::Recipient::export_state`],
//! [`crate::Recipient::restore`]).
//!
//! A versioned SCALE frame (DESIGN.md section 3) with a size limit; every collection has
//! a fixed cap that the live machine also enforces ([`Error::StateFull`]), so
//! an exported state always decodes.

use parity_scale_codec::{Decode, Encode};
use primitives::codec::{decode_frame, encode_frame};
use primitives::{Address, H256, U256, keccak256_concat};

use crate::Error;
use crate::ticket::{SignedTicket, rand_hash};
use crate::validate::MAX_SENDER_NONCES;

/// Version byte of [`RecipientState`] frames.
pub const RECIPIENT_STATE_VERSION: u8 = 1;
/// Most boot generations whose params a recipient still accepts (its own and those of
/// earlier processes restored from state, until their params expire).
pub const MAX_SAVED_GENERATIONS: usize = 32;
/// Most round block hashes kept.
pub const MAX_SAVED_ROUNDS: usize = 1_024;
/// Most senders with a funds report.
pub const MAX_SAVED_SENDERS: usize = 16_384;
/// Most recipientRands with a nonce ledger or a revealed mark, together.
pub const MAX_SAVED_RANDS: usize = 4_096;
/// Most winners queued or in flight, together.
pub const MAX_SAVED_WINNERS: usize = 16_384;
/// Largest encoded [`RecipientState`] accepted: a header plus every collection at its
/// cap, each entry at its largest SCALE size (a rand ledger carries at most
/// [`MAX_SENDER_NONCES`] nonces).
pub const MAX_RECIPIENT_STATE_BYTES: usize = 512
    + MAX_SAVED_GENERATIONS * (16 + 8)
    + MAX_SAVED_ROUNDS * (8 + 32)
    + MAX_SAVED_SENDERS * (20 + 32 + 8 + 8)
    + MAX_SAVED_RANDS * (32 + 8 + 5 + MAX_SENDER_NONCES * 4)
    + MAX_SAVED_WINNERS * 384;

/// A boot generation: the first 16 bytes of every quote seed a recipient process issues
/// ([`crate::Recipient::generation`]).
pub type Generation = [u8; 16];

/// The generation of a quote seed.
pub fn generation_of(seed: &H256) -> Generation {
    let mut g = [0u8; 16];
    g.copy_from_slice(&seed.as_bytes()[..16]);
    g
}

/// A fingerprint of the HMAC secret, so a state is not restored under another secret.
pub(crate) fn secret_id(secret: &[u8; 32]) -> H256 {
    keccak256_concat([b"pm-tickets/secret-id".as_slice(), secret])
}

/// A generation whose params are still accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub struct SavedGeneration {
    /// The generation (first 16 bytes of its quote seeds).
    pub id: Generation,
    /// The latest `expirationBlock` quoted under it: from that block on its params are
    /// expired and it is forgotten.
    pub last_expiration_block: u64,
}

/// A sender's funds as last reported, less the payments confirmed since.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub struct SavedFunds {
    /// The sender.
    pub sender: Address,
    /// Its max float less confirmed payments since the report.
    pub max_float: U256,
    /// Its withdraw round (0: no unlock).
    pub withdraw_round: u64,
    /// Block of its last report or accepted batch.
    pub last_active: u64,
}

/// The nonce ledger of one recipientRand.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct SavedRand {
    /// The recipientRand (secret: the state is as sensitive as the HMAC key).
    pub rand: H256,
    /// Its params' expiration block.
    pub expiration_block: u64,
    /// Nonces credited under it, strictly increasing (at most [`MAX_SENDER_NONCES`]).
    pub nonces: Vec<u32>,
}

/// A recipientRand revealed by a redemption: no batch may use it again.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub struct SavedRevealed {
    /// The recipientRandHash.
    pub rand_hash: H256,
    /// Its params' expiration block.
    pub expiration_block: u64,
}

/// A winner queued or in flight.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub struct SavedWinner {
    /// The ticket, its signature and rand.
    pub ticket: SignedTicket,
    /// Its params' expiration block (redeemed only from then on).
    pub expiration_block: u64,
    /// Failed submissions so far.
    pub attempts: u32,
    /// Not submitted before this time, milliseconds of the host's logical time.
    pub retry_at_ms: u64,
    /// `Some(expected payment)` while in flight: the host was asked to submit it and
    /// must answer `Redeemed` or `RedeemFailed` after the restore too.
    pub in_flight: Option<U256>,
}

/// Everything a [`crate::Recipient`] needs to continue after a restart without crediting
/// a ticket twice or losing a winner: the generations it still accepts, the nonce
/// ledgers, revealed rands, queued and in-flight winners, funds, chain view and quote
/// counter. Pending outputs are not part of it (drain them before exporting).
///
/// It holds the recipientRands: store it as carefully as the HMAC secret.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct RecipientState {
    /// The recipient's address.
    pub recipient: Address,
    /// keccak256("pm-tickets/secret-id" ‖ secret): [`crate::Recipient::restore`] refuses
    /// another secret.
    pub secret_id: H256,
    /// Quotes issued so far (continues across restores).
    pub quotes: u64,
    /// Generations whose unexpired params are accepted, in id order.
    pub generations: Vec<SavedGeneration>,
    /// Last block seen.
    pub block: u64,
    /// Current round.
    pub round: u64,
    /// Block hash of the current round.
    pub round_block_hash: H256,
    /// Last gas price.
    pub gas_price: U256,
    /// Known round block hashes, in round order.
    pub round_hashes: Vec<(u64, H256)>,
    /// Funds per sender, in address order.
    pub funds: Vec<SavedFunds>,
    /// Nonce ledgers, in rand order.
    pub rands: Vec<SavedRand>,
    /// Revealed rands, in hash order.
    pub revealed: Vec<SavedRevealed>,
    /// Winners queued or in flight, in ticket-hash order.
    pub winners: Vec<SavedWinner>,
}

fn invalid(reason: &'static str) -> Error {
    Error::InvalidRecipientState { reason }
}

fn strictly_increasing<T, K: Ord>(
    items: &[T],
    key: impl Fn(&T) -> K,
    reason: &'static str,
) -> Result<(), Error> {
    if items.windows(2).all(|w| key(&w[0]) < key(&w[1])) { Ok(()) } else { Err(invalid(reason)) }
}

impl RecipientState {
    /// The versioned SCALE frame (at most [`MAX_RECIPIENT_STATE_BYTES`] for a state
    /// exported by a recipient).
    pub fn encode(&self) -> Vec<u8> {
        encode_frame(RECIPIENT_STATE_VERSION, self)
    }

    /// Decodes a frame (at most [`MAX_RECIPIENT_STATE_BYTES`], version
    /// [`RECIPIENT_STATE_VERSION`], nothing trailing) and checks it
    /// ([`RecipientState::validate`]).
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        let state: RecipientState = decode_frame(bytes, RECIPIENT_STATE_VERSION, MAX_RECIPIENT_STATE_BYTES)?;
        state.validate()?;
        Ok(state)
    }

    /// Checks what a restore relies on ([`Error::InvalidRecipientState`]): non-zero
    /// recipient; every collection within its cap (`MAX_SAVED_*`; rands and revealed
    /// together within [`MAX_SAVED_RANDS`]); keys strictly increasing (so no
    /// duplicates); every ledger's nonces strictly increasing, at most
    /// [`MAX_SENDER_NONCES`]; every winner names this recipient, carries a rand that
    /// hashes to its recipientRandHash, and expects to be paid at most its face value.
    /// Signatures are checked by [`crate::Recipient::restore`].
    pub fn validate(&self) -> Result<(), Error> {
        if self.recipient.is_zero() {
            return Err(invalid("zero recipient"));
        }
        if self.generations.len() > MAX_SAVED_GENERATIONS {
            return Err(invalid("too many generations"));
        }
        if self.round_hashes.len() > MAX_SAVED_ROUNDS {
            return Err(invalid("too many rounds"));
        }
        if self.funds.len() > MAX_SAVED_SENDERS {
            return Err(invalid("too many senders"));
        }
        if self.rands.len().saturating_add(self.revealed.len()) > MAX_SAVED_RANDS {
            return Err(invalid("too many rands"));
        }
        if self.winners.len() > MAX_SAVED_WINNERS {
            return Err(invalid("too many winners"));
        }
        strictly_increasing(&self.generations, |g| g.id, "generations not strictly increasing")?;
        strictly_increasing(&self.round_hashes, |r| r.0, "rounds not strictly increasing")?;
        strictly_increasing(&self.funds, |f| f.sender, "senders not strictly increasing")?;
        strictly_increasing(&self.rands, |r| r.rand, "rands not strictly increasing")?;
        strictly_increasing(&self.revealed, |r| r.rand_hash, "revealed rands not strictly increasing")?;
        for r in &self.rands {
            if r.nonces.len() > MAX_SENDER_NONCES {
                return Err(invalid("too many nonces for one rand"));
            }
            strictly_increasing(&r.nonces, |n| *n, "nonces not strictly increasing")?;
        }
        let mut last: Option<H256> = None;
        for w in &self.winners {
            let t = &w.ticket.ticket;
            if t.recipient != self.recipient {
                return Err(invalid("winner for another recipient"));
            }
            if rand_hash(&w.ticket.recipient_rand) != t.recipient_rand_hash {
                return Err(invalid("winner's rand does not match its hash"));
            }
            if w.in_flight.is_some_and(|e| e > t.face_value) {
                return Err(invalid("winner expects more than its face value"));
            }
            let h = t.hash();
            if last.is_some_and(|l| l >= h) {
                return Err(invalid("winners not strictly increasing"));
            }
            last = Some(h);
        }
        Ok(())
    }
}
