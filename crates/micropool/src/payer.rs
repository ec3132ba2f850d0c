//! The viewer's side of the off-chain protocol (whitepaper Figure 7): one cumulative
//! cheque stream per caching peer, all drawn on one reserve.

use std::collections::{BTreeMap, VecDeque};

use primitives::{Address, Machine, Signer, Timestamp, U256};

use primitives::rlp::{Decodable, DecoderError, Encodable, Rlp, RlpStream};

use crate::cheque::{Cheque, ResourceId, SignedCheque, decode_canonical};
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
    /// The reserve's slot unit ([`PoolConfig::slot_unit`](crate::PoolConfig::slot_unit),
    /// also in the reserve record): the first cheque to a peer promises at least this
    /// much, so every cheque it signs can take a payee slot on chain. The price of the
    /// slot guarantee: a peer paid less than a slot unit in all receives the unit anyway,
    /// at most `ceil(deposit / max_payees)` per peer.
    pub slot_unit: U256,
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

/// What a [`Payer`] must remember across a restart: the reserve it draws on (chain id,
/// source, reserve sequence), per peer the newest cheque's `(payment_seq, cumulative
/// amount)`, and the total signed over all peers.
///
/// **Contract with the host.** Get it with [`Payer::state`] and persist it durably
/// **before** sending any cheque a [`Machine::handle`] call emitted (write-ahead); a
/// restarted viewer continues with [`Payer::resume`]. The payer cannot detect a stale
/// state: one saved before the last cheques went out lets the resumed payer reuse their
/// sequence numbers (refused by the payee) and undercount the total signed (an
/// overspend, slashed). What `resume` does check: the amounts add up, stay within the
/// deposit, and the state is the resumed payer's own reserve (a state of another
/// reserve, chain or signer is [`Error::PayerStateOfAnotherReserve`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PayerState {
    /// Chain id of the cheques.
    pub chain_id: u64,
    /// The viewer (the signer's address).
    pub source: Address,
    /// The reserve the cheques draw on.
    pub reserve_seq: u64,
    /// Per peer: payment sequence and cumulative amount of the newest cheque.
    pub peers: BTreeMap<Address, (u64, U256)>,
    /// Total promised over all peers (the sum of the cumulative amounts).
    pub signed: U256,
}

/// Longest encoded [`PayerState`] [`PayerState::decode`] accepts (room for about 4 000
/// peers).
pub const MAX_PAYER_STATE_BYTES: usize = 256 * 1024;

impl PayerState {
    /// Canonical bytes for the host's store: the RLP list `[chain_id, source,
    /// reserve_seq, signed, [[peer, payment_seq, amount]…]]`, peers in ascending order.
    pub fn encode(&self) -> Vec<u8> {
        primitives::rlp::encode(self).to_vec()
    }

    /// Decodes stored bytes: at most [`MAX_PAYER_STATE_BYTES`], canonical RLP, peers
    /// strictly ascending. [`Payer::resume`] checks that the amounts add up.
    pub fn decode(bytes: &[u8]) -> Result<Self, Error> {
        decode_canonical(bytes, MAX_PAYER_STATE_BYTES, "payer state")
    }
}

impl Encodable for PayerState {
    fn rlp_append(&self, s: &mut RlpStream) {
        s.begin_list(5).append(&self.chain_id).append(&self.source).append(&self.reserve_seq);
        s.append(&self.signed);
        s.begin_list(self.peers.len());
        for (peer, (seq, amount)) in &self.peers {
            s.begin_list(3).append(peer).append(seq).append(amount);
        }
    }
}

impl Decodable for PayerState {
    fn decode(r: &Rlp<'_>) -> Result<Self, DecoderError> {
        if r.item_count()? != 5 {
            return Err(DecoderError::RlpIncorrectListLen);
        }
        let mut peers = BTreeMap::new();
        let mut last: Option<Address> = None;
        for item in r.at(4)?.iter() {
            if item.item_count()? != 3 {
                return Err(DecoderError::RlpIncorrectListLen);
            }
            let peer: Address = item.val_at(0)?;
            if last.is_some_and(|l| l >= peer) {
                return Err(DecoderError::Custom("payer state peers not strictly ascending"));
            }
            last = Some(peer);
            peers.insert(peer, (item.val_at(1)?, item.val_at(2)?));
        }
        Ok(PayerState {
            chain_id: r.val_at(0)?,
            source: r.val_at(1)?,
            reserve_seq: r.val_at(2)?,
            peers,
            signed: r.val_at(3)?,
        })
    }
}

/// The viewer's payment machine.
///
/// Call order: [`Payer::new`] (or [`Payer::resume`] after a restart), then
/// [`Machine::handle`] with [`PayerInput::ChunkReceived`] as chunks arrive from any peer
/// (switching peers at any time), persisting [`Payer::state`] and then draining
/// [`Machine::poll_output`] after each call.
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

    /// Continues a payer from a saved [`PayerState`]: each peer's cheque sequence goes on
    /// from its saved `payment_seq`, and the saved total counts against the deposit.
    ///
    /// Fails with [`Error::PayerStateOfAnotherReserve`] if the state was saved for
    /// another chain id, source (the signer's address) or reserve sequence, with
    /// [`Error::InconsistentPayerState`] if the saved total is not the sum of the
    /// per-peer amounts, and with [`Error::WouldExceedDeposit`] if it is above the
    /// deposit. See [`PayerState`] for the host's part: persist before sending.
    pub fn resume(
        config: PayerConfig,
        ctx: S,
        now: Timestamp,
        seed: [u8; 32],
        state: PayerState,
    ) -> Result<Self, Error> {
        let source = ctx.address();
        if (state.chain_id, state.source, state.reserve_seq) != (config.chain_id, source, config.reserve_seq)
        {
            return Err(Error::PayerStateOfAnotherReserve {
                saved_chain_id: state.chain_id,
                saved_source: state.source,
                saved_reserve_seq: state.reserve_seq,
                chain_id: config.chain_id,
                source_addr: source,
                reserve_seq: config.reserve_seq,
            });
        }
        let sum = state
            .peers
            .values()
            .try_fold(U256::zero(), |a, (_, amount)| a.checked_add(*amount))
            .ok_or(Error::Overflow { what: "saved payer total" })?;
        if sum != state.signed {
            return Err(Error::InconsistentPayerState { signed: state.signed, sum });
        }
        if state.signed > config.deposit {
            return Err(Error::WouldExceedDeposit {
                signed: state.signed,
                price: U256::zero(),
                deposit: config.deposit,
            });
        }
        let mut payer = Payer::new(config, ctx, now, seed);
        payer.owed = state.peers;
        payer.signed = state.signed;
        Ok(payer)
    }

    /// The state to persist (see [`PayerState`]).
    pub fn state(&self) -> PayerState {
        PayerState {
            chain_id: self.cfg.chain_id,
            source: self.signer.address(),
            reserve_seq: self.cfg.reserve_seq,
            peers: self.owed.clone(),
            signed: self.signed,
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
        let (seq, amount) = self.owed.get(&peer).copied().unwrap_or_default();
        let owed = amount.checked_add(price).ok_or(Error::Overflow { what: "cheque amount" })?;
        // The first cheque to a peer is rounded up to the slot unit, so it can take a
        // payee slot on chain.
        let new_amount = owed.max(self.cfg.slot_unit);
        let added = new_amount - amount;
        let signed = self.signed.checked_add(added).ok_or(Error::Overflow { what: "signed total" })?;
        if signed > self.cfg.deposit {
            return Err(Error::WouldExceedDeposit { signed: self.signed, price, deposit: self.cfg.deposit });
        }
        let cheque = Cheque {
            source: self.signer.address(),
            reserve_seq: self.cfg.reserve_seq,
            target: peer,
            resource_id,
            amount: new_amount,
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
