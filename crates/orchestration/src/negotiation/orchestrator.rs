//! The orchestrator's negotiation machine: capacity and price checks, session tokens,
//! payment checks before work, fresh ticket params with each response (go-livepeer
//! `core/orchestrator.go`).

use std::collections::{BTreeMap, VecDeque};

use pm_tickets::{
    Recipient, RecipientConfig, RecipientEvent, RecipientInput, RecipientKeys, RecipientOutput, SignedTicket,
    TicketBatch, TicketParams,
};
use primitives::{Address, H256, Machine, Timestamp, U256, keccak256_concat};
use transcode_verify::TranscodeClaim;

use super::PeerId;
use super::error::{Error, ProtocolError};
use super::message::{
    AuthToken, JobRequest, Message, OrchestratorInfo, PriceInfo, Refusal, SegmentRequest, SegmentResult,
};
use crate::job::{Capability, JobKind};

/// Orchestrator settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrchestratorConfig {
    /// What it sells, at which price per unit (`Capability::price_per_unit`, one unit).
    pub capabilities: Vec<Capability>,
    /// Sessions served at once.
    pub capacity: u32,
    /// Lifetime of a session token, ms.
    pub token_ttl_ms: u64,
    /// Delivered, unpaid work it accepts per session (payment is in arrears): it refuses a
    /// segment that would take the unpaid amount above this.
    pub credit_limit: U256,
    /// The sender's max float must cover at least this (the credit, plus the worst case
    /// of the tickets that pay it: see [`OrchestratorConfig::new`]).
    pub min_float: U256,
    /// Most units of work per segment.
    pub max_units: u64,
    /// The ticket recipient's settings.
    pub recipient: RecipientConfig,
}

impl OrchestratorConfig {
    /// Defaults around `capabilities`: 4 sessions, 10 min tokens, the credit of
    /// `credit_limit`, a min float of the credit plus 10 face values of the recipient's
    /// tickets.
    pub fn new(capabilities: Vec<Capability>, credit_limit: U256, recipient: RecipientConfig) -> Self {
        OrchestratorConfig {
            capabilities,
            capacity: 4,
            token_ttl_ms: 600_000,
            credit_limit,
            min_float: credit_limit,
            max_units: 1 << 40,
            recipient,
        }
    }
}

/// What the host feeds the orchestrator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OrchestratorInput {
    /// A new block (forwarded to the ticket recipient).
    Chain {
        /// Block number.
        block: u64,
        /// Current round.
        round: u64,
        /// The round's block hash.
        round_block_hash: H256,
    },
    /// The gas price (forwarded to the ticket recipient).
    GasPrice(U256),
    /// A sender's funds as the broker sees them (forwarded to the ticket recipient).
    SenderFunds {
        /// The sender.
        sender: Address,
        /// Its max float for this orchestrator.
        max_float: U256,
        /// Its withdraw round; 0 when none.
        withdraw_round: u64,
    },
    /// The price of a job kind changes (sessions quoted at the old price get
    /// [`ProtocolError::PriceChanged`] on their next segment).
    SetPrice {
        /// The kind.
        kind: JobKind,
        /// Its new price per unit.
        price_per_unit: U256,
    },
    /// A decoded message from a peer.
    Received {
        /// The peer.
        from: PeerId,
        /// The message.
        msg: Box<Message>,
    },
    /// The host finished the work of [`OrchestratorOutput::Work`].
    WorkDone {
        /// The request id.
        id: u64,
        /// The output bytes.
        output: Vec<u8>,
        /// The signed claim, for transcoding.
        claim: Option<TranscodeClaim>,
    },
    /// The work failed.
    WorkFailed {
        /// The request id.
        id: u64,
        /// Why.
        reason: String,
    },
    /// A redemption confirmed (forwarded to the ticket recipient).
    Redeemed {
        /// The ticket hash.
        ticket_hash: H256,
        /// Amount received.
        paid: U256,
    },
    /// A redemption failed (forwarded).
    RedeemFailed {
        /// The ticket hash.
        ticket_hash: H256,
        /// The broker's reason, if any.
        reason: Option<pm_tickets::Error>,
    },
    /// The time from `poll_timeout` was reached.
    Timeout,
}

/// Work for the host (or a transcoder pool, [`crate::pool`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WorkRequest {
    /// Request id.
    pub id: u64,
    /// For whom.
    pub peer: PeerId,
    /// The segment.
    pub seq: u64,
    /// What to do.
    pub kind: JobKind,
    /// Units of work.
    pub units: u64,
    /// The agreed price.
    pub price: PriceInfo,
    /// Input bytes.
    pub payload: Vec<u8>,
}

/// Reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OrchestratorEvent {
    /// A session was opened.
    SessionOpened {
        /// The peer.
        peer: PeerId,
        /// The paying sender.
        sender: Address,
        /// The session id.
        session_id: u64,
    },
    /// A request or segment was refused (the peer was told).
    Refused {
        /// The peer.
        peer: PeerId,
        /// The segment, if any.
        seq: Option<u64>,
        /// Why.
        error: ProtocolError,
    },
    /// A segment's work was delivered; it is owed until paid.
    Delivered {
        /// The peer.
        peer: PeerId,
        /// The segment.
        seq: u64,
        /// Its price.
        cost: U256,
    },
    /// A payment was credited.
    Credited {
        /// The peer.
        peer: PeerId,
        /// The segment it pays.
        seq: u64,
        /// Tickets.
        tickets: u32,
        /// Their total EV, rounded down.
        ev: U256,
    },
    /// A winning ticket was queued for redemption.
    Won {
        /// The ticket hash.
        ticket_hash: H256,
        /// Its face value.
        face_value: U256,
    },
    /// A ticket-recipient report other than credit and wins (redeemed, dropped, lost).
    Recipient(RecipientEvent),
}

/// What the orchestrator asks of its host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OrchestratorOutput {
    /// Send a message.
    Send {
        /// The peer.
        to: PeerId,
        /// The message.
        msg: Box<Message>,
    },
    /// Do this work; answer with `WorkDone` or `WorkFailed`.
    Work(Box<WorkRequest>),
    /// Redeem a winning ticket (answer `Redeemed` / `RedeemFailed`).
    Redeem(SignedTicket),
    /// A report.
    Event(OrchestratorEvent),
}

#[derive(Clone, Debug)]
struct Session {
    peer: PeerId,
    job: u64,
    sender: Address,
    kind: JobKind,
    token: AuthToken,
    /// The token issued before a renewal, still honoured until it expires (segments sent
    /// with it may cross the renewal on the wire).
    previous: Option<AuthToken>,
    /// Price of the work delivered in the session.
    delivered: U256,
    /// EV of the tickets credited in it (it runs ahead of `delivered` by less than one
    /// ticket: the sender pays whole tickets).
    credited: U256,
}

impl Session {
    fn unpaid(&self) -> U256 {
        self.delivered.saturating_sub(self.credited)
    }
}

#[derive(Clone, Debug)]
struct Pending {
    session_id: u64,
    seq: u64,
    units: u64,
    cost: U256,
}

#[derive(Clone, Copy, Debug, Default)]
struct Funds {
    /// The sender's unlock round as last reported (the float itself is the recipient's).
    withdraw_round: u64,
}

/// The orchestrator machine (DESIGN.md section 2).
///
/// Invariants: work is requested only for a segment with a valid, unexpired token of a
/// session of the same kind, at the current price, from a sender whose reported max
/// float covers `min_float` and who is not unlocking, and whose unpaid delivered work
/// plus this segment stays within `credit_limit`; every result carries freshly quoted
/// ticket params; sessions never exceed `capacity`.
#[derive(Debug)]
pub struct Orchestrator {
    config: OrchestratorConfig,
    recipient: Recipient,
    address: Address,
    token_secret: H256,
    now: Timestamp,
    sessions: BTreeMap<u64, Session>,
    funds: BTreeMap<Address, Funds>,
    pending: BTreeMap<u64, Pending>,
    next_session: u64,
    next_id: u64,
    outputs: VecDeque<OrchestratorOutput>,
}

impl Orchestrator {
    /// An orchestrator receiving tickets as `keys.address`.
    pub fn new(config: OrchestratorConfig, keys: RecipientKeys, now: Timestamp, seed: [u8; 32]) -> Self {
        let address = keys.address;
        let token_secret = keccak256_concat([
            b"meshcast/orchestration/token".as_slice(),
            keys.secret.as_slice(),
            seed.as_slice(),
        ]);
        let recipient = Recipient::new(config.recipient.clone(), keys, now, seed);
        Orchestrator {
            config,
            recipient,
            address,
            token_secret,
            now,
            sessions: BTreeMap::new(),
            funds: BTreeMap::new(),
            pending: BTreeMap::new(),
            next_session: 1,
            next_id: 0,
            outputs: VecDeque::new(),
        }
    }

    /// Its address.
    pub fn address(&self) -> Address {
        self.address
    }

    /// Open sessions.
    pub fn sessions(&self) -> usize {
        self.sessions.len()
    }

    /// Delivered work not yet paid, over every session of `sender`.
    pub fn unpaid(&self, sender: &Address) -> U256 {
        self.sessions
            .values()
            .filter(|s| s.sender == *sender)
            .fold(U256::zero(), |a, s| a.saturating_add(s.unpaid()))
    }

    /// The ticket recipient (read-only), for its float and queue accessors.
    pub fn recipient(&self) -> &Recipient {
        &self.recipient
    }

    fn price_of(&self, kind: &JobKind) -> Option<PriceInfo> {
        self.config
            .capabilities
            .iter()
            .find(|c| c.kind == *kind)
            .map(|c| PriceInfo::per_unit(c.price_per_unit))
    }

    fn refuse(&mut self, peer: PeerId, job: u64, seq: Option<u64>, error: ProtocolError) {
        self.outputs.push_back(OrchestratorOutput::Send {
            to: peer,
            msg: Box::new(Message::Refused(Refusal { job, seq, error: error.clone() })),
        });
        self.outputs.push_back(OrchestratorOutput::Event(OrchestratorEvent::Refused { peer, seq, error }));
    }

    // The refusal is sent at once (never propagated up a call stack): no box needed.
    #[allow(clippy::result_large_err)]
    fn check_funds(&self, sender: &Address) -> Result<(), ProtocolError> {
        let f = self.funds.get(sender).copied().unwrap_or_default();
        if f.withdraw_round != 0 {
            return Err(ProtocolError::SenderUnlocking { withdraw_round: f.withdraw_round });
        }
        // What the sender can still be made to pay: its float less winners in flight.
        let available = self.recipient.available_float(sender);
        if available < self.config.min_float {
            return Err(ProtocolError::LowDeposit { max_float: available, required: self.config.min_float });
        }
        Ok(())
    }

    /// Quotes fresh params for `sender` at `price`.
    fn quote(&mut self, sender: Address, price: PriceInfo) -> Result<TicketParams, Error> {
        self.recipient.handle(self.now, RecipientInput::Quote { sender, price: price.to_ticket_price()? })?;
        let mut params = None;
        self.drain_recipient(&mut params);
        params.ok_or(Error::InvalidMessage { reason: "recipient quoted no params" })
    }

    fn drain_recipient(&mut self, params: &mut Option<TicketParams>) {
        while let Some(out) = self.recipient.poll_output() {
            match out {
                RecipientOutput::Params { params: p, .. } => *params = Some(p),
                RecipientOutput::Redeem(t) => self.outputs.push_back(OrchestratorOutput::Redeem(t)),
                RecipientOutput::Event(RecipientEvent::Won { ticket_hash, face_value }) => self
                    .outputs
                    .push_back(OrchestratorOutput::Event(OrchestratorEvent::Won { ticket_hash, face_value })),
                RecipientOutput::Event(RecipientEvent::Credited { .. }) => {}
                RecipientOutput::Event(e) => {
                    self.outputs.push_back(OrchestratorOutput::Event(OrchestratorEvent::Recipient(e)))
                }
            }
        }
    }

    fn on_job_request(&mut self, peer: PeerId, req: JobRequest) -> Result<(), Error> {
        let Some(price) = self.price_of(&req.kind) else {
            self.refuse(peer, req.job, None, ProtocolError::Unsupported { kind: req.kind.label() });
            return Ok(());
        };
        // A renewed request for the same job reuses its slot.
        let existing =
            self.sessions.iter().find(|(_, s)| s.peer == peer && s.job == req.job).map(|(id, _)| *id);
        if existing.is_none() && self.sessions.len() >= self.config.capacity as usize {
            let error = ProtocolError::CapacityFull {
                sessions: self.sessions.len() as u32,
                capacity: self.config.capacity,
            };
            self.refuse(peer, req.job, None, error);
            return Ok(());
        }
        if !price.at_most(&req.max_price) {
            let error = ProtocolError::PriceTooHigh {
                price_per_unit: price.price_per_unit,
                units: price.units,
                max_per_unit: req.max_price.price_per_unit,
                max_units: req.max_price.units,
            };
            self.refuse(peer, req.job, None, error);
            return Ok(());
        }
        if let Err(e) = self.check_funds(&req.sender) {
            self.refuse(peer, req.job, None, e);
            return Ok(());
        }
        let ticket_params = self.quote(req.sender, price)?;
        let session_id = existing.unwrap_or_else(|| {
            let id = self.next_session;
            self.next_session += 1;
            id
        });
        let expires_at_ms = self.now.as_millis().saturating_add(self.config.token_ttl_ms);
        let token = AuthToken {
            token: keccak256_concat([
                self.token_secret.as_bytes(),
                session_id.to_be_bytes().as_slice(),
                req.sender.as_bytes(),
                expires_at_ms.to_be_bytes().as_slice(),
            ]),
            session_id,
            expires_at_ms,
        };
        let (delivered, credited, previous) = match self.sessions.remove(&session_id) {
            Some(s) => (s.delivered, s.credited, Some(s.token)),
            None => (U256::zero(), U256::zero(), None),
        };
        self.sessions.insert(
            session_id,
            Session {
                peer,
                job: req.job,
                sender: req.sender,
                kind: req.kind,
                token,
                previous,
                delivered,
                credited,
            },
        );
        let info = OrchestratorInfo {
            job: req.job,
            orchestrator: self.address,
            price,
            ticket_params,
            capabilities: self.config.capabilities.clone(),
            token,
            free_capacity: self.config.capacity.saturating_sub(self.sessions.len() as u32),
        };
        self.outputs
            .push_back(OrchestratorOutput::Send { to: peer, msg: Box::new(Message::Info(Box::new(info))) });
        if existing.is_none() {
            self.outputs.push_back(OrchestratorOutput::Event(OrchestratorEvent::SessionOpened {
                peer,
                sender: req.sender,
                session_id,
            }));
        }
        Ok(())
    }

    /// The checks before work, in order; the first failure is the refusal.
    #[allow(clippy::result_large_err)]
    fn check_segment(&self, peer: PeerId, seg: &SegmentRequest) -> Result<U256, ProtocolError> {
        let session = match self.sessions.get(&seg.token.session_id) {
            Some(s)
                if (s.token == seg.token || s.previous == Some(seg.token))
                    && s.peer == peer
                    && s.job == seg.job =>
            {
                s
            }
            _ => return Err(ProtocolError::UnknownToken),
        };
        if seg.token.expires_at_ms <= self.now.as_millis() {
            return Err(ProtocolError::TokenExpired {
                expired_at_ms: seg.token.expires_at_ms,
                now_ms: self.now.as_millis(),
            });
        }
        if seg.kind != session.kind {
            return Err(ProtocolError::SegmentFormatMismatch {
                expected: session.kind.label(),
                found: seg.kind.label(),
            });
        }
        let Some(current) = self.price_of(&session.kind) else {
            return Err(ProtocolError::Unsupported { kind: session.kind.label() });
        };
        if seg.price != current {
            return Err(ProtocolError::PriceChanged {
                stated_per_unit: seg.price.price_per_unit,
                stated_units: seg.price.units,
                current_per_unit: current.price_per_unit,
                current_units: current.units,
            });
        }
        if seg.units == 0 || seg.units > self.config.max_units {
            return Err(ProtocolError::BadUnits { units: seg.units, limit: self.config.max_units });
        }
        self.check_funds(&session.sender)?;
        let cost = current
            .cost(seg.units)
            .ok_or(ProtocolError::BadUnits { units: seg.units, limit: self.config.max_units })?;
        let after = session.unpaid().saturating_add(cost);
        if after > self.config.credit_limit {
            return Err(ProtocolError::PaymentRequired { unpaid: after, limit: self.config.credit_limit });
        }
        Ok(cost)
    }

    fn on_segment(&mut self, peer: PeerId, seg: SegmentRequest) {
        match self.check_segment(peer, &seg) {
            Err(e) => self.refuse(peer, seg.job, Some(seg.seq), e),
            Ok(cost) => {
                let id = self.next_id;
                self.next_id += 1;
                self.pending.insert(
                    id,
                    Pending { session_id: seg.token.session_id, seq: seg.seq, units: seg.units, cost },
                );
                self.outputs.push_back(OrchestratorOutput::Work(Box::new(WorkRequest {
                    id,
                    peer,
                    seq: seg.seq,
                    kind: seg.kind,
                    units: seg.units,
                    price: seg.price,
                    payload: seg.payload,
                })));
            }
        }
    }

    fn on_work_done(&mut self, id: u64, output: Vec<u8>, claim: Option<TranscodeClaim>) -> Result<(), Error> {
        let Some(p) = self.pending.remove(&id) else { return Err(Error::UnknownRequest { id }) };
        let Some(s) = self.sessions.get(&p.session_id) else { return Ok(()) };
        let (peer, job, sender, kind) = (s.peer, s.job, s.sender, s.kind.clone());
        let price = self.price_of(&kind).unwrap_or(PriceInfo::per_unit(U256::zero()));
        let ticket_params = self.quote(sender, price)?;
        if let Some(s) = self.sessions.get_mut(&p.session_id) {
            s.delivered = s.delivered.checked_add(p.cost).ok_or(Error::Overflow { what: "delivered" })?;
        }
        let result = SegmentResult { job, seq: p.seq, units: p.units, output, claim, ticket_params };
        self.outputs.push_back(OrchestratorOutput::Send {
            to: peer,
            msg: Box::new(Message::Result(Box::new(result))),
        });
        self.outputs.push_back(OrchestratorOutput::Event(OrchestratorEvent::Delivered {
            peer,
            seq: p.seq,
            cost: p.cost,
        }));
        Ok(())
    }

    fn on_payment(&mut self, peer: PeerId, job: u64, seq: u64, bytes: &[u8]) -> Result<(), Error> {
        let Some((&sid, _)) = self.sessions.iter().find(|(_, s)| s.peer == peer && s.job == job) else {
            return Err(Error::UnknownPeer { peer });
        };
        let batch = match TicketBatch::decode(bytes) {
            Ok(b) => b,
            Err(e) => {
                self.refuse(peer, job, Some(seq), ProtocolError::PaymentRefused { reason: e.to_string() });
                return Ok(());
            }
        };
        let sender = batch.sender;
        if self.sessions.get(&sid).is_some_and(|s| s.sender != sender) {
            self.refuse(
                peer,
                job,
                Some(seq),
                ProtocolError::PaymentRefused { reason: "another sender".into() },
            );
            return Ok(());
        }
        let tickets = batch.len() as u32;
        if let Err(e) = self.recipient.handle(self.now, RecipientInput::Batch(Box::new(batch))) {
            self.refuse(peer, job, Some(seq), ProtocolError::PaymentRefused { reason: e.to_string() });
            return Ok(());
        }
        let mut ev = U256::zero();
        while let Some(out) = self.recipient.poll_output() {
            match out {
                RecipientOutput::Event(RecipientEvent::Credited { ev: e, .. }) => {
                    ev = ev.saturating_add(e.floor())
                }
                RecipientOutput::Event(RecipientEvent::Won { ticket_hash, face_value }) => self
                    .outputs
                    .push_back(OrchestratorOutput::Event(OrchestratorEvent::Won { ticket_hash, face_value })),
                RecipientOutput::Redeem(t) => self.outputs.push_back(OrchestratorOutput::Redeem(t)),
                RecipientOutput::Params { .. } => {}
                RecipientOutput::Event(e) => {
                    self.outputs.push_back(OrchestratorOutput::Event(OrchestratorEvent::Recipient(e)))
                }
            }
        }
        if let Some(s) = self.sessions.get_mut(&sid) {
            s.credited = s.credited.saturating_add(ev);
        }
        self.outputs.push_back(OrchestratorOutput::Event(OrchestratorEvent::Credited {
            peer,
            seq,
            tickets,
            ev,
        }));
        Ok(())
    }
}

impl Machine for Orchestrator {
    type Input = OrchestratorInput;
    type Output = OrchestratorOutput;
    type Error = Error;

    fn handle(&mut self, now: Timestamp, input: OrchestratorInput) -> Result<(), Error> {
        self.now = self.now.max(now);
        let mut none = None;
        match input {
            OrchestratorInput::Chain { block, round, round_block_hash } => {
                self.recipient.handle(self.now, RecipientInput::Chain { block, round, round_block_hash })?;
            }
            OrchestratorInput::GasPrice(p) => self.recipient.handle(self.now, RecipientInput::GasPrice(p))?,
            OrchestratorInput::SenderFunds { sender, max_float, withdraw_round } => {
                self.recipient
                    .handle(self.now, RecipientInput::SenderFunds { sender, max_float, withdraw_round })?;
                self.funds.insert(sender, Funds { withdraw_round });
            }
            OrchestratorInput::SetPrice { kind, price_per_unit } => {
                match self.config.capabilities.iter_mut().find(|c| c.kind == kind) {
                    Some(c) => c.price_per_unit = price_per_unit,
                    None => return Err(ProtocolError::Unsupported { kind: kind.label() }.into()),
                }
            }
            OrchestratorInput::Received { from, msg } => match *msg {
                Message::JobRequest(r) => self.on_job_request(from, r)?,
                Message::Segment(s) => self.on_segment(from, *s),
                Message::Payment(p) => self.on_payment(from, p.job, p.seq, &p.batch)?,
                Message::EndSession { job, token } => {
                    let matches = self.sessions.get(&token.session_id).is_some_and(|s| {
                        s.peer == from && s.job == job && s.token == token && s.unpaid().is_zero()
                    });
                    if matches {
                        self.sessions.remove(&token.session_id);
                    }
                }
                Message::Info(_) | Message::Result(_) | Message::Refused(_) => {
                    return Err(Error::InvalidMessage { reason: "not a message for an orchestrator" });
                }
            },
            OrchestratorInput::WorkDone { id, output, claim } => self.on_work_done(id, output, claim)?,
            OrchestratorInput::WorkFailed { id, reason } => {
                let Some(p) = self.pending.remove(&id) else { return Err(Error::UnknownRequest { id }) };
                if let Some((peer, job)) = self.sessions.get(&p.session_id).map(|s| (s.peer, s.job)) {
                    self.refuse(peer, job, Some(p.seq), ProtocolError::WorkFailed { reason });
                }
            }
            OrchestratorInput::Redeemed { ticket_hash, paid } => {
                self.recipient.handle(self.now, RecipientInput::Redeemed { ticket_hash, paid })?;
            }
            OrchestratorInput::RedeemFailed { ticket_hash, reason } => {
                self.recipient.handle(self.now, RecipientInput::RedeemFailed { ticket_hash, reason })?;
            }
            OrchestratorInput::Timeout => {
                self.recipient.handle(self.now, RecipientInput::Timeout)?;
                let now_ms = self.now.as_millis();
                // Expired sessions with nothing owed free their slot.
                self.sessions.retain(|_, s| s.token.expires_at_ms > now_ms || !s.unpaid().is_zero());
            }
        }
        self.drain_recipient(&mut none);
        Ok(())
    }

    fn poll_output(&mut self) -> Option<OrchestratorOutput> {
        self.outputs.pop_front()
    }

    fn poll_timeout(&self) -> Option<Timestamp> {
        let now_ms = self.now.as_millis();
        let expiry = self
            .sessions
            .values()
            .map(|s| s.token.expires_at_ms)
            .filter(|&e| e > now_ms)
            .min()
            .map(Timestamp::from_millis);
        [self.recipient.poll_timeout(), expiry].into_iter().flatten().min()
    }
}
