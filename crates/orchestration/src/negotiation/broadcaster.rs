//! The broadcaster's negotiation machine: discovery, selection, segments with failover,
//! verification requests and payment in arrears (go-livepeer `server/broadcast.go`,
//! `discovery/`).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use pm_tickets::{Sender, SenderConfig, SenderInput, SenderOutput, TicketParams};
use primitives::{Address, H256, Machine, SecretKey, Signer, Timestamp, U256, keccak256_concat};

use super::PeerId;
use super::error::{Error, ProtocolError};
use super::message::{
    JobRequest, Message, OrchestratorInfo, Payment, PriceInfo, SegmentRequest, SegmentResult,
};
use crate::job::JobKind;
use crate::selection::{Candidate, SelectionConfig, Selector};

/// Broadcaster settings.
#[derive(Clone, Debug, PartialEq)]
pub struct BroadcasterConfig {
    /// The job (stream) id.
    pub job: u64,
    /// What the job is.
    pub kind: JobKind,
    /// The most it pays.
    pub max_price: PriceInfo,
    /// How long discovery waits for `OrchestratorInfo` answers, ms.
    pub discovery_timeout_ms: u64,
    /// How long a segment may take before it is retried elsewhere, ms.
    pub segment_timeout_ms: u64,
    /// Attempts per segment, the first included (at most 3 in the Streamflow design).
    pub max_attempts: u32,
    /// Verify 1 in `verify_rate` results fully (re-encode comparison or re-execution);
    /// every result gets the cheap checks. At least 1.
    pub verify_rate: u32,
    /// Selection settings (`realtime_ms` is the segment duration).
    pub selection: SelectionConfig,
    /// The ticket sender's settings.
    pub sender: SenderConfig,
    /// Re-request an orchestrator's info this long before its token expires, ms.
    pub token_refresh_margin_ms: u64,
}

impl BroadcasterConfig {
    /// Defaults for `kind` at `max_price`: 500 ms discovery, 4 s segment timeout, 3
    /// attempts, 1 in 10 verified.
    pub fn new(job: u64, kind: JobKind, max_price: PriceInfo) -> Self {
        BroadcasterConfig {
            job,
            kind,
            max_price,
            discovery_timeout_ms: 500,
            segment_timeout_ms: 4_000,
            max_attempts: 3,
            verify_rate: 10,
            selection: SelectionConfig::default(),
            sender: SenderConfig::default(),
            token_refresh_margin_ms: 5_000,
        }
    }
}

/// What the host feeds the broadcaster.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BroadcasterInput {
    /// The latest block (for ticket params' expiry).
    Chain {
        /// Block number.
        block: u64,
    },
    /// The sender's broker account.
    Funds {
        /// Deposit.
        deposit: U256,
        /// Reserve.
        reserve: U256,
        /// Withdraw round of an unlock in progress; 0 when none.
        withdraw_round: u64,
    },
    /// Orchestrators to ask (from the registry: the peer and its bonded stake). Each
    /// one not suspended gets a job request; answers are collected until
    /// `discovery_timeout_ms`.
    Discover(Vec<(PeerId, U256)>),
    /// A decoded message from a peer ([`Message::decode`]).
    Received {
        /// The peer.
        from: PeerId,
        /// The message.
        msg: Box<Message>,
    },
    /// A new segment of the job.
    Segment {
        /// Sequence number (unique).
        seq: u64,
        /// Units of work (output pixels, compute units).
        units: u64,
        /// Input bytes.
        payload: Vec<u8>,
    },
    /// The host's answer to [`BroadcasterOutput::Verify`].
    Verdict {
        /// The request id.
        id: u64,
        /// Whether the result passed.
        passed: bool,
    },
    /// The time from `poll_timeout` was reached.
    Timeout,
}

/// Why an orchestrator was suspended for the stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SuspendReason {
    /// A segment timed out (crash or stall).
    Timeout,
    /// A result failed verification.
    FailedVerification,
    /// It refused a segment.
    Refused(ProtocolError),
    /// Its ticket params were refused by the sender.
    BadTicketParams(pm_tickets::Error),
    /// Its result did not match the segment (units, sequence, job).
    BadResult,
}

/// Reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BroadcasterEvent {
    /// An orchestrator answered discovery.
    Discovered {
        /// The peer.
        peer: PeerId,
        /// Its address.
        orchestrator: Address,
        /// Its price.
        price: PriceInfo,
        /// Round trip, ms.
        latency_ms: u64,
    },
    /// An orchestrator refused the job or sent an offer that was not taken.
    Declined {
        /// The peer.
        peer: PeerId,
        /// Why (its refusal, or why its offer was refused).
        reason: String,
    },
    /// A segment was sent.
    Dispatched {
        /// The segment.
        seq: u64,
        /// To whom.
        peer: PeerId,
        /// Attempt number, from 1.
        attempt: u32,
    },
    /// A segment was delivered and accepted.
    Delivered {
        /// The segment.
        seq: u64,
        /// By whom.
        peer: PeerId,
        /// Attempts it took.
        attempts: u32,
        /// Its cost.
        cost: U256,
    },
    /// Tickets were sent for a delivered segment.
    Paid {
        /// The segment.
        seq: u64,
        /// To whom.
        peer: PeerId,
        /// The amount covered.
        amount: U256,
        /// Tickets sent (0 when the session's credit covered it).
        tickets: u32,
    },
    /// An orchestrator is no longer used for this stream.
    Suspended {
        /// The peer.
        peer: PeerId,
        /// Why.
        reason: SuspendReason,
    },
    /// A segment failed `max_attempts` times (or no orchestrator was left).
    SegmentFailed {
        /// The segment.
        seq: u64,
        /// Attempts made.
        attempts: u32,
    },
    /// No usable orchestrator: the host should discover more.
    NeedOrchestrators,
}

/// The host verifies a result: the cheap checks always, the full check (perceptual
/// comparison against a local encode through `transcode-verify`'s verdict, or
/// re-execution of a compute job) when `full`. Answer with
/// [`BroadcasterInput::Verdict`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifyRequest {
    /// Request id.
    pub id: u64,
    /// The segment.
    pub seq: u64,
    /// Who did it.
    pub peer: PeerId,
    /// Its address (a claim must be signed by it).
    pub orchestrator: Address,
    /// The agreed price (a claim must state it).
    pub price: PriceInfo,
    /// Whether the secret sampling picked it for the full check.
    pub full: bool,
    /// The segment's input.
    pub payload: Vec<u8>,
    /// The result.
    pub result: Box<SegmentResult>,
}

/// What the broadcaster asks of its host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BroadcasterOutput {
    /// Send a message (encode it with [`Message::encode`]).
    Send {
        /// The peer.
        to: PeerId,
        /// The message.
        msg: Box<Message>,
    },
    /// Verify a result.
    Verify(Box<VerifyRequest>),
    /// A report.
    Event(BroadcasterEvent),
}

#[derive(Clone, Debug)]
struct Orch {
    stake: U256,
    info: Option<OrchestratorInfo>,
    /// The sender session paid on, and its params.
    session: Option<TicketParams>,
    /// The params of its latest response, checked, used once the session's expire.
    fresh: Option<TicketParams>,
    requested_at: Option<Timestamp>,
    latency_ms: u64,
    successes: u32,
    failures: u32,
    suspended: bool,
}

#[derive(Clone, Debug)]
enum SegState {
    Queued,
    InFlight { peer: PeerId, sent_at: Timestamp, deadline: Timestamp, price: PriceInfo },
    Verifying { peer: PeerId, price: PriceInfo },
}

#[derive(Clone, Debug)]
struct Seg {
    units: u64,
    payload: Vec<u8>,
    attempts: u32,
    state: SegState,
}

/// The broadcaster machine (DESIGN.md section 2).
///
/// Invariants: a segment is sent at most `max_attempts` times and to one orchestrator at
/// a time; it is paid once, after its result was accepted, and only to the orchestrator
/// that delivered it (payment in arrears: a failed, timed-out or rejected segment is never
/// paid); a suspended orchestrator gets no further segment of the stream; every payment
/// goes through the ticket sender, which re-checks the params and funds first.
#[derive(Debug)]
pub struct Broadcaster<S: Signer = SecretKey> {
    config: BroadcasterConfig,
    selector: Selector,
    sender: Sender<S>,
    address: Address,
    sample_secret: H256,
    now: Timestamp,
    block: u64,
    orchs: BTreeMap<PeerId, Orch>,
    segments: BTreeMap<u64, Seg>,
    seen: BTreeSet<u64>,
    queue: VecDeque<u64>,
    verifies: BTreeMap<u64, u64>,
    next_id: u64,
    discovery_deadline: Option<Timestamp>,
    /// End of a liveness re-probe (sent after a suspension; does not hold dispatch).
    refresh_deadline: Option<Timestamp>,
    current: Option<PeerId>,
    outputs: VecDeque<BroadcasterOutput>,
}

impl<S: Signer> Broadcaster<S> {
    /// A broadcaster paying with `signer`. `seed` keys the secret sampling of results
    /// for full verification.
    pub fn new(config: BroadcasterConfig, signer: S, now: Timestamp, seed: [u8; 32]) -> Self {
        let address = signer.address();
        let sender = Sender::new(config.sender.clone(), signer, now, seed);
        Broadcaster {
            selector: Selector::new(config.selection),
            config,
            sender,
            address,
            sample_secret: keccak256_concat([b"meshcast/orchestration/sample".as_slice(), seed.as_slice()]),
            now,
            block: 0,
            orchs: BTreeMap::new(),
            segments: BTreeMap::new(),
            seen: BTreeSet::new(),
            queue: VecDeque::new(),
            verifies: BTreeMap::new(),
            next_id: 0,
            discovery_deadline: None,
            refresh_deadline: None,
            current: None,
            outputs: VecDeque::new(),
        }
    }

    /// The paying address.
    pub fn address(&self) -> Address {
        self.address
    }

    /// The orchestrator in use.
    pub fn current(&self) -> Option<PeerId> {
        self.current
    }

    /// Whether `peer` is suspended for the stream.
    pub fn is_suspended(&self, peer: PeerId) -> bool {
        self.orchs.get(&peer).is_some_and(|o| o.suspended)
    }

    /// Segments submitted and not yet delivered or failed.
    pub fn pending(&self) -> usize {
        self.segments.len()
    }

    /// Whether the secret sampling picks segment `seq` for the full check.
    pub fn is_sampled(&self, seq: u64) -> bool {
        let h = keccak256_concat([self.sample_secret.as_bytes(), seq.to_be_bytes().as_slice()]);
        let mut v = [0u8; 8];
        v.copy_from_slice(&h.as_bytes()[..8]);
        u64::from_be_bytes(v) % u64::from(self.config.verify_rate.max(1)) == 0
    }

    fn emit(&mut self, e: BroadcasterEvent) {
        self.outputs.push_back(BroadcasterOutput::Event(e));
    }

    fn send(&mut self, to: PeerId, msg: Message) {
        self.outputs.push_back(BroadcasterOutput::Send { to, msg: Box::new(msg) });
    }

    fn request_info(&mut self, peer: PeerId) {
        let req = JobRequest {
            job: self.config.job,
            kind: self.config.kind.clone(),
            max_price: self.config.max_price,
            sender: self.address,
        };
        if let Some(o) = self.orchs.get_mut(&peer) {
            o.requested_at = Some(self.now);
        }
        self.send(peer, Message::JobRequest(req));
    }

    fn discover(&mut self, peers: Vec<(PeerId, U256)>) {
        for (peer, stake) in peers {
            let o = self.orchs.entry(peer).or_insert(Orch {
                stake,
                info: None,
                session: None,
                fresh: None,
                requested_at: None,
                latency_ms: 0,
                successes: 0,
                failures: 0,
                suspended: false,
            });
            o.stake = stake;
            if o.suspended {
                continue;
            }
            self.request_info(peer);
        }
        self.discovery_deadline = Some(self.now + self.config.discovery_timeout_ms);
    }

    fn on_info(&mut self, peer: PeerId, info: OrchestratorInfo) -> Result<(), Error> {
        let Some(o) = self.orchs.get(&peer) else { return Err(Error::UnknownPeer { peer }) };
        let Some(asked) = o.requested_at else {
            return Err(Error::InvalidMessage { reason: "unsolicited orchestrator info" });
        };
        if o.suspended {
            return Ok(());
        }
        if info.job != self.config.job {
            return Err(Error::InvalidMessage { reason: "info for another job" });
        }
        let refusal = if !info.price.at_most(&self.config.max_price) {
            Some("price above the maximum".to_string())
        } else if info.ticket_params.recipient != info.orchestrator {
            Some("ticket recipient is not the orchestrator".to_string())
        } else {
            self.sender.check_params(&info.ticket_params).err().map(|e| format!("ticket params refused: {e}"))
        };
        if let Some(reason) = refusal {
            // Answered, but not usable: it no longer holds up a discovery round.
            if let Some(o) = self.orchs.get_mut(&peer) {
                o.requested_at = None;
                o.info = None;
            }
            self.emit(BroadcasterEvent::Declined { peer, reason });
            self.maybe_end_round();
            return Ok(());
        }
        let latency_ms = self.now.millis_since(asked);
        let event = BroadcasterEvent::Discovered {
            peer,
            orchestrator: info.orchestrator,
            price: info.price,
            latency_ms,
        };
        if let Some(o) = self.orchs.get_mut(&peer) {
            o.requested_at = None;
            o.latency_ms = if o.successes == 0 { latency_ms } else { (o.latency_ms + latency_ms) / 2 };
            o.fresh = Some(info.ticket_params);
            o.info = Some(info);
        }
        self.emit(event);
        self.maybe_end_round();
        Ok(())
    }

    /// Ends a discovery or re-probe round once every orchestrator asked has answered, and
    /// dispatches what waited for it.
    fn maybe_end_round(&mut self) {
        if self.orchs.values().all(|o| o.requested_at.is_none() || o.suspended) {
            self.discovery_deadline = None;
            self.refresh_deadline = None;
        }
        if self.discovery_deadline.is_none() && self.refresh_deadline.is_none() {
            self.dispatch_queue();
        }
    }

    /// Sender outputs other than `Send` are reports the broadcaster does not forward.
    fn drain_sender(&mut self) -> Option<(H256, Box<pm_tickets::TicketBatch>)> {
        let mut batch = None;
        while let Some(out) = self.sender.poll_output() {
            if let SenderOutput::Send { session, batch: b } = out {
                batch = Some((session, b));
            }
        }
        batch
    }

    fn usable(&self, o: &Orch) -> bool {
        !o.suspended
            && (o.session.is_some() || o.fresh.is_some())
            && o.info.as_ref().is_some_and(|i| {
                i.token.expires_at_ms
                    > self.now.as_millis().saturating_add(self.config.token_refresh_margin_ms)
            })
    }

    fn choose(&mut self) -> Option<(PeerId, PriceInfo)> {
        // Tokens about to expire: ask again (the orchestrator is not usable until then).
        let stale: Vec<PeerId> = self
            .orchs
            .iter()
            .filter(|(_, o)| !o.suspended && o.info.is_some() && o.requested_at.is_none() && !self.usable(o))
            .map(|(p, _)| *p)
            .collect();
        for p in stale {
            self.request_info(p);
        }
        let mut ids = Vec::new();
        let mut cands = Vec::new();
        let mut current = None;
        for (peer, o) in &self.orchs {
            if !self.usable(o) {
                continue;
            }
            let Some(info) = &o.info else { continue };
            if Some(*peer) == self.current {
                current = Some(ids.len());
            }
            ids.push(*peer);
            cands.push(Candidate {
                id: *peer,
                price: info.price.as_f64(),
                latency_ms: o.latency_ms,
                stake: o.stake,
                successes: o.successes,
                failures: o.failures,
            });
        }
        let i = self.selector.select(&cands, current)?;
        let peer = ids[i];
        let price = self.orchs.get(&peer).and_then(|o| o.info.as_ref()).map(|i| i.price)?;
        self.current = Some(peer);
        Some((peer, price))
    }

    fn dispatch_queue(&mut self) {
        while let Some(seq) = self.queue.pop_front() {
            if !self.dispatch(seq) {
                self.queue.push_front(seq);
                break;
            }
        }
    }

    /// Sends `seq` to the best orchestrator; `false` if none is usable (it stays queued).
    fn dispatch(&mut self, seq: u64) -> bool {
        let Some(seg) = self.segments.get(&seq) else { return true };
        if seg.attempts >= self.config.max_attempts {
            let attempts = seg.attempts;
            self.segments.remove(&seq);
            self.emit(BroadcasterEvent::SegmentFailed { seq, attempts });
            return true;
        }
        let Some((peer, price)) = self.choose() else {
            self.emit(BroadcasterEvent::NeedOrchestrators);
            return false;
        };
        let Some(token) = self.orchs.get(&peer).and_then(|o| o.info.as_ref()).map(|i| i.token) else {
            return false;
        };
        let Some(seg) = self.segments.get_mut(&seq) else { return true };
        seg.attempts += 1;
        let attempt = seg.attempts;
        let msg = SegmentRequest {
            job: self.config.job,
            token,
            seq,
            kind: self.config.kind.clone(),
            price,
            units: seg.units,
            payload: seg.payload.clone(),
        };
        seg.state = SegState::InFlight {
            peer,
            sent_at: self.now,
            deadline: self.now + self.config.segment_timeout_ms,
            price,
        };
        self.send(peer, Message::Segment(Box::new(msg)));
        self.emit(BroadcasterEvent::Dispatched { seq, peer, attempt });
        true
    }

    fn suspend(&mut self, peer: PeerId, reason: SuspendReason) {
        let Some(o) = self.orchs.get_mut(&peer) else { return };
        o.failures = o.failures.saturating_add(1);
        if o.suspended {
            return;
        }
        o.suspended = true;
        o.fresh = None;
        if let Some(session) = o.session.take() {
            // Keeps the nonce sequence; no further ticket goes to this session.
            let _ = self.sender.handle(self.now, SenderInput::EndSession(session.recipient_rand_hash));
            self.drain_sender();
        }
        if self.current == Some(peer) {
            self.current = None;
        }
        self.emit(BroadcasterEvent::Suspended { peer, reason });
        // A failure is a hint that others may be gone too: re-probe every orchestrator
        // not suspended (those that do not answer by the deadline are not used until
        // they do), without holding dispatch.
        let probe: Vec<PeerId> = self
            .orchs
            .iter()
            .filter(|(_, o)| !o.suspended && o.requested_at.is_none())
            .map(|(p, _)| *p)
            .collect();
        for p in probe {
            self.request_info(p);
        }
        self.refresh_deadline = Some(self.now + self.config.discovery_timeout_ms);
        // Segments in flight there go elsewhere now.
        let moved: Vec<u64> = self
            .segments
            .iter()
            .filter(|(_, s)| matches!(s.state, SegState::InFlight { peer: p, .. } if p == peer))
            .map(|(q, _)| *q)
            .collect();
        for seq in moved {
            self.retry(seq);
        }
    }

    /// Sends a failed segment elsewhere. While a liveness re-probe is out (after a
    /// suspension) the retry waits for its answers (at most `discovery_timeout_ms`), so
    /// it goes to an orchestrator that just proved alive rather than to one that failed
    /// silently since the last probe.
    fn retry(&mut self, seq: u64) {
        if let Some(s) = self.segments.get_mut(&seq) {
            s.state = SegState::Queued;
        }
        if self.refresh_deadline.is_some() || self.discovery_deadline.is_some() || !self.dispatch(seq) {
            self.queue.push_back(seq);
        }
    }

    fn in_flight_at(&self, seq: u64, peer: PeerId) -> Option<(Timestamp, PriceInfo)> {
        match self.segments.get(&seq).map(|s| &s.state) {
            Some(SegState::InFlight { peer: p, sent_at, price, .. }) if *p == peer => {
                Some((*sent_at, *price))
            }
            _ => None,
        }
    }

    fn on_result(&mut self, peer: PeerId, result: SegmentResult) -> Result<(), Error> {
        let Some((sent_at, price)) = self.in_flight_at(result.seq, peer) else {
            // Late (already retried elsewhere) or unknown: not accepted, not paid.
            return Ok(());
        };
        let seq = result.seq;
        let units = self.segments.get(&seq).map(|s| s.units);
        if result.job != self.config.job || Some(result.units) != units {
            self.suspend(peer, SuspendReason::BadResult);
            return Ok(());
        }
        // Fresh params come with every response: checked now, used once the session's
        // params expire (the session's credit carries over until then).
        if let Err(e) = self.sender.check_params(&result.ticket_params) {
            self.suspend(peer, SuspendReason::BadTicketParams(e));
            return Ok(());
        }
        let rtt = self.now.millis_since(sent_at);
        let Some(o) = self.orchs.get_mut(&peer) else { return Err(Error::UnknownPeer { peer }) };
        let orchestrator = o.info.as_ref().map_or(Address::zero(), |i| i.orchestrator);
        if result.ticket_params.recipient != orchestrator {
            self.suspend(peer, SuspendReason::BadResult);
            return Ok(());
        }
        o.fresh = Some(result.ticket_params);
        o.latency_ms = (o.latency_ms + rtt) / 2;
        let id = self.next_id;
        self.next_id += 1;
        let payload = match self.segments.get_mut(&seq) {
            Some(s) => {
                s.state = SegState::Verifying { peer, price };
                s.payload.clone()
            }
            None => return Ok(()),
        };
        self.verifies.insert(id, seq);
        let full = self.is_sampled(seq);
        self.outputs.push_back(BroadcasterOutput::Verify(Box::new(VerifyRequest {
            id,
            seq,
            peer,
            orchestrator,
            price,
            full,
            payload,
            result: Box::new(result),
        })));
        Ok(())
    }

    fn on_verdict(&mut self, id: u64, passed: bool) -> Result<(), Error> {
        let Some(seq) = self.verifies.remove(&id) else { return Err(Error::UnknownRequest { id }) };
        let Some((peer, price, units, attempts)) = self.segments.get(&seq).and_then(|s| match s.state {
            SegState::Verifying { peer, price } => Some((peer, price, s.units, s.attempts)),
            _ => None,
        }) else {
            return Ok(());
        };
        if !passed {
            self.suspend(peer, SuspendReason::FailedVerification);
            self.retry(seq);
            return Ok(());
        }
        let cost = price.cost(units).ok_or(Error::Overflow { what: "segment cost" })?;
        self.segments.remove(&seq);
        if let Some(o) = self.orchs.get_mut(&peer) {
            o.successes = o.successes.saturating_add(1);
        }
        self.emit(BroadcasterEvent::Delivered { seq, peer, attempts, cost });
        if let Some(session) = self.payment_session(peer) {
            match self.sender.handle(self.now, SenderInput::Pay { session, amount: cost }) {
                Ok(()) => {
                    let batch = self.drain_sender();
                    let tickets = batch.as_ref().map_or(0, |(_, b)| b.len() as u32);
                    if let Some((_, b)) = batch {
                        self.send(
                            peer,
                            Message::Payment(Payment { job: self.config.job, seq, batch: b.encode() }),
                        );
                    }
                    self.emit(BroadcasterEvent::Paid { seq, peer, amount: cost, tickets });
                }
                Err(e) => {
                    // The params or our funds no longer pass: stop using it.
                    self.suspend(peer, SuspendReason::BadTicketParams(e));
                }
            }
        } else {
            self.suspend(peer, SuspendReason::BadResult);
        }
        Ok(())
    }

    /// The session to pay `peer` on: the current one while its params pass the
    /// sender's checks (re-checked on every batch) with at least one block to spare (a
    /// batch must not reach the orchestrator after its params expired), else one opened
    /// on the freshest params, the old one ended.
    fn payment_session(&mut self, peer: PeerId) -> Option<H256> {
        let o = self.orchs.get(&peer)?;
        let spare = self.block.saturating_add(1);
        if let Some(p) =
            o.session.filter(|p| p.expiration_block > spare && self.sender.check_params(p).is_ok())
        {
            return Some(p.recipient_rand_hash);
        }
        let old = o.session;
        let fresh = o.fresh?;
        if let Some(old) = old {
            let _ = self.sender.handle(self.now, SenderInput::EndSession(old.recipient_rand_hash));
        }
        let started = self.sender.handle(self.now, SenderInput::StartSession(fresh));
        self.drain_sender();
        let o = self.orchs.get_mut(&peer)?;
        o.session = None;
        o.fresh = None;
        if started.is_err() {
            return None;
        }
        o.session = Some(fresh);
        Some(fresh.recipient_rand_hash)
    }

    fn on_refused(&mut self, peer: PeerId, seq: Option<u64>, error: ProtocolError) {
        match seq {
            None => {
                if let Some(o) = self.orchs.get_mut(&peer) {
                    o.requested_at = None;
                    o.info = None;
                }
                self.emit(BroadcasterEvent::Declined { peer, reason: error.to_string() });
                self.maybe_end_round();
            }
            Some(seq) => {
                if self.in_flight_at(seq, peer).is_none() {
                    return;
                }
                match error {
                    // Renegotiable: ask for a fresh offer, send this segment elsewhere.
                    ProtocolError::PriceChanged { .. } | ProtocolError::TokenExpired { .. } => {
                        if let Some(o) = self.orchs.get_mut(&peer) {
                            o.info = None;
                        }
                        if self.current == Some(peer) {
                            self.current = None;
                        }
                        self.emit(BroadcasterEvent::Declined { peer, reason: error.to_string() });
                        self.request_info(peer);
                        self.retry(seq);
                    }
                    other => {
                        self.suspend(peer, SuspendReason::Refused(other));
                        // `suspend` moved every segment in flight there, this one included.
                    }
                }
            }
        }
    }

    /// Orchestrators asked before `deadline` that have not answered are not used until
    /// they answer.
    fn expire_requests(&mut self, deadline: Timestamp) {
        let asked_by = deadline.as_millis().saturating_sub(self.config.discovery_timeout_ms);
        for o in self.orchs.values_mut() {
            if o.requested_at.is_some_and(|t| t.as_millis() <= asked_by) {
                o.requested_at = None;
                o.info = None;
            }
        }
    }

    fn on_timeout(&mut self) {
        if let Some(d) = self.discovery_deadline.filter(|d| *d <= self.now) {
            self.discovery_deadline = None;
            self.expire_requests(d);
            self.dispatch_queue();
        }
        if let Some(d) = self.refresh_deadline.filter(|d| *d <= self.now) {
            self.refresh_deadline = None;
            self.expire_requests(d);
            self.dispatch_queue();
        }
        let late: Vec<(u64, PeerId)> = self
            .segments
            .iter()
            .filter_map(|(q, s)| match s.state {
                SegState::InFlight { peer, deadline, .. } if deadline <= self.now => Some((*q, peer)),
                _ => None,
            })
            .collect();
        for (seq, peer) in late {
            if self.in_flight_at(seq, peer).is_some() {
                self.suspend(peer, SuspendReason::Timeout);
            }
        }
    }
}

impl<S: Signer> Machine for Broadcaster<S> {
    type Input = BroadcasterInput;
    type Output = BroadcasterOutput;
    type Error = Error;

    fn handle(&mut self, now: Timestamp, input: BroadcasterInput) -> Result<(), Error> {
        self.now = self.now.max(now);
        match input {
            BroadcasterInput::Chain { block } => {
                self.sender.handle(self.now, SenderInput::Chain { block })?;
                self.block = self.block.max(block);
                self.drain_sender();
            }
            BroadcasterInput::Funds { deposit, reserve, withdraw_round } => {
                self.sender.handle(self.now, SenderInput::Funds { deposit, reserve, withdraw_round })?;
                self.drain_sender();
            }
            BroadcasterInput::Discover(peers) => self.discover(peers),
            BroadcasterInput::Received { from, msg } => match *msg {
                Message::Info(info) => self.on_info(from, *info)?,
                Message::Result(r) => self.on_result(from, *r)?,
                Message::Refused(r) => {
                    if r.job != self.config.job {
                        return Err(Error::InvalidMessage { reason: "refusal for another job" });
                    }
                    if !self.orchs.contains_key(&from) {
                        return Err(Error::UnknownPeer { peer: from });
                    }
                    self.on_refused(from, r.seq, r.error);
                }
                Message::JobRequest(_)
                | Message::Segment(_)
                | Message::Payment(_)
                | Message::EndSession { .. } => {
                    return Err(Error::InvalidMessage { reason: "not a message for a broadcaster" });
                }
            },
            BroadcasterInput::Segment { seq, units, payload } => {
                if !self.seen.insert(seq) {
                    return Err(Error::DuplicateSegment { seq });
                }
                if self.orchs.is_empty() {
                    self.seen.remove(&seq);
                    return Err(Error::NoCandidates);
                }
                self.segments.insert(seq, Seg { units, payload, attempts: 0, state: SegState::Queued });
                let waiting = self.discovery_deadline.is_some() || self.refresh_deadline.is_some();
                if waiting || !self.queue.is_empty() || !self.dispatch(seq) {
                    self.queue.push_back(seq);
                }
            }
            BroadcasterInput::Verdict { id, passed } => self.on_verdict(id, passed)?,
            BroadcasterInput::Timeout => self.on_timeout(),
        }
        Ok(())
    }

    fn poll_output(&mut self) -> Option<BroadcasterOutput> {
        self.outputs.pop_front()
    }

    fn poll_timeout(&self) -> Option<Timestamp> {
        let segs = self.segments.values().filter_map(|s| match s.state {
            SegState::InFlight { deadline, .. } => Some(deadline),
            _ => None,
        });
        segs.chain(self.discovery_deadline).chain(self.refresh_deadline).min()
    }
}
