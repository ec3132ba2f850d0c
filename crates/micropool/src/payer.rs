//! The viewer's side of the off-chain protocol (whitepaper Figure 7): one cumulative
//! cheque stream per caching peer, all drawn on one reserve.

use std::collections::{BTreeMap, VecDeque};

use primitives::{Address, Machine, Signer, Timestamp, U256};

use crate::cheque::{Cheque, ResourceId, SignedCheque};
use crate::error::Error;

/// What the payer needs to know about its reserve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayerConfig {
    /// Chain id of the signatures.
    pub chain_id: u64,
    /// The reserve the cheques draw on.
    pub reserve_seq: u64,
    /// Its deposit: the payer never signs more than this in total.
    pub deposit: U256,
    /// When the reserve stops paying (the host converts the end height to time); no
    /// cheques are signed from then on.
    pub expires_at: Timestamp,
}

/// Inputs of [`Payer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayerInput {
    /// A chunk of `resource_id` arrived from `peer`; pay it `price`.
    ChunkReceived {
        /// The caching peer that served it.
        peer: Address,
        /// The resource.
        resource_id: ResourceId,
        /// What the chunk costs.
        price: U256,
    },
    /// The host's timer fired (see [`Machine::poll_timeout`]).
    Timeout,
}

/// Events of [`Payer`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayerEvent {
    /// The reserve expired; the payer signs nothing more.
    Expired,
}

/// Outputs of [`Payer`].
// Outputs are drained right after each `handle`; boxing the large variant would cost an
// allocation per cheque for no gain.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayerOutput {
    /// Send this cheque to `to`.
    Send {
        /// The peer.
        to: Address,
        /// Its newest cumulative cheque.
        cheque: SignedCheque,
    },
    /// Something the host may want to log.
    Event(PayerEvent),
}

/// The viewer's payment machine.
///
/// Call order: [`Payer::new`], then [`Machine::handle`] with
/// [`PayerInput::ChunkReceived`] as chunks arrive from any peer (switching peers at any
/// time), draining [`Machine::poll_output`] after each call.
#[derive(Debug)]
pub struct Payer<S> {
    cfg: PayerConfig,
    signer: S,
    owed: BTreeMap<Address, (u64, U256)>,
    signed: U256,
    expired: bool,
    out: VecDeque<PayerOutput>,
}

impl<S: Signer> Payer<S> {
    /// A payer for one reserve. `seed` is unused: the machine draws no randomness.
    pub fn new(config: PayerConfig, ctx: S, now: Timestamp, seed: [u8; 32]) -> Self {
        let _ = (now, seed);
        Payer {
            cfg: config,
            signer: ctx,
            owed: BTreeMap::new(),
            signed: U256::zero(),
            expired: false,
            out: VecDeque::new(),
        }
    }

    /// Total promised so far over all peers.
    pub fn signed_total(&self) -> U256 {
        self.signed
    }

    /// Cumulative amount promised to `peer`.
    pub fn owed_to(&self, peer: &Address) -> U256 {
        self.owed.get(peer).map(|o| o.1).unwrap_or_default()
    }

    fn expire(&mut self, now: Timestamp) -> bool {
        if !self.expired && now >= self.cfg.expires_at {
            self.expired = true;
            self.out.push_back(PayerOutput::Event(PayerEvent::Expired));
        }
        self.expired
    }
}

impl<S: Signer> Machine for Payer<S> {
    type Input = PayerInput;
    type Output = PayerOutput;
    type Error = Error;

    fn handle(&mut self, now: Timestamp, input: PayerInput) -> Result<(), Error> {
        let expired = self.expire(now);
        let PayerInput::ChunkReceived { peer, resource_id, price } = input else { return Ok(()) };
        if expired {
            return Err(Error::PayerExpired { expired_at: self.cfg.expires_at });
        }
        let signed = self.signed.checked_add(price).ok_or(Error::Overflow { what: "signed total" })?;
        if signed > self.cfg.deposit {
            return Err(Error::WouldExceedDeposit { signed: self.signed, price, deposit: self.cfg.deposit });
        }
        let (seq, amount) = self.owed.get(&peer).copied().unwrap_or_default();
        let cheque = Cheque {
            source: self.signer.address(),
            reserve_seq: self.cfg.reserve_seq,
            target: peer,
            resource_id,
            amount: amount.checked_add(price).ok_or(Error::Overflow { what: "cheque amount" })?,
            payment_seq: seq.checked_add(1).ok_or(Error::Overflow { what: "payment sequence" })?,
        };
        let signature = self.signer.sign_digest(&cheque.signing_hash(self.cfg.chain_id));
        self.owed.insert(peer, (cheque.payment_seq, cheque.amount));
        self.signed = signed;
        self.out.push_back(PayerOutput::Send { to: peer, cheque: SignedCheque { cheque, signature } });
        Ok(())
    }

    fn poll_output(&mut self) -> Option<PayerOutput> {
        self.out.pop_front()
    }

    fn poll_timeout(&self) -> Option<Timestamp> {
        (!self.expired).then_some(self.cfg.expires_at)
    }
}
