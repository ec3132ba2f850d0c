//! The caching peer's side of the off-chain protocol (whitepaper Figures 7 and 8):
//! check the pool at handshake, serve while the exposure is covered, keep the newest
//! cheque, settle before the reserve ends.

use std::collections::{BTreeMap, VecDeque};

use primitives::{Address, H256, Machine, Timestamp, U256};

use crate::cheque::{ResourceId, SignedCheque};
use crate::error::Error;
use crate::proof::StateProofVerifier;
use crate::record::{ReservedFund, reserve_key};
use crate::tx::{ServicePayment, placeholder_signature};
use primitives::Signer;

/// The payee's policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayeeConfig {
    /// Chain id of the signatures.
    pub chain_id: u64,
    /// Block interval in milliseconds, to turn heights into deadlines.
    pub block_time_ms: u64,
    /// Most the payee risks per reserve: served value not yet settled on chain. A payer
    /// cheating `k` payees concurrently gains at most `k · credit_limit`; keep it below
    /// `deposit / k` for the peers you expect a viewer to use at once (see the docs).
    pub credit_limit: U256,
    /// Least remaining deposit the pool must show at handshake (for a payee without a
    /// slot in the record, also at least the record's slot unit).
    pub min_remaining: U256,
    /// Settle as soon as this much is unsettled (at most `credit_limit` to keep serving).
    pub settle_threshold: U256,
    /// Settle whatever is unsettled this many blocks before the end height.
    pub settle_margin_blocks: u64,
    /// Fee offered with each settlement.
    pub fee: U256,
    /// A submitted settlement not seen on chain after this many milliseconds is
    /// submitted again (it may have been dropped from a mempool).
    pub resubmit_after_ms: u64,
    /// Most times one settlement is submitted, the first included; then the payee waits
    /// for a newer cheque, a refresh, or the reserve's end.
    pub max_submissions: u32,
}

/// What the payee machine needs from its host: a proof verifier and the payee's key.
#[derive(Debug, Clone)]
pub struct PayeeContext<V, S> {
    /// Checks Merkle proofs of reserve records (mpt-refcount in the ledger).
    pub verifier: V,
    /// The payee's key, to countersign settlements.
    pub signer: S,
}

/// Inputs of [`Payee`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayeeInput {
    /// A viewer connects (or the host refreshes the pool after a settlement): a proof of
    /// the reserve record under `state_root`, a root the host trusts at block `height`.
    Handshake {
        /// The viewer.
        source: Address,
        /// Its reserve.
        reserve_seq: u64,
        /// Trusted state root.
        state_root: H256,
        /// Height of that state.
        height: u64,
        /// Merkle proof of [`reserve_key`]`(source, reserve_seq)`.
        proof: Vec<Vec<u8>>,
    },
    /// The viewer asks for a chunk costing `price`.
    ChunkRequest {
        /// The viewer.
        source: Address,
        /// Its reserve.
        reserve_seq: u64,
        /// The resource.
        resource_id: ResourceId,
        /// The chunk's price.
        price: U256,
    },
    /// A cheque arrived.
    Cheque(SignedCheque),
    /// The host saw this payee's settlement with `payment_seq` included on chain (a
    /// fresh [`PayeeInput::Handshake`] carries the same news with a proof).
    Settled {
        /// The viewer.
        source: Address,
        /// Its reserve.
        reserve_seq: u64,
        /// Payment sequence of the included settlement.
        payment_seq: u64,
    },
    /// The host learned that the viewer overspent (a slash or an overspend report on
    /// chain, or overspend evidence from another peer): the payee stops serving and
    /// settles its newest cheque at once, before other payees drain the deposit.
    OverspendSeen {
        /// The viewer.
        source: Address,
        /// Its reserve.
        reserve_seq: u64,
    },
    /// The host's timer fired.
    Timeout,
}

/// Events of [`Payee`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayeeEvent {
    /// The pool checked out at handshake.
    PoolVerified {
        /// The viewer.
        source: Address,
        /// Its reserve.
        reserve_seq: u64,
        /// Deposit left.
        remaining: U256,
        /// Last height payments settle.
        end_height: u64,
    },
    /// Serve the requested chunk.
    Serve {
        /// The viewer.
        source: Address,
        /// The chunk's price, now counted as exposure until paid.
        price: U256,
    },
    /// Do not serve: why.
    Refuse {
        /// The viewer.
        source: Address,
        /// The reason.
        reason: Error,
    },
    /// A cheque was kept as the newest.
    ChequeAccepted {
        /// The viewer.
        source: Address,
        /// Its cumulative amount.
        amount: U256,
        /// Amount not yet settled on chain.
        unsettled: U256,
    },
    /// The reserve has ended and the session was dropped: nothing more can settle.
    SessionClosed {
        /// The viewer.
        source: Address,
        /// Its reserve.
        reserve_seq: u64,
        /// Cumulative amount seen settled on chain.
        settled: U256,
        /// Amount promised by the newest cheque that was not seen settled.
        unsettled: U256,
    },
}

/// Outputs of [`Payee`].
// Outputs are drained right after each `handle`; boxing the large variant would cost an
// allocation per cheque for no gain.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayeeOutput {
    /// Submit this countersigned settlement to the chain.
    Submit(ServicePayment),
    /// Something for the host to act on or log.
    Event(PayeeEvent),
}

/// A settlement submitted and not yet seen on chain.
#[derive(Debug, Clone)]
struct InFlight {
    tx: ServicePayment,
    sent: u32,
    resend_at: Timestamp,
}

impl InFlight {
    fn seq(&self) -> u64 {
        self.tx.cheque.cheque.payment_seq
    }
}

/// Most submitted-but-unconfirmed settlements a session remembers the amount of.
const MAX_UNCONFIRMED: usize = 16;

#[derive(Debug, Clone)]
struct Session {
    record: ReservedFund,
    settled_seq: u64,
    settled: U256,
    newest: Option<SignedCheque>,
    in_flight: Option<InFlight>,
    /// Amounts of submitted settlements not yet seen on chain, by payment sequence (an
    /// older one may land after a newer one was submitted); at most
    /// [`MAX_UNCONFIRMED`] kept.
    unconfirmed: BTreeMap<u64, U256>,
    pending: U256,
    /// The host reported an overspend not (yet) visible in the record.
    overspent: bool,
    end_at: Timestamp,
    settle_at: Timestamp,
}

impl Session {
    fn newest_amount(&self) -> U256 {
        self.newest.as_ref().map_or(self.settled, |c| c.cheque.amount.max(self.settled))
    }
    fn newest_seq(&self) -> u64 {
        self.newest.as_ref().map_or(self.settled_seq, |c| c.cheque.payment_seq.max(self.settled_seq))
    }
    fn unsettled(&self) -> U256 {
        self.newest_amount().saturating_sub(self.settled)
    }
    fn exposure(&self) -> U256 {
        self.unsettled().saturating_add(self.pending)
    }
    fn slashed(&self) -> bool {
        self.record.slashed || self.overspent
    }
    /// Whether the newest cheque should be submitted: it adds to what settled, it is not
    /// already in flight, and (for a first settlement) it reaches the slot unit.
    fn needs_settling(&self) -> bool {
        let first = self.settled.is_zero();
        !self.unsettled().is_zero()
            && self.newest_seq() > self.settled_seq
            && self.in_flight.as_ref().is_none_or(|f| f.seq() < self.newest_seq())
            && !(first && self.newest_amount() < self.record.slot_unit)
    }
    /// Whether the newest cheque may go out now instead of waiting for the resubmission
    /// timer of the settlement in flight: nothing is in flight, it adds at least
    /// `threshold` over the one in flight, or that one will not be sent again. So a
    /// viewer streaming tiny cheques cannot make the payee pay a fee per cheque.
    fn may_replace(&self, threshold: U256, max_submissions: u32) -> bool {
        match &self.in_flight {
            None => true,
            Some(f) => {
                self.newest_amount().saturating_sub(f.tx.cheque.cheque.amount) >= threshold
                    || self.resend_at(max_submissions).is_none()
            }
        }
    }
    /// When the in-flight settlement is due to be sent again, if it will be.
    fn resend_at(&self, max_submissions: u32) -> Option<Timestamp> {
        let f = self.in_flight.as_ref()?;
        (f.seq() > self.settled_seq && f.sent < max_submissions && f.resend_at <= self.end_at)
            .then_some(f.resend_at)
    }
    /// When the session is dropped: at the end once the newest cheque settled, else one
    /// resubmission interval later (for the last inclusion report to arrive).
    fn close_at(&self, grace_ms: u64) -> Timestamp {
        if self.newest_seq() <= self.settled_seq { self.end_at } else { self.end_at + grace_ms }
    }
    fn saw_settled(&mut self, payment_seq: u64, amount: U256) {
        self.settled_seq = self.settled_seq.max(payment_seq);
        self.settled = self.settled.max(amount);
        if self.in_flight.as_ref().is_some_and(|f| f.seq() <= self.settled_seq) {
            self.in_flight = None;
        }
        self.unconfirmed = self.unconfirmed.split_off(&(self.settled_seq.saturating_add(1)));
    }
    fn track(&mut self, tx: ServicePayment, resend_at: Timestamp) {
        let c = &tx.cheque.cheque;
        self.unconfirmed.insert(c.payment_seq, c.amount);
        while self.unconfirmed.len() > MAX_UNCONFIRMED {
            self.unconfirmed.pop_first();
        }
        self.in_flight = Some(InFlight { tx, sent: 1, resend_at });
    }
}

/// The countersigned settlement of `cheque`.
fn settlement<S: Signer>(cfg: &PayeeConfig, signer: &S, cheque: SignedCheque) -> ServicePayment {
    let mut tx = ServicePayment { cheque, fee: cfg.fee, target_signature: placeholder_signature() };
    tx.target_signature = signer.sign_digest(&tx.signing_hash(cfg.chain_id));
    tx
}

/// The caching peer's payment machine; one instance serves any number of viewers.
///
/// Call order: [`PayeeInput::Handshake`] when a viewer connects; then, per chunk,
/// [`PayeeInput::ChunkRequest`] (answered by a `Serve` or `Refuse` event) and the
/// viewer's [`PayeeInput::Cheque`]; [`PayeeInput::Timeout`] at [`Machine::poll_timeout`].
/// Submit every [`PayeeOutput::Submit`] to the chain and report its inclusion
/// ([`PayeeInput::Settled`], or a fresh `Handshake`): until then the machine submits it
/// again every [`PayeeConfig::resubmit_after_ms`], at most
/// [`PayeeConfig::max_submissions`] times. Feed [`PayeeInput::OverspendSeen`] when the
/// host learns of an overspend. A session is dropped (a `SessionClosed` event) at the
/// reserve's end once its newest cheque is seen settled, or one resubmission interval
/// after the end otherwise: nothing settles after the end height.
#[derive(Debug)]
pub struct Payee<V, S> {
    cfg: PayeeConfig,
    ctx: PayeeContext<V, S>,
    sessions: BTreeMap<(Address, u64), Session>,
    out: VecDeque<PayeeOutput>,
}

impl<V: StateProofVerifier, S: Signer> Payee<V, S> {
    /// A payee with no sessions. `seed` is unused: the machine draws no randomness.
    pub fn new(config: PayeeConfig, ctx: PayeeContext<V, S>, now: Timestamp, seed: [u8; 32]) -> Self {
        let _ = (now, seed);
        Payee { cfg: config, ctx, sessions: BTreeMap::new(), out: VecDeque::new() }
    }

    /// The newest cheque held from `(source, reserve_seq)`.
    pub fn newest_cheque(&self, source: &Address, reserve_seq: u64) -> Option<&SignedCheque> {
        self.sessions.get(&(*source, reserve_seq)).and_then(|s| s.newest.as_ref())
    }

    /// Amount promised by the newest cheque but not yet settled on chain.
    pub fn unsettled(&self, source: &Address, reserve_seq: u64) -> U256 {
        self.sessions.get(&(*source, reserve_seq)).map(Session::unsettled).unwrap_or_default()
    }

    fn height_at(&self, s: &Session, now: Timestamp) -> u64 {
        let blocks_left = s.end_at.millis_since(now) / self.cfg.block_time_ms.max(1);
        s.record.end_height.saturating_sub(blocks_left)
    }

    fn handshake(
        &mut self,
        now: Timestamp,
        source: Address,
        reserve_seq: u64,
        state_root: H256,
        height: u64,
        proof: &[Vec<u8>],
    ) -> Result<(), Error> {
        if source == self.ctx.signer.address() {
            // A viewer paying itself: the chain refuses such settlements.
            return Err(Error::SelfPayment { source_addr: source });
        }
        let key = reserve_key(&source, reserve_seq);
        let bytes = self
            .ctx
            .verifier
            .verify(state_root, key.as_bytes(), proof)?
            .ok_or(Error::PoolAbsent { state_root, source_addr: source, reserve_seq })?;
        let record = ReservedFund::decode(&bytes)?;
        if record.source != source || record.reserve_seq != reserve_seq {
            return Err(Error::RecordMismatch);
        }
        let remaining = record.remaining();
        // Admission checks apply to a new session; a refresh of an existing one always
        // updates it, so the payee learns of a drained or slashed pool and stops serving.
        if !self.sessions.contains_key(&(source, reserve_seq)) {
            if record.slashed {
                return Err(Error::AlreadySlashed { source_addr: source, reserve_seq });
            }
            if height > record.end_height {
                return Err(Error::ReserveExpired { end_height: record.end_height, height });
            }
            // A payee without a slot is first paid at least a slot unit: with less than a
            // unit left, every cheque the source could sign it overspends.
            let has_slot = record.transfer(&self.ctx.signer.address()).is_some();
            let required =
                if has_slot { self.cfg.min_remaining } else { self.cfg.min_remaining.max(record.slot_unit) };
            if remaining < required {
                return Err(Error::InsufficientRemaining { remaining, required });
            }
        }
        let me = self.ctx.signer.address();
        let (settled_seq, settled) =
            record.transfer(&me).map_or((0, U256::zero()), |t| (t.payment_seq, t.promised));
        let block = self.cfg.block_time_ms;
        let end_at = now + record.end_height.saturating_sub(height).saturating_mul(block);
        let settle_at =
            Timestamp(end_at.0.saturating_sub(self.cfg.settle_margin_blocks.saturating_mul(block)));
        let end_height = record.end_height;
        let s = self.sessions.entry((source, reserve_seq)).or_insert_with(|| Session {
            record: record.clone(),
            settled_seq: 0,
            settled: U256::zero(),
            newest: None,
            in_flight: None,
            unconfirmed: BTreeMap::new(),
            pending: U256::zero(),
            overspent: false,
            end_at,
            settle_at,
        });
        s.record = record;
        s.saw_settled(settled_seq, settled);
        s.end_at = end_at;
        s.settle_at = settle_at;
        // The pool can no longer cover what this payee is owed, or it is slashed (other
        // payees are racing for what is left): settle now, taking what is left and, if
        // the payer overspent, proving it.
        let settle_now = s.unsettled() > remaining || s.slashed();
        self.out.push_back(PayeeOutput::Event(PayeeEvent::PoolVerified {
            source,
            reserve_seq,
            remaining,
            end_height,
        }));
        if settle_now {
            self.submit(now, (source, reserve_seq));
        }
        Ok(())
    }

    fn may_serve(
        &self,
        now: Timestamp,
        s: &Session,
        resource_id: &ResourceId,
        price: U256,
    ) -> Result<(), Error> {
        if now >= s.settle_at {
            return Err(Error::ReserveExpired {
                end_height: s.record.end_height,
                height: self.height_at(s, now),
            });
        }
        if s.slashed() {
            return Err(Error::AlreadySlashed {
                source_addr: s.record.source,
                reserve_seq: s.record.reserve_seq,
            });
        }
        if !s.record.resource_ids.contains(resource_id) {
            return Err(Error::UnknownResource { resource_id: *resource_id });
        }
        let limit = self.cfg.credit_limit.min(s.record.remaining());
        let unsettled = s.exposure().saturating_add(price);
        if unsettled > limit {
            return Err(Error::ExposureExceeded { unsettled, limit });
        }
        Ok(())
    }

    fn accept(&mut self, now: Timestamp, sc: SignedCheque) -> Result<(), Error> {
        let c = &sc.cheque;
        let me = self.ctx.signer.address();
        if c.target != me {
            return Err(Error::WrongTarget { target: c.target, me });
        }
        let key = (c.source, c.reserve_seq);
        let Some(s) = self.sessions.get(&key) else {
            return Err(Error::NoVerifiedPool { source_addr: c.source, reserve_seq: c.reserve_seq });
        };
        if now >= s.end_at {
            return Err(Error::ReserveExpired {
                end_height: s.record.end_height,
                height: self.height_at(s, now),
            });
        }
        if !s.record.resource_ids.contains(&c.resource_id) {
            return Err(Error::UnknownResource { resource_id: c.resource_id });
        }
        if c.payment_seq <= s.newest_seq() {
            return Err(Error::StalePaymentSeq { target: me, last: s.newest_seq(), got: c.payment_seq });
        }
        let previous = s.newest_amount();
        if c.amount < previous {
            return Err(Error::CumulativeAmountDecreased { target: me, previous, amount: c.amount });
        }
        // Without a slot yet, a cheque below the slot unit can never settle (the chain
        // refuses it), and an honest payer never signs one: it is no payment.
        if s.settled.is_zero() && c.amount < s.record.slot_unit {
            return Err(Error::BelowSlotUnit { amount: c.amount, slot_unit: s.record.slot_unit });
        }
        sc.verify(self.cfg.chain_id)?;
        let increase = c.amount - previous;
        let (source, amount) = (c.source, c.amount);
        let threshold = self.cfg.settle_threshold;
        let Some(s) = self.sessions.get_mut(&key) else { return Ok(()) };
        s.pending = s.pending.saturating_sub(increase);
        s.newest = Some(sc);
        let unsettled = s.unsettled();
        // Once slashed (payees race for what is left) or in the settlement window before
        // the end (the last chance), the newest goes out at once.
        let now_or_later =
            s.slashed() || now >= s.settle_at || s.may_replace(threshold, self.cfg.max_submissions);
        self.out.push_back(PayeeOutput::Event(PayeeEvent::ChequeAccepted { source, amount, unsettled }));
        if (unsettled >= threshold || s.slashed()) && now_or_later {
            self.submit(now, key);
        }
        Ok(())
    }

    /// Submits the newest cheque if it needs settling, and tracks it until it is seen on
    /// chain.
    fn submit(&mut self, now: Timestamp, key: (Address, u64)) {
        let Some(s) = self.sessions.get_mut(&key) else { return };
        if !s.needs_settling() {
            return;
        }
        let Some(cheque) = s.newest.clone() else { return };
        let tx = settlement(&self.cfg, &self.ctx.signer, cheque);
        let Some(s) = self.sessions.get_mut(&key) else { return };
        s.track(tx.clone(), now + self.cfg.resubmit_after_ms);
        self.out.push_back(PayeeOutput::Submit(tx));
    }

    /// Number of open sessions (viewers whose reserve has not ended, or whose final
    /// settlement is still awaited).
    pub fn sessions(&self) -> usize {
        self.sessions.len()
    }

    fn settled_report(&mut self, source: Address, reserve_seq: u64, payment_seq: u64) -> Result<(), Error> {
        let Some(s) = self.sessions.get_mut(&(source, reserve_seq)) else {
            return Err(Error::NoVerifiedPool { source_addr: source, reserve_seq });
        };
        let amount = match (s.unconfirmed.get(&payment_seq), &s.newest) {
            (Some(amount), _) => *amount,
            (_, Some(c)) if c.cheque.payment_seq == payment_seq => c.cheque.amount,
            _ if payment_seq <= s.settled_seq => return Ok(()),
            _ => return Err(Error::UnknownSettlement { payment_seq, newest: s.newest_seq() }),
        };
        s.saw_settled(payment_seq, amount);
        Ok(())
    }

    fn on_timeout(&mut self, now: Timestamp) {
        let max = self.cfg.max_submissions;
        let grace = self.cfg.resubmit_after_ms;
        let closed: Vec<_> =
            self.sessions.iter().filter(|(_, s)| now >= s.close_at(grace)).map(|(k, _)| *k).collect();
        for key in closed {
            if let Some(s) = self.sessions.remove(&key) {
                self.out.push_back(PayeeOutput::Event(PayeeEvent::SessionClosed {
                    source: key.0,
                    reserve_seq: key.1,
                    settled: s.settled,
                    unsettled: s.unsettled(),
                }));
            }
        }
        let resubmit_after = self.cfg.resubmit_after_ms;
        for s in self.sessions.values_mut() {
            if s.resend_at(max).is_some_and(|t| now >= t)
                && let Some(f) = s.in_flight.as_mut()
            {
                // The same transaction again: a newer cheque held back by `may_replace`
                // goes out once this one lands or is given up.
                f.sent += 1;
                f.resend_at = now + resubmit_after;
                self.out.push_back(PayeeOutput::Submit(f.tx.clone()));
            }
        }
        let due: Vec<_> = self
            .sessions
            .iter()
            .filter(|(_, s)| now >= s.settle_at && now <= s.end_at && s.needs_settling())
            .map(|(k, _)| *k)
            .collect();
        for key in due {
            self.submit(now, key);
        }
    }
}

impl<V: StateProofVerifier, S: Signer> Machine for Payee<V, S> {
    type Input = PayeeInput;
    type Output = PayeeOutput;
    type Error = Error;

    fn handle(&mut self, now: Timestamp, input: PayeeInput) -> Result<(), Error> {
        match input {
            PayeeInput::Handshake { source, reserve_seq, state_root, height, proof } => {
                self.handshake(now, source, reserve_seq, state_root, height, &proof)
            }
            PayeeInput::ChunkRequest { source, reserve_seq, resource_id, price } => {
                let Some(s) = self.sessions.get(&(source, reserve_seq)) else {
                    return Err(Error::NoVerifiedPool { source_addr: source, reserve_seq });
                };
                match self.may_serve(now, s, &resource_id, price) {
                    Ok(()) => {
                        if let Some(s) = self.sessions.get_mut(&(source, reserve_seq)) {
                            s.pending = s.pending.saturating_add(price);
                        }
                        self.out.push_back(PayeeOutput::Event(PayeeEvent::Serve { source, price }));
                    }
                    Err(reason) => {
                        self.out.push_back(PayeeOutput::Event(PayeeEvent::Refuse { source, reason }))
                    }
                }
                Ok(())
            }
            PayeeInput::Cheque(sc) => self.accept(now, sc),
            PayeeInput::Settled { source, reserve_seq, payment_seq } => {
                self.settled_report(source, reserve_seq, payment_seq)
            }
            PayeeInput::OverspendSeen { source, reserve_seq } => {
                let Some(s) = self.sessions.get_mut(&(source, reserve_seq)) else {
                    return Err(Error::NoVerifiedPool { source_addr: source, reserve_seq });
                };
                s.overspent = true;
                self.submit(now, (source, reserve_seq));
                Ok(())
            }
            PayeeInput::Timeout => {
                self.on_timeout(now);
                Ok(())
            }
        }
    }

    fn poll_output(&mut self) -> Option<PayeeOutput> {
        self.out.pop_front()
    }

    fn poll_timeout(&self) -> Option<Timestamp> {
        let (max, grace) = (self.cfg.max_submissions, self.cfg.resubmit_after_ms);
        self.sessions
            .values()
            .flat_map(|s| {
                let settle = (s.needs_settling() && s.settle_at <= s.end_at).then_some(s.settle_at);
                [settle, s.resend_at(max), Some(s.close_at(grace))]
            })
            .flatten()
            .min()
    }
}
