//! The negotiation machines driven by hand through the wire codec: discovery, payment in
//! arrears, failover, suspension, every protocol error, determinism.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{BTreeSet, VecDeque};

use orchestration::job::{Capability, JobKind, VerificationPolicy};
use orchestration::negotiation::*;
use pm_tickets::{RecipientConfig, RecipientKeys};
use primitives::{H256, Machine, SecretKey, Timestamp, U256};

const UNITS: u64 = 1_000;
const PRICE: u64 = 5;
const COST: u64 = UNITS * PRICE;

fn kind() -> JobKind {
    JobKind::Compute { workload: "reverse/v1".into() }
}

fn recipient_config() -> RecipientConfig {
    RecipientConfig { ev: U256::from(COST), ..RecipientConfig::default() }
}

fn orch_config(price: u64, capacity: u32) -> OrchestratorConfig {
    let cap = Capability {
        kind: kind(),
        price_per_unit: U256::from(price),
        verification: VerificationPolicy::Sampled { rate: 1 },
    };
    let mut c = OrchestratorConfig::new(vec![cap], U256::from(2 * COST), recipient_config());
    c.capacity = capacity;
    c
}

/// What an orchestrator's host does with work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Host {
    Honest,
    /// Receives but never answers (crash or stall).
    Silent,
    /// Answers with wrong output (caught by verification).
    Tamper,
}

struct World {
    now: Timestamp,
    b: Broadcaster,
    os: Vec<Orchestrator>,
    hosts: Vec<Host>,
    events: Vec<BroadcasterEvent>,
    oevents: Vec<(usize, OrchestratorEvent)>,
    /// Every output of the broadcaster, for the determinism test.
    trace: Vec<String>,
    wire: VecDeque<(bool, u64, Vec<u8>)>,
    max_float: U256,
}

impl World {
    fn new(prices: &[u64], seed: u8) -> World {
        Self::with(prices.iter().map(|&p| (orch_config(p, 4), Host::Honest)).collect(), seed, U256::exp10(18))
    }

    fn with(orchs: Vec<(OrchestratorConfig, Host)>, seed: u8, max_float: U256) -> World {
        let key = SecretKey::from_bytes([seed.max(1); 32]).unwrap();
        let mut config = BroadcasterConfig::new(7, kind(), PriceInfo::per_unit(U256::from(10u8)));
        config.verify_rate = 1;
        let now = Timestamp::ZERO;
        let mut b = Broadcaster::new(config, key.clone(), now, [seed; 32]);
        b.handle(now, BroadcasterInput::Chain { block: 100 }).unwrap();
        b.handle(
            now,
            BroadcasterInput::Funds { deposit: U256::exp10(18), reserve: U256::zero(), withdraw_round: 0 },
        )
        .unwrap();
        let mut os = Vec::new();
        let mut hosts = Vec::new();
        for (i, (c, h)) in orchs.into_iter().enumerate() {
            let okey = SecretKey::from_bytes([100 + i as u8; 32]).unwrap();
            let keys = RecipientKeys { address: okey.address(), secret: [i as u8; 32] };
            let mut o = Orchestrator::new(c, keys, now, [i as u8; 32]);
            o.handle(
                now,
                OrchestratorInput::Chain { block: 100, round: 1, round_block_hash: H256::repeat_byte(1) },
            )
            .unwrap();
            o.handle(now, OrchestratorInput::GasPrice(U256::one())).unwrap();
            o.handle(
                now,
                OrchestratorInput::SenderFunds { sender: key.address(), max_float, withdraw_round: 0 },
            )
            .unwrap();
            os.push(o);
            hosts.push(h);
        }
        World {
            now,
            b,
            os,
            hosts,
            events: vec![],
            oevents: vec![],
            trace: vec![],
            wire: VecDeque::new(),
            max_float,
        }
    }

    fn discover(&mut self) {
        let peers = (0..self.os.len() as u64).map(|p| (p, U256::from(1_000u64))).collect();
        self.b.handle(self.now, BroadcasterInput::Discover(peers)).unwrap();
        self.pump();
    }

    fn segment(&mut self, seq: u64) {
        self.b
            .handle(self.now, BroadcasterInput::Segment { seq, units: UNITS, payload: vec![seq as u8, 1, 2] })
            .unwrap();
        self.pump();
    }

    /// Moves every message and answers every request until nothing is left.
    fn pump(&mut self) {
        loop {
            let mut progressed = false;
            while let Some(out) = self.b.poll_output() {
                progressed = true;
                self.trace.push(format!("{out:?}"));
                match out {
                    BroadcasterOutput::Send { to, msg } => self.wire.push_back((true, to, msg.encode())),
                    BroadcasterOutput::Verify(v) => {
                        let passed = v.result.output.iter().rev().copied().collect::<Vec<_>>() == v.payload;
                        self.b.handle(self.now, BroadcasterInput::Verdict { id: v.id, passed }).unwrap();
                    }
                    BroadcasterOutput::Event(e) => self.events.push(e),
                }
            }
            for (i, o) in self.os.iter_mut().enumerate() {
                while let Some(out) = o.poll_output() {
                    progressed = true;
                    match out {
                        OrchestratorOutput::Send { msg, .. } => {
                            self.wire.push_back((false, i as u64, msg.encode()))
                        }
                        OrchestratorOutput::Work(w) => match self.hosts[i] {
                            Host::Silent => {}
                            host => {
                                let mut output: Vec<u8> = w.payload.iter().rev().copied().collect();
                                if host == Host::Tamper {
                                    output[0] ^= 0xff;
                                }
                                o.handle(
                                    self.now,
                                    OrchestratorInput::WorkDone { id: w.id, output, claim: None },
                                )
                                .unwrap();
                            }
                        },
                        OrchestratorOutput::Redeem(_) => {}
                        OrchestratorOutput::Event(e) => self.oevents.push((i, e)),
                    }
                }
            }
            while let Some((to_orch, peer, bytes)) = self.wire.pop_front() {
                progressed = true;
                let msg = Box::new(Message::decode(&bytes).unwrap());
                if to_orch {
                    if self.hosts[peer as usize] == Host::Silent && matches!(*msg, Message::Payment(_)) {
                        continue;
                    }
                    self.now = self.now + 10;
                    self.os[peer as usize]
                        .handle(self.now, OrchestratorInput::Received { from: 0, msg })
                        .unwrap();
                } else {
                    self.now = self.now + 10;
                    self.b.handle(self.now, BroadcasterInput::Received { from: peer, msg }).unwrap();
                }
            }
            if !progressed {
                break;
            }
        }
    }

    /// Advances the clock by `ms`, firing the broadcaster's timer if due.
    fn advance(&mut self, ms: u64) {
        self.now = self.now + ms;
        if self.b.poll_timeout().is_some_and(|t| t <= self.now) {
            self.b.handle(self.now, BroadcasterInput::Timeout).unwrap();
        }
        self.pump();
    }

    fn delivered(&self) -> Vec<(u64, u64, u32)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                BroadcasterEvent::Delivered { seq, peer, attempts, .. } => Some((*seq, *peer, *attempts)),
                _ => None,
            })
            .collect()
    }

    fn paid(&self) -> Vec<(u64, u64)> {
        self.events
            .iter()
            .filter_map(|e| match e {
                BroadcasterEvent::Paid { seq, peer, .. } => Some((*seq, *peer)),
                _ => None,
            })
            .collect()
    }

    fn refusals(&self) -> Vec<ProtocolError> {
        self.oevents
            .iter()
            .filter_map(|(_, e)| match e {
                OrchestratorEvent::Refused { error, .. } => Some(error.clone()),
                _ => None,
            })
            .collect()
    }
}

#[test]
fn cheapest_is_selected_paid_in_arrears_and_credited() {
    let mut w = World::new(&[6, 5, 8], 1);
    w.discover();
    let discovered = w.events.iter().filter(|e| matches!(e, BroadcasterEvent::Discovered { .. })).count();
    assert_eq!(discovered, 3);
    for seq in 0..5 {
        w.segment(seq);
        w.advance(2_000);
    }
    assert_eq!(w.delivered(), (0..5).map(|s| (s, 1, 1)).collect::<Vec<_>>());
    assert_eq!(w.paid(), (0..5).map(|s| (s, 1)).collect::<Vec<_>>());
    // The orchestrator was credited at least the price of the work, less than a ticket more.
    let credited: U256 = w
        .oevents
        .iter()
        .filter_map(|(i, e)| match e {
            OrchestratorEvent::Credited { ev, .. } if *i == 1 => Some(*ev),
            _ => None,
        })
        .fold(U256::zero(), |a, b| a + b);
    assert!(credited + U256::from(5u8) >= U256::from(5 * COST), "{credited}");
    assert!(credited < U256::from(6 * COST));
    assert!(w.os[1].unpaid(&w.b.address()).is_zero());
    assert_eq!(w.b.pending(), 0);
}

#[test]
fn a_silent_orchestrator_is_suspended_and_the_segment_retried_elsewhere() {
    let orchs = vec![(orch_config(5, 4), Host::Silent), (orch_config(6, 4), Host::Honest)];
    let mut w = World::with(orchs, 2, U256::exp10(18));
    w.discover();
    w.segment(0);
    assert!(w.delivered().is_empty());
    w.advance(4_000);
    assert_eq!(w.delivered(), vec![(0, 1, 2)]);
    assert!(w.b.is_suspended(0));
    assert!(
        w.events
            .iter()
            .any(|e| matches!(e, BroadcasterEvent::Suspended { peer: 0, reason: SuspendReason::Timeout }))
    );
    // Nothing was paid to the silent one; later segments never go to it.
    w.segment(1);
    w.advance(2_000);
    assert_eq!(w.paid(), vec![(0, 1), (1, 1)]);
    let to_zero =
        w.events.iter().filter(|e| matches!(e, BroadcasterEvent::Dispatched { peer: 0, .. })).count();
    assert_eq!(to_zero, 1);
}

#[test]
fn a_tampering_orchestrator_is_caught_suspended_and_not_paid() {
    let orchs = vec![(orch_config(5, 4), Host::Tamper), (orch_config(6, 4), Host::Honest)];
    let mut w = World::with(orchs, 3, U256::exp10(18));
    w.discover();
    w.segment(0);
    assert_eq!(w.delivered(), vec![(0, 1, 2)]);
    assert_eq!(w.paid(), vec![(0, 1)]);
    assert!(w.events.iter().any(|e| matches!(
        e,
        BroadcasterEvent::Suspended { peer: 0, reason: SuspendReason::FailedVerification }
    )));
    // The tamperer delivered work it is owed nothing for: it was never credited.
    assert!(!w.oevents.iter().any(|(i, e)| *i == 0 && matches!(e, OrchestratorEvent::Credited { .. })));
}

#[test]
fn at_most_three_attempts_then_the_segment_fails() {
    let orchs = (0..4).map(|_| (orch_config(5, 4), Host::Silent)).collect();
    let mut w = World::with(orchs, 4, U256::exp10(18));
    w.discover();
    w.segment(0);
    for _ in 0..5 {
        w.advance(4_000);
    }
    let dispatched =
        w.events.iter().filter(|e| matches!(e, BroadcasterEvent::Dispatched { seq: 0, .. })).count();
    assert_eq!(dispatched, 3);
    assert!(w.events.contains(&BroadcasterEvent::SegmentFailed { seq: 0, attempts: 3 }));
    assert!(w.paid().is_empty());
    assert_eq!(w.b.pending(), 0);
}

#[test]
fn job_requests_are_refused_for_capacity_price_deposit_and_kind() {
    // Capacity 0, price above the maximum (10), and an honest one.
    let orchs = vec![(orch_config(5, 0), Host::Honest), (orch_config(11, 4), Host::Honest)];
    let mut w = World::with(orchs, 5, U256::exp10(18));
    w.discover();
    let r = w.refusals();
    assert!(r.contains(&ProtocolError::CapacityFull { sessions: 0, capacity: 0 }), "{r:?}");
    assert!(r.iter().any(|e| matches!(e, ProtocolError::PriceTooHigh { .. })), "{r:?}");
    assert!(w.events.iter().filter(|e| matches!(e, BroadcasterEvent::Declined { .. })).count() == 2);
    // A deposit too small for the credit the orchestrator extends.
    let mut w = World::with(vec![(orch_config(5, 4), Host::Honest)], 6, U256::from(COST));
    w.discover();
    assert_eq!(
        w.refusals(),
        vec![ProtocolError::LowDeposit { max_float: U256::from(COST), required: U256::from(2 * COST) }]
    );
    assert_eq!(w.max_float, U256::from(COST));
    // A kind it does not sell.
    let mut c = orch_config(5, 4);
    c.capabilities[0].kind = JobKind::Compute { workload: "other".into() };
    let mut w = World::with(vec![(c, Host::Honest)], 7, U256::exp10(18));
    w.discover();
    assert_eq!(w.refusals(), vec![ProtocolError::Unsupported { kind: "compute/reverse/v1".into() }]);
}

#[test]
fn a_price_change_is_refused_and_renegotiated() {
    let orchs = vec![(orch_config(5, 4), Host::Honest), (orch_config(7, 4), Host::Honest)];
    let mut w = World::with(orchs, 8, U256::exp10(18));
    w.discover();
    w.segment(0);
    w.os[0]
        .handle(w.now, OrchestratorInput::SetPrice { kind: kind(), price_per_unit: U256::from(9u8) })
        .unwrap();
    w.segment(1);
    let r = w.refusals();
    assert!(matches!(r.as_slice(), [ProtocolError::PriceChanged { .. }]), "{r:?}");
    // Segment 1 went to the other one; peer 0 was asked again, not suspended.
    assert_eq!(w.delivered(), vec![(0, 0, 1), (1, 1, 2)]);
    assert!(!w.b.is_suspended(0));
    let infos_from_zero =
        w.events.iter().filter(|e| matches!(e, BroadcasterEvent::Discovered { peer: 0, .. })).count();
    assert_eq!(infos_from_zero, 2);
}

#[test]
fn segment_checks_format_token_expiry_and_credit() {
    let mut w = World::new(&[5], 9);
    w.discover();
    // Capture a valid token from the info the broadcaster got.
    let mut o = Orchestrator::new(
        orch_config(5, 4),
        RecipientKeys { address: SecretKey::from_bytes([100; 32]).unwrap().address(), secret: [0; 32] },
        w.now,
        [0; 32],
    );
    let sender = w.b.address();
    o.handle(
        w.now,
        OrchestratorInput::Chain { block: 100, round: 1, round_block_hash: H256::repeat_byte(1) },
    )
    .unwrap();
    o.handle(w.now, OrchestratorInput::GasPrice(U256::one())).unwrap();
    o.handle(w.now, OrchestratorInput::SenderFunds { sender, max_float: U256::exp10(18), withdraw_round: 0 })
        .unwrap();
    let req = JobRequest { job: 7, kind: kind(), max_price: PriceInfo::per_unit(U256::from(10u8)), sender };
    o.handle(w.now, OrchestratorInput::Received { from: 3, msg: Box::new(Message::JobRequest(req)) })
        .unwrap();
    let info = std::iter::from_fn(|| o.poll_output())
        .find_map(|out| match out {
            OrchestratorOutput::Send { msg, .. } => match *msg {
                Message::Info(i) => Some(i),
                _ => None,
            },
            _ => None,
        })
        .unwrap();
    let seg = |seq: u64, kind: JobKind, token: AuthToken| SegmentRequest {
        job: 7,
        token,
        seq,
        kind,
        price: info.price,
        units: UNITS,
        payload: vec![1],
    };
    let refusal = |o: &mut Orchestrator, now: Timestamp, s: SegmentRequest| {
        o.handle(now, OrchestratorInput::Received { from: 3, msg: Box::new(Message::Segment(Box::new(s))) })
            .unwrap();
        std::iter::from_fn(|| o.poll_output()).find_map(|out| match out {
            OrchestratorOutput::Event(OrchestratorEvent::Refused { error, .. }) => Some(Err(error)),
            OrchestratorOutput::Work(wk) => Some(Ok(wk.id)),
            _ => None,
        })
    };
    let now = w.now;
    let other = JobKind::Compute { workload: "other".into() };
    assert_eq!(
        refusal(&mut o, now, seg(0, other, info.token)),
        Some(Err(ProtocolError::SegmentFormatMismatch {
            expected: "compute/reverse/v1".into(),
            found: "compute/other".into()
        }))
    );
    let forged = AuthToken { token: H256::repeat_byte(0xee), ..info.token };
    assert_eq!(refusal(&mut o, now, seg(0, kind(), forged)), Some(Err(ProtocolError::UnknownToken)));
    // Credit: two segments' worth of unpaid work is the limit (2 · COST).
    let a = refusal(&mut o, now, seg(0, kind(), info.token)).unwrap().unwrap();
    o.handle(now, OrchestratorInput::WorkDone { id: a, output: vec![1], claim: None }).unwrap();
    let b = refusal(&mut o, now, seg(1, kind(), info.token)).unwrap().unwrap();
    o.handle(now, OrchestratorInput::WorkDone { id: b, output: vec![1], claim: None }).unwrap();
    assert_eq!(
        refusal(&mut o, now, seg(2, kind(), info.token)),
        Some(Err(ProtocolError::PaymentRequired {
            unpaid: U256::from(3 * COST),
            limit: U256::from(2 * COST)
        }))
    );
    assert_eq!(o.unpaid(&sender), U256::from(2 * COST));
    // The sender starts unlocking: refused before any work.
    o.handle(now, OrchestratorInput::SenderFunds { sender, max_float: U256::exp10(18), withdraw_round: 9 })
        .unwrap();
    assert_eq!(
        refusal(&mut o, now, seg(3, kind(), info.token)),
        Some(Err(ProtocolError::SenderUnlocking { withdraw_round: 9 }))
    );
    // After expiry the token is refused.
    let later = Timestamp::from_millis(info.token.expires_at_ms + 1);
    assert_eq!(
        refusal(&mut o, later, seg(4, kind(), info.token)),
        Some(Err(ProtocolError::TokenExpired {
            expired_at_ms: info.token.expires_at_ms,
            now_ms: info.token.expires_at_ms + 1
        }))
    );
}

#[test]
fn identical_seeds_and_inputs_give_identical_outputs() {
    let run = |seed: u8| {
        let orchs = vec![
            (orch_config(5, 4), Host::Silent),
            (orch_config(6, 4), Host::Tamper),
            (orch_config(7, 4), Host::Honest),
        ];
        let mut w = World::with(orchs, seed, U256::exp10(18));
        w.discover();
        for seq in 0..6 {
            w.segment(seq);
            w.advance(4_000);
        }
        let d = w.delivered();
        (w.trace, d)
    };
    let (a, da) = run(11);
    let (b, db) = run(11);
    assert_eq!(a, b);
    assert_eq!(da, db);
    assert_eq!(da.len(), 6);
    assert!(da.iter().all(|&(_, peer, _)| peer == 2));
    assert!(!a.is_empty());
    let unique: BTreeSet<&String> = a.iter().collect();
    assert!(unique.len() > 10);
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn host(i: u8) -> Host {
        match i % 3 {
            0 => Host::Honest,
            1 => Host::Silent,
            _ => Host::Tamper,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// Whatever mix of honest, silent and tampering orchestrators: a segment is sent
        /// at most 3 times, paid at most once and only to the orchestrator whose result was
        /// accepted, never to a tamperer or a silent one, and no segment goes to a
        /// suspended orchestrator; every segment is delivered or reported failed.
        #[test]
        fn failover_never_overpays(kinds in proptest::collection::vec(0u8..3, 1..6), prices in proptest::collection::vec(1u64..10, 6), seed in 1u8..200, segments in 1u64..6) {
            let orchs: Vec<(OrchestratorConfig, Host)> =
                kinds.iter().zip(&prices).map(|(k, p)| (orch_config(*p, 4), host(*k))).collect();
            let mut w = World::with(orchs, seed, U256::exp10(18));
            w.discover();
            for seq in 0..segments {
                w.segment(seq);
                w.advance(2_000);
            }
            for _ in 0..4 {
                w.advance(4_000);
            }
            let mut suspended = BTreeSet::new();
            let mut sent = std::collections::BTreeMap::<u64, u32>::new();
            let mut delivered = std::collections::BTreeMap::new();
            let mut paid = std::collections::BTreeMap::<u64, Vec<u64>>::new();
            let mut failed = BTreeSet::new();
            for e in &w.events {
                match e {
                    BroadcasterEvent::Dispatched { seq, peer, .. } => {
                        prop_assert!(!suspended.contains(peer), "sent to suspended {peer}");
                        *sent.entry(*seq).or_default() += 1;
                    }
                    BroadcasterEvent::Suspended { peer, .. } => { suspended.insert(*peer); }
                    BroadcasterEvent::Delivered { seq, peer, .. } => { delivered.insert(*seq, *peer); }
                    BroadcasterEvent::Paid { seq, peer, .. } => paid.entry(*seq).or_default().push(*peer),
                    BroadcasterEvent::SegmentFailed { seq, .. } => { failed.insert(*seq); }
                    _ => {}
                }
            }
            prop_assert!(sent.values().all(|&n| n <= 3), "{sent:?}");
            for (seq, peers) in &paid {
                prop_assert_eq!(peers.len(), 1);
                prop_assert_eq!(delivered.get(seq), Some(&peers[0]));
                prop_assert_eq!(w.hosts[peers[0] as usize], Host::Honest);
            }
            // Every segment is delivered, reported failed, or (when every orchestrator is
            // suspended) waiting for the host to discover more, which it was told.
            let mut waiting = 0;
            for seq in 0..segments {
                prop_assert!(!(delivered.contains_key(&seq) && failed.contains(&seq)), "segment {seq}");
                if !delivered.contains_key(&seq) && !failed.contains(&seq) {
                    waiting += 1;
                }
            }
            prop_assert_eq!(w.b.pending(), waiting);
            if waiting > 0 {
                prop_assert!(w.events.contains(&BroadcasterEvent::NeedOrchestrators));
                prop_assert_eq!(suspended.len(), w.hosts.len());
            }
            let honest = w.hosts.contains(&Host::Honest);
            if honest && w.hosts.len() <= 2 {
                // With at most two orchestrators and one honest, 3 attempts always reach it.
                prop_assert!(failed.is_empty(), "{:?}", w.events);
            }
        }
    }
}
