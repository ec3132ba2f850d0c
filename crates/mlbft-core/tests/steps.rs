//! Table-driven step tests of the validator machine: one rule per test, given / when /
//! then, driven by hand with the fake signature scheme.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use bls_gossip::{Aggregate, FakeScheme, GossipMessage, GuardianSet, Scheme, SignerVector};
use mlbft_core::{
    Block, BlockRef, Certificate, Checkpoint, CommitCertificate, Config, EpochChange, Error, Event,
    Guardians, Input, Machine, Message, Output, Proposal, StatementKind, StaticContext, ValidatorSet, Vote,
    epoch_change_message, guardian_message, proposal_message, vote_message,
};
use primitives::{H256, Timestamp};

type S = FakeScheme;
type M = Machine<StaticContext<S>>;
type Keys = Vec<(<S as Scheme>::SecretKey, <S as Scheme>::PublicKey)>;

struct Fx {
    keys: Keys,
    set: Arc<ValidatorSet<S>>,
}

fn fx(n: usize) -> Fx {
    let keys: Keys = (0..n).map(|i| S::keypair(&[i as u8 + 1; 32]).unwrap()).collect();
    let set = Arc::new(ValidatorSet::<S>::equal_stake(keys.iter().map(|k| k.1).collect()).unwrap());
    Fx { keys, set }
}

impl Fx {
    fn ctx(&self, i: u32) -> StaticContext<S> {
        StaticContext::new(self.set.clone(), Some((i, self.keys[i as usize].0)))
    }

    fn machine(&self, i: u32, config: Config) -> M {
        Machine::new(config, self.ctx(i), Timestamp::ZERO, [0; 32])
    }

    /// A validator that proposes in none of the epochs 1..=6 (so tests drive proposals).
    fn observer(&self) -> u32 {
        (0..self.set.len() as u32)
            .find(|&i| (1..=6).all(|e| self.set.proposer(e) != i))
            .expect("some validator proposes in none of the first epochs")
    }

    fn block(&self, epoch: u64, parent: &Block, tag: &[u8]) -> Block {
        Block {
            height: parent.height + 1,
            epoch,
            parent: parent.hash(),
            proposer: self.set.proposer(epoch),
            payload: tag.to_vec(),
        }
    }

    fn propose(&self, block: &Block, parent_cc: Option<CommitCertificate<S>>) -> Message<S> {
        let sk = &self.keys[block.proposer as usize].0;
        let signature = S::sign(sk, &proposal_message(&block.reference()));
        Message::Proposal(Proposal { block: block.clone(), parent_cc, signature })
    }

    fn vote(&self, voter: u32, b: BlockRef) -> Message<S> {
        let signature = S::sign(&self.keys[voter as usize].0, &vote_message(&b));
        Message::Vote(Vote { block: b, voter, signature })
    }

    fn cc(&self, signers: &[u32], b: BlockRef) -> CommitCertificate<S> {
        let msg = vote_message(&b);
        let sigs: Vec<_> =
            signers.iter().map(|&i| (i as usize, S::sign(&self.keys[i as usize].0, &msg))).collect();
        CommitCertificate { block: b, cert: Certificate::aggregate(self.set.len(), &sigs).unwrap() }
    }

    fn epoch_change(&self, voter: u32, epoch: u64) -> Message<S> {
        let signature = S::sign(&self.keys[voter as usize].0, &epoch_change_message(epoch));
        Message::EpochChange(EpochChange { epoch, voter, high_cc: None, signature })
    }
}

fn feed(m: &mut M, from: u32, msg: Message<S>) -> Result<(), Error> {
    m.handle(Timestamp::from_millis(10), Input::Message { from, msg })
}

fn drain(m: &mut M) -> Vec<Output<S>> {
    std::iter::from_fn(|| m.poll_output()).collect()
}

fn votes_cast(outs: &[Output<S>]) -> Vec<BlockRef> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Broadcast(Message::Vote(v)) => Some(v.block),
            _ => None,
        })
        .collect()
}

fn settled(outs: &[Output<S>]) -> Vec<BlockRef> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Event(Event::Settled { block }) => Some(*block),
            _ => None,
        })
        .collect()
}

/// Every vote and proposal is preceded by a `Persist` that already records it.
fn assert_persist_first(outs: &[Output<S>]) {
    let mut persisted: Option<(u64, u64)> = None;
    for o in outs {
        match o {
            Output::Persist(s) => persisted = Some((s.last_voted_epoch, s.last_proposed_epoch)),
            Output::Broadcast(Message::Vote(v)) => {
                assert!(
                    persisted.is_some_and(|p| p.0 >= v.block.epoch),
                    "vote {v:?} sent before its Persist"
                );
            }
            Output::Broadcast(Message::Proposal(p)) => {
                assert!(persisted.is_some_and(|s| s.1 >= p.block.epoch), "proposal sent before its Persist");
            }
            _ => {}
        }
    }
}

/// Whitepaper Figure 6: two conflicting blocks at height 1 (A1 in epoch 1, B1 in epoch
/// 2). Only B1's branch gets two consecutive CCs (B1 in epoch 2, B2 in epoch 3), so B1
/// settles; A1 is discarded and never settles, even once it has a certified child.
#[test]
fn figure_6_the_branch_with_two_consecutive_ccs_settles() {
    let f = fx(7);
    let me = f.observer();
    let others: Vec<u32> = (0..7).filter(|&i| i != me).collect();
    let mut m = f.machine(me, Config::default());
    let g = Block::genesis();
    let mut outs = drain(&mut m);

    // Epoch 1: A1; we vote, four others vote → CC(A1), and we move to epoch 2.
    let a1 = f.block(1, &g, b"A1");
    feed(&mut m, f.set.proposer(1), f.propose(&a1, None)).unwrap();
    for &v in &others[..4] {
        feed(&mut m, v, f.vote(v, a1.reference())).unwrap();
    }
    outs.extend(drain(&mut m));
    assert_eq!(votes_cast(&outs), vec![a1.reference()]);
    assert_eq!(m.lock(), a1.reference());
    assert_eq!(m.epoch(), 2);

    // Epoch 2: B1 conflicts with A1 at height 1. Our lock (epoch 1) forbids it, but five
    // others (who did not see CC(A1)) certify it.
    let b1 = f.block(2, &g, b"B1");
    feed(&mut m, f.set.proposer(2), f.propose(&b1, None)).unwrap();
    for &v in &others[..5] {
        feed(&mut m, v, f.vote(v, b1.reference())).unwrap();
    }
    outs.extend(drain(&mut m));
    assert_eq!(votes_cast(&outs), vec![a1.reference()], "no vote for a block below our lock");
    assert_eq!(m.lock(), b1.reference(), "the higher-epoch CC becomes the lock");
    assert!(settled(&outs).is_empty());

    // Epoch 3: B2 extends B1 with CC(B1): we vote; its CC makes B1 settled.
    let b2 = f.block(3, &b1, b"B2");
    feed(&mut m, f.set.proposer(3), f.propose(&b2, Some(f.cc(&others[..5], b1.reference())))).unwrap();
    for &v in &others[..4] {
        feed(&mut m, v, f.vote(v, b2.reference())).unwrap();
    }
    outs.extend(drain(&mut m));
    assert_eq!(votes_cast(&outs), vec![a1.reference(), b2.reference()]);
    assert_eq!(settled(&outs), vec![b1.reference()]);
    assert_eq!(m.settled_at(1), Some(b1.hash()));

    // Epoch 4: the A branch gets a certified child, but in a non-consecutive epoch and
    // conflicting with what is settled: we refuse to vote and A1 never settles.
    let a2 = f.block(4, &a1, b"A2");
    feed(&mut m, f.set.proposer(4), f.propose(&a2, Some(f.cc(&others[..5], a1.reference())))).unwrap();
    for &v in &others[..5] {
        feed(&mut m, v, f.vote(v, a2.reference())).unwrap();
    }
    outs.extend(drain(&mut m));
    assert_eq!(votes_cast(&outs).len(), 2);
    assert_eq!(settled(&outs), vec![b1.reference()]);
    assert_eq!(m.settled_at(1), Some(b1.hash()));
    assert_persist_first(&outs);
}

/// Settlement needs the child's CC in the *next* epoch: a certified child two epochs
/// later settles nothing until its own certified child arrives.
#[test]
fn settlement_needs_consecutive_epochs() {
    let f = fx(7);
    let me = f.observer();
    let mut m = f.machine(me, Config::default());
    let g = Block::genesis();
    let b1 = f.block(1, &g, b"1");
    let b2 = f.block(3, &b1, b"2"); // epoch 3: not consecutive to b1's epoch 1
    let b3 = f.block(4, &b2, b"3");
    let b4 = f.block(5, &b3, b"4");
    let q = [0, 1, 2, 3, 4, 5, 6].into_iter().filter(|&i| i != me).take(5).collect::<Vec<u32>>();
    let (cc1, cc2, cc3) = (f.cc(&q, b1.reference()), f.cc(&q, b2.reference()), f.cc(&q, b3.reference()));
    feed(&mut m, 0, f.propose(&b1, None)).unwrap();
    feed(&mut m, 0, f.propose(&b2, Some(cc1))).unwrap();
    feed(&mut m, 0, f.propose(&b3, Some(cc2))).unwrap();
    let outs = drain(&mut m);
    assert!(settled(&outs).is_empty(), "CC(b1) at 1 and CC(b2) at 3 are not consecutive");
    feed(&mut m, 0, f.propose(&b4, Some(cc3))).unwrap();
    let outs = drain(&mut m);
    // CC(b2) at epoch 3 and CC(b3) at epoch 4 are consecutive: b2 settles, b1 with it.
    assert_eq!(settled(&outs), vec![b1.reference(), b2.reference()]);
}

fn assert_refused(m: &mut M, from: u32, msg: Message<S>, expect: fn(&Error) -> bool, what: &str) {
    let before = m.persisted_state();
    let (epoch, held, props) = (m.epoch(), m.blocks_held(), m.proposals_held());
    let err = feed(m, from, msg).expect_err(what);
    assert!(expect(&err), "{what}: unexpected error {err:?}");
    assert!(m.poll_output().is_none(), "{what}: a refused input produced output");
    assert_eq!(m.persisted_state(), before, "{what}: state changed");
    assert_eq!((m.epoch(), m.blocks_held(), m.proposals_held()), (epoch, held, props), "{what}");
}

/// Hostile input gets a typed error and changes nothing.
#[test]
fn hostile_input_is_refused_and_changes_nothing() {
    let f = fx(7);
    let me = f.observer();
    let g = Block::genesis();
    let config = Config { max_payload: 16, ..Config::default() };
    let p1 = f.set.proposer(1);
    let not_p1 = (0..7).find(|&i| i != p1).unwrap();
    let a1 = f.block(1, &g, b"A1");
    let b1 = f.block(2, &g, b"B1");
    let b2 = f.block(3, &b1, b"B2");
    let forged_vote = {
        let signature = S::sign(&f.keys[0].0, &vote_message(&a1.reference()));
        Message::Vote(Vote { block: a1.reference(), voter: 1, signature })
    };
    let wrong_proposer = {
        let blk = Block { proposer: not_p1, ..a1.clone() };
        let signature = S::sign(&f.keys[not_p1 as usize].0, &proposal_message(&blk.reference()));
        Message::Proposal(Proposal { block: blk, parent_cc: None, signature })
    };
    let far = Block { epoch: 1 + 64 + 1, proposer: f.set.proposer(66), ..a1.clone() };
    let big = Block { payload: vec![7; 17], ..a1.clone() };
    let bad_ec = {
        let signature = S::sign(&f.keys[0].0, &epoch_change_message(5));
        Message::EpochChange(EpochChange { epoch: 5, voter: 2, high_cc: None, signature })
    };
    type Case = (&'static str, Message<S>, fn(&Error) -> bool);
    let cases: Vec<Case> = vec![
        ("proposal by a validator that is not the epoch's proposer", wrong_proposer, |e| {
            matches!(e, Error::WrongProposer { .. })
        }),
        ("proposal for a far-future epoch", f.propose(&far, None), |e| {
            matches!(e, Error::FarFutureEpoch { .. })
        }),
        ("oversized payload", f.propose(&big, None), |e| {
            matches!(e, Error::PayloadTooLarge { len: 17, limit: 16 })
        }),
        (
            "proposal whose parent CC is signed by too few",
            f.propose(&b2, Some(f.cc(&[0, 1, 2], b1.reference()))),
            |e| matches!(e, Error::NoQuorum { .. }),
        ),
        (
            "proposal whose parent CC names another block",
            f.propose(&b2, Some(f.cc(&[0, 1, 2, 3, 4], a1.reference()))),
            |e| matches!(e, Error::InvalidBlock { .. }),
        ),
        (
            "child of genesis carrying a CC",
            f.propose(&a1, Some(f.cc(&[0, 1, 2, 3, 4], g.reference()))),
            |e| matches!(e, Error::InvalidBlock { .. }),
        ),
        ("vote from a non-validator", f.vote(0, a1.reference()).with_voter(99), |e| {
            matches!(e, Error::UnknownValidator { index: 99, .. })
        }),
        ("vote with another validator's signature", forged_vote, |e| matches!(e, Error::BadSignature { .. })),
        ("vote for a far-future epoch", f.vote(2, far.reference()), |e| {
            matches!(e, Error::FarFutureEpoch { .. })
        }),
        ("vote for epoch 0", f.vote(2, g.reference()), |e| matches!(e, Error::StaleEpoch { .. })),
        ("EpochChange with a bad signature", bad_ec, |e| matches!(e, Error::BadSignature { .. })),
        (
            "block response nobody asked for",
            Message::BlockResponse { block: b1.clone(), cc: f.cc(&[0, 1, 2, 3, 4], b1.reference()) },
            |e| matches!(e, Error::InvalidBlock { .. }),
        ),
        (
            "finality proof that does not verify",
            Message::Finality {
                checkpoint: Checkpoint { height: 100, hash: H256::repeat_byte(1) },
                proof: vec![0; 8],
            },
            |e| matches!(e, Error::BadFinalityProof { height: 100 }),
        ),
    ];
    for (what, msg, expect) in cases {
        let mut m = f.machine(me, config.clone());
        drain(&mut m);
        assert_refused(&mut m, 0, msg, expect, what);
    }
}

trait WithVoter {
    fn with_voter(self, voter: u32) -> Self;
}

impl WithVoter for Message<S> {
    fn with_voter(self, voter: u32) -> Self {
        match self {
            Message::Vote(v) => Message::Vote(Vote { voter, ..v }),
            other => other,
        }
    }
}

/// Future-epoch memory is bounded: at most one proposal per epoch of the window, and
/// EpochChange requests hold one slot per validator whatever epoch they name.
#[test]
fn future_epoch_memory_is_bounded() {
    let f = fx(7);
    let me = f.observer();
    let config = Config::default();
    let mut m = f.machine(me, config.clone());
    let g = Block::genesis();
    for e in 2..=1 + config.future_epochs {
        let b = f.block(e, &g, b"x");
        feed(&mut m, 0, f.propose(&b, None)).unwrap();
        // An equivocating second proposal for the same epoch is not stored.
        let b2 = f.block(e, &g, b"y");
        feed(&mut m, 0, f.propose(&b2, None)).unwrap();
    }
    assert_eq!(m.proposals_held() as u64, config.future_epochs);
    let beyond = f.block(2 + config.future_epochs, &g, b"z");
    assert!(matches!(feed(&mut m, 0, f.propose(&beyond, None)), Err(Error::FarFutureEpoch { .. })));
    // Two validators (2/7, not more than 1/3) asking for a huge epoch move nobody.
    let huge = u64::MAX / 2;
    let others: Vec<u32> = (0..7).filter(|&i| i != me).collect();
    feed(&mut m, others[0], f.epoch_change(others[0], huge)).unwrap();
    feed(&mut m, others[1], f.epoch_change(others[1], huge)).unwrap();
    assert_eq!(m.epoch(), 1);
    assert!(!drain(&mut m).iter().any(|o| matches!(o, Output::Broadcast(Message::EpochChange(_)))));
}

/// Algorithm 1: join a request made by more than 1/3 of the stake; enter the epoch that
/// more than 2/3 ask for; on timeout, ask for the next epoch and back off.
#[test]
fn epoch_change_join_enter_and_timeout() {
    let f = fx(7);
    let me = f.observer();
    let others: Vec<u32> = (0..7).filter(|&i| i != me).collect();
    let mut m = f.machine(me, Config::default());
    drain(&mut m);
    let asks = |outs: &[Output<S>]| -> Vec<u64> {
        outs.iter()
            .filter_map(|o| match o {
                Output::Broadcast(Message::EpochChange(ec)) => Some(ec.epoch),
                _ => None,
            })
            .collect()
    };
    // Timeout at the deadline: ask for epoch 2, then wait twice as long.
    let t1 = m.poll_timeout().unwrap();
    assert_eq!(t1, Timestamp::from_millis(1000));
    m.handle(Timestamp::from_millis(999), Input::Timeout).unwrap();
    assert!(asks(&drain(&mut m)).is_empty(), "early timeouts are ignored");
    m.handle(t1, Input::Timeout).unwrap();
    assert_eq!(asks(&drain(&mut m)), vec![2]);
    assert_eq!(m.poll_timeout(), Some(t1 + 2000));
    // Three others (3/7 > 1/3) ask for 5: we join.
    for &v in &others[..2] {
        feed(&mut m, v, f.epoch_change(v, 5)).unwrap();
    }
    assert!(asks(&drain(&mut m)).is_empty());
    feed(&mut m, others[2], f.epoch_change(others[2], 5)).unwrap();
    assert_eq!(asks(&drain(&mut m)), vec![5]);
    assert_eq!(m.epoch(), 1, "4/7 is not more than 2/3");
    // A fifth request (with ours, 5/7 > 2/3): we enter epoch 5.
    feed(&mut m, others[3], f.epoch_change(others[3], 5)).unwrap();
    let outs = drain(&mut m);
    assert_eq!(m.epoch(), 5);
    assert!(outs.contains(&Output::Event(Event::EnteredEpoch { epoch: 5 })));
}

/// Votes once per epoch; a second proposal by the same proposer in the epoch is evidence
/// that verifies on its own; so are two votes by one validator.
#[test]
fn equivocation_yields_verifiable_evidence_and_one_vote() {
    let f = fx(7);
    let me = f.observer();
    let mut m = f.machine(me, Config::default());
    let g = Block::genesis();
    let a = f.block(1, &g, b"a");
    let b = f.block(1, &g, b"b");
    feed(&mut m, 0, f.propose(&a, None)).unwrap();
    feed(&mut m, 0, f.propose(&b, None)).unwrap();
    let v = (0..7).find(|&i| i != me).unwrap();
    feed(&mut m, v, f.vote(v, a.reference())).unwrap();
    feed(&mut m, v, f.vote(v, b.reference())).unwrap();
    feed(&mut m, v, f.vote(v, b.reference())).unwrap();
    let outs = drain(&mut m);
    assert_eq!(votes_cast(&outs), vec![a.reference()]);
    let evidence: Vec<_> = outs
        .iter()
        .filter_map(|o| match o {
            Output::Misbehaviour(e) => Some(e.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(evidence.len(), 2, "one proposal and one vote equivocation, each reported once");
    assert_eq!(evidence[0].first.kind, StatementKind::Proposal);
    assert_eq!(evidence[0].offender(), f.set.proposer(1));
    assert_eq!(evidence[1].first.kind, StatementKind::Vote);
    assert_eq!(evidence[1].offender(), v);
    for e in &evidence {
        e.verify(&f.set).unwrap();
        let back = mlbft_core::Evidence::<S>::decode(&e.encode(), 512).unwrap();
        assert_eq!(&back, e);
    }
}

/// A validator restarted from its last `Persist` never signs a second vote (or a
/// second proposal) in an epoch it already signed in; one restarted from nothing would.
#[test]
fn restart_from_persisted_state_never_double_signs() {
    let f = fx(7);
    let me = f.observer();
    let g = Block::genesis();
    let a = f.block(1, &g, b"a");
    let b = f.block(1, &g, b"b");
    let mut m = f.machine(me, Config::default());
    feed(&mut m, 0, f.propose(&a, None)).unwrap();
    let outs = drain(&mut m);
    assert_persist_first(&outs);
    let state = outs
        .iter()
        .rev()
        .find_map(|o| match o {
            Output::Persist(s) => Some(s.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(state.last_voted_epoch, 1);

    let mut restored =
        Machine::restore(Config::default(), f.ctx(me), state, Timestamp::from_millis(5), [0; 32]).unwrap();
    feed(&mut restored, 0, f.propose(&b, None)).unwrap();
    assert!(votes_cast(&drain(&mut restored)).is_empty(), "restored machine must not vote twice in epoch 1");

    let mut amnesiac = f.machine(me, Config::default());
    feed(&mut amnesiac, 0, f.propose(&b, None)).unwrap();
    assert_eq!(votes_cast(&drain(&mut amnesiac)), vec![b.reference()], "control: without the state it would");

    // The proposer side: a proposer restarted in its own epoch does not propose again.
    let p1 = f.set.proposer(1);
    let mut prop = f.machine(p1, Config::default());
    let outs = drain(&mut prop);
    assert_persist_first(&outs);
    let state = prop.persisted_state();
    assert_eq!(state.last_proposed_epoch, 1);
    let mut again =
        Machine::restore(Config::default(), f.ctx(p1), state, Timestamp::from_millis(5), [0; 32]).unwrap();
    assert!(!drain(&mut again).iter().any(|o| matches!(o, Output::Broadcast(Message::Proposal(_)))));
}

/// Catch-up: a proposal whose parent we lack makes the machine request the parent; the
/// answer (block plus its CC) is checked and stored, and the vote follows.
#[test]
fn catch_up_requests_missing_blocks() {
    let f = fx(7);
    let me = f.observer();
    let others: Vec<u32> = (0..7).filter(|&i| i != me).collect();
    let mut m = f.machine(me, Config::default());
    drain(&mut m);
    let g = Block::genesis();
    let x = f.block(1, &g, b"x");
    let cc_x = f.cc(&others[..5], x.reference());
    let y = f.block(2, &x, b"y");
    // Move to epoch 2 without ever seeing x's proposal.
    for &v in &others[..5] {
        feed(&mut m, v, f.epoch_change(v, 2)).unwrap();
    }
    assert_eq!(m.epoch(), 2);
    drain(&mut m);
    feed(&mut m, f.set.proposer(2), f.propose(&y, Some(cc_x.clone()))).unwrap();
    let outs = drain(&mut m);
    assert!(outs.contains(&Output::Request { to: Some(f.set.proposer(2)), hash: x.hash() }), "{outs:?}");
    assert!(votes_cast(&outs).is_empty(), "no vote before the ancestry is known");
    // A forged answer is refused; the real one is accepted and the vote follows.
    let forged = Block { payload: b"forged".to_vec(), ..x.clone() };
    assert!(feed(&mut m, others[0], Message::BlockResponse { block: forged, cc: cc_x.clone() }).is_err());
    feed(&mut m, others[0], Message::BlockResponse { block: x.clone(), cc: cc_x }).unwrap();
    let outs = drain(&mut m);
    assert_eq!(votes_cast(&outs), vec![y.reference()]);
    assert!(m.block(&x.hash()).is_some());
    // We answer others' requests for blocks we hold with their certificates.
    feed(&mut m, others[1], Message::BlockRequest { hash: x.hash() }).unwrap();
    let outs = drain(&mut m);
    assert!(
        matches!(&outs[..], [Output::Send { to, msg: Message::BlockResponse { .. } }] if *to == others[1])
    );
}

/// Delivers every broadcast to every other machine, step by step (50 ms apart).
fn drive(nodes: &mut [M], steps: u64, mut seen: impl FnMut(u64, usize, &Output<S>)) {
    for step in 1..=steps {
        let now = Timestamp::from_millis(step * 50);
        let mut mail = Vec::new();
        for (i, n) in nodes.iter_mut().enumerate() {
            while let Some(o) = n.poll_output() {
                seen(step, i, &o);
                if let Output::Broadcast(msg) = o {
                    mail.push((i, msg));
                }
            }
        }
        for (from, msg) in mail {
            for (to, n) in nodes.iter_mut().enumerate() {
                if to != from {
                    n.handle(now, Input::Message { from: from as u32, msg: msg.clone() }).unwrap();
                }
            }
        }
    }
}

fn guardians(n: usize) -> (Keys, Guardians<S>) {
    let keys: Keys = (0..n).map(|i| S::keypair(&[100 + i as u8; 32]).unwrap()).collect();
    let set = Arc::new(GuardianSet::<S>::equal_stake(keys.iter().map(|k| k.1).collect()).unwrap());
    (keys, Guardians { set, set_hash: [42; 32] })
}

fn guardian_proof(keys: &Keys, g: &Guardians<S>, signers: &[usize], cp: &Checkpoint) -> Vec<u8> {
    let msg = guardian_message(cp, &g.set_hash);
    let mut counts = vec![0u8; keys.len()];
    let mut sig = None;
    for &i in signers {
        counts[i] = 1;
        let s = S::sign(&keys[i].0, &msg);
        sig = Some(sig.map_or(s, |a| S::combine(&a, &s)));
    }
    let agg =
        Aggregate::<S> { signers: Arc::new(SignerVector::from_counts(&counts)), signature: sig.unwrap() };
    GossipMessage::new(cp.height, agg).encode()
}

/// Every T blocks the settled checkpoint is emitted with a proof the guardians can
/// check; a valid guardian aggregate finalizes it; an under-signed or mismatched one is
/// refused; a finalized checkpoint that conflicts with what we settled wins.
#[test]
fn checkpoints_are_emitted_and_finalized_by_guardians() {
    let f = fx(4);
    let (gkeys, g) = guardians(4);
    let config = Config { checkpoint_interval: 3, ..Config::default() };
    let mut nodes: Vec<M> = (0..4u32)
        .map(|i| Machine::new(config.clone(), f.ctx(i).with_guardians(g.clone()), Timestamp::ZERO, [0; 32]))
        .collect();
    let mut checkpoints = Vec::new();
    drive(&mut nodes, 30, |_, i, o| {
        if let Output::Event(Event::Checkpoint { checkpoint, proof }) = o {
            checkpoints.push((i, *checkpoint, proof.clone()));
        }
    });
    let heights: Vec<u64> = checkpoints.iter().filter(|c| c.0 == 0).map(|c| c.1.height).collect();
    assert!(heights.starts_with(&[3, 6, 9]), "{heights:?}");
    let (_, cp, proof) = checkpoints[0].clone();
    assert_eq!(proof.verify(&f.set).unwrap(), cp);

    let n0 = &mut nodes[0];
    let ok = guardian_proof(&gkeys, &g, &[0, 1, 3], &cp);
    let short = guardian_proof(&gkeys, &g, &[0, 1], &cp);
    let other = Checkpoint { hash: H256::repeat_byte(9), ..cp };
    let finality = |cp: Checkpoint, proof: Vec<u8>| Message::Finality { checkpoint: cp, proof };
    assert!(matches!(feed(n0, 9, finality(cp, short)), Err(Error::BadFinalityProof { .. })));
    assert!(matches!(feed(n0, 9, finality(other, ok.clone())), Err(Error::BadFinalityProof { .. })));
    feed(n0, 9, finality(cp, ok)).unwrap();
    assert_eq!(n0.finalized(), cp);
    assert!(drain(n0).contains(&Output::Event(Event::Finalized { checkpoint: cp })));

    // A validator-level safety failure: the guardians finalized another block at 6.
    let at6 = Checkpoint { height: 6, hash: H256::repeat_byte(7) };
    let ours = n0.settled_at(6).unwrap();
    feed(n0, 9, finality(at6, guardian_proof(&gkeys, &g, &[0, 1, 2], &at6))).unwrap();
    let outs = drain(n0);
    assert!(outs.contains(&Output::Event(Event::FinalityConflict { checkpoint: at6, ours })));
    assert_eq!(n0.settled_at(6), Some(at6.hash), "the finalized checkpoint is the restart point");
    assert_eq!(n0.settled_at(7), None);
}

/// Same inputs, same outputs.
#[test]
fn determinism_same_inputs_same_outputs() {
    let f = fx(4);
    let run = || {
        let mut nodes: Vec<M> = (0..4u32).map(|i| f.machine(i, Config::default())).collect();
        let mut log = Vec::new();
        drive(&mut nodes, 25, |_, i, o| log.push(format!("{i}:{o:?}")));
        log
    };
    let (a, b) = (run(), run());
    assert!(a.iter().any(|l| l.contains("Settled")));
    assert_eq!(a, b);
}

/// Fault-free, four honest validators settle a block every two message delays, each four
/// delays after its proposal (one step of `drive` is one message delay).
#[test]
fn fault_free_latency_is_four_message_delays() {
    let f = fx(4);
    let mut nodes: Vec<M> = (0..4u32).map(|i| f.machine(i, Config::default())).collect();
    let mut proposed = std::collections::BTreeMap::new();
    let mut delays = Vec::new();
    drive(&mut nodes, 40, |step, i, o| match o {
        Output::Event(Event::Proposed { block }) => {
            proposed.insert(block.hash, step);
        }
        Output::Event(Event::Settled { block }) if i == 0 => {
            if let Some(p) = proposed.get(&block.hash) {
                delays.push(step - p);
            }
        }
        _ => {}
    });
    assert!(nodes[0].settled_tip().height >= 15, "{:?}", nodes[0].settled_tip());
    assert!(delays.len() >= 15);
    assert!(delays.iter().all(|&d| d == 4), "{delays:?}");
}

/// After an epoch that certified nothing, everyone sends its highest CC on entering the
/// next one, and the proposer waits `propose_wait_ms` for them, so it extends the highest
/// lock (here one it learns during the wait) rather than a stale one.
#[test]
fn proposer_waits_for_locks_after_a_failed_epoch() {
    let f = fx(7);
    let p = f.set.proposer(3);
    let others: Vec<u32> = (0..7).filter(|&i| i != p).collect();
    let mut m = f.machine(p, Config::default());
    drain(&mut m);
    for &v in &others[..5] {
        feed(&mut m, v, f.epoch_change(v, 3)).unwrap();
    }
    assert_eq!(m.epoch(), 3);
    let outs = drain(&mut m);
    assert!(!outs.iter().any(|o| matches!(o, Output::Broadcast(Message::Proposal(_)))), "waits first");
    assert!(outs.iter().any(|o| matches!(o, Output::Broadcast(Message::EpochChange(ec)) if ec.epoch == 3)));
    assert_eq!(m.poll_timeout(), Some(Timestamp::from_millis(10 + 150)));
    // During the wait a peer reports a CC of epoch 2 that we had missed.
    let g = Block::genesis();
    let x = f.block(2, &g, b"x");
    let cc_x = f.cc(&others[..5], x.reference());
    let signature = S::sign(&f.keys[others[0] as usize].0, &epoch_change_message(3));
    let ec = Message::EpochChange(EpochChange {
        epoch: 3,
        voter: others[0],
        high_cc: Some(cc_x.clone()),
        signature,
    });
    feed(&mut m, others[0], ec).unwrap();
    let outs = drain(&mut m);
    assert!(outs.iter().any(|o| matches!(o, Output::Request { hash, .. } if *hash == x.hash())), "{outs:?}");
    feed(&mut m, others[0], Message::BlockResponse { block: x.clone(), cc: cc_x }).unwrap();
    let outs = drain(&mut m);
    let parent = outs.iter().find_map(|o| match o {
        Output::Broadcast(Message::Proposal(pr)) => Some(pr.block.parent),
        _ => None,
    });
    assert_eq!(parent, Some(x.hash()), "proposes on the highest lock it learned");
    assert_persist_first(&outs);

    // Without news, the proposer proposes on what it has once the wait is over.
    let mut m = f.machine(p, Config::default());
    for &v in &others[..5] {
        feed(&mut m, v, f.epoch_change(v, 3)).unwrap();
    }
    drain(&mut m);
    let t = m.poll_timeout().unwrap();
    m.handle(t, Input::Timeout).unwrap();
    let outs = drain(&mut m);
    assert!(
        outs.iter()
            .any(|o| matches!(o, Output::Broadcast(Message::Proposal(pr)) if pr.block.parent == g.hash()))
    );
}

/// A validator whose lock is newer than the one the epoch's proposer reports answers the
/// proposer with its highest CC (and nobody else).
#[test]
fn newer_lock_is_sent_to_the_waiting_proposer() {
    let f = fx(7);
    let me = f.observer();
    let p4 = f.set.proposer(4);
    assert_ne!(me, p4);
    let others: Vec<u32> = (0..7).filter(|&i| i != me && i != p4).collect();
    let mut m = f.machine(me, Config::default());
    let g = Block::genesis();
    let x = f.block(2, &g, b"x");
    let cc_x = f.cc(&others[..5], x.reference());
    for &v in &others[..4] {
        let signature = S::sign(&f.keys[v as usize].0, &epoch_change_message(4));
        let ec = EpochChange { epoch: 4, voter: v, high_cc: Some(cc_x.clone()), signature };
        feed(&mut m, v, Message::EpochChange(ec)).unwrap();
    }
    assert_eq!(m.epoch(), 4);
    assert_eq!(m.lock(), x.reference());
    drain(&mut m);
    // The proposer of epoch 4 reports no CC at all.
    feed(&mut m, p4, f.epoch_change(p4, 4)).unwrap();
    let outs = drain(&mut m);
    let replies: Vec<_> = outs
        .iter()
        .filter_map(|o| match o {
            Output::Send { to, msg: Message::EpochChange(ec) } => Some((*to, ec.high_cc.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(replies, vec![(p4, Some(cc_x))]);
    // A non-proposer reporting an old lock gets no answer.
    let mut m2 = f.machine(me, Config::default());
    feed(&mut m2, others[0], f.epoch_change(others[0], 1)).unwrap();
    assert!(!drain(&mut m2).iter().any(|o| matches!(o, Output::Send { .. })));
}

/// The proposer's `EpochChange(t)` can arrive before we are in epoch `t` and before our own
/// newer CC forms (sweep seed 729, m = 4): the report is kept, and our CC goes to the
/// proposer as soon as we enter `t` holding a newer lock — once.
#[test]
fn newer_lock_learned_after_the_proposers_request_still_reaches_it() {
    let f = fx(7);
    let me = f.observer();
    let p4 = f.set.proposer(4);
    assert_ne!(me, p4);
    let others: Vec<u32> = (0..7).filter(|&i| i != me && i != p4).collect();
    let mut m = f.machine(me, Config::default());
    assert!(m.epoch() < 4);
    // The proposer of epoch 4 asks first, reporting no CC; we have nothing newer yet.
    feed(&mut m, p4, f.epoch_change(p4, 4)).unwrap();
    assert!(!drain(&mut m).iter().any(|o| matches!(o, Output::Send { .. })));
    // Then we learn a CC of epoch 2 and enter epoch 4 with the others.
    let g = Block::genesis();
    let x = f.block(2, &g, b"x");
    let cc_x = f.cc(&others[..5], x.reference());
    let mut outs = Vec::new();
    for &v in &others[..4] {
        let signature = S::sign(&f.keys[v as usize].0, &epoch_change_message(4));
        let ec = EpochChange { epoch: 4, voter: v, high_cc: Some(cc_x.clone()), signature };
        feed(&mut m, v, Message::EpochChange(ec)).unwrap();
        outs.extend(drain(&mut m));
    }
    assert_eq!(m.epoch(), 4);
    assert_eq!(m.lock(), x.reference());
    let replies: Vec<_> = outs
        .iter()
        .filter_map(|o| match o {
            Output::Send { to, msg: Message::EpochChange(ec) } => Some((*to, ec.epoch, ec.high_cc.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(replies, vec![(p4, 4, Some(cc_x))]);
    // The proposer repeating its request does not make us answer twice for one lock.
    let signature = S::sign(&f.keys[p4 as usize].0, &epoch_change_message(5));
    let again = EpochChange { epoch: 5, voter: p4, high_cc: None, signature };
    feed(&mut m, p4, Message::EpochChange(again)).unwrap();
    assert!(!drain(&mut m).iter().any(|o| matches!(o, Output::Send { to, .. } if *to == p4)));
}

/// A double proposer's second proposal is evidence and never voted for, but when it is
/// the block that a CC names (sweep seed 793, m = 4) it is kept: the next proposer, who
/// saw the other proposal first, extends it at once instead of losing its epoch.
#[test]
fn certified_second_proposal_of_an_equivocator_is_kept() {
    let n = (4..16).find(|&n| fx(n).set.proposer(1) != fx(n).set.proposer(2)).unwrap();
    let f = fx(n);
    let p1 = f.set.proposer(1);
    let me = f.set.proposer(2);
    let others: Vec<u32> = (0..n as u32).filter(|&i| i != me && i != p1).collect();
    let quorum = (2 * n) / 3 + 1;
    let mut m = f.machine(me, Config::default());
    assert_eq!(m.epoch(), 1);
    let g = Block::genesis();
    let a = f.block(1, &g, b"a");
    let b = f.block(1, &g, b"b");
    feed(&mut m, p1, f.propose(&a, None)).unwrap();
    assert_eq!(votes_cast(&drain(&mut m)), vec![a.reference()]);
    // The others certified `b`: we learn its CC (here from an EpochChange), enter epoch 2
    // as its proposer, and lack the block.
    let signers: Vec<u32> = others.iter().copied().chain([p1]).take(quorum).collect();
    assert_eq!(signers.len(), quorum);
    let cc_b = f.cc(&signers, b.reference());
    let signature = S::sign(&f.keys[others[0] as usize].0, &epoch_change_message(2));
    let ec = EpochChange { epoch: 2, voter: others[0], high_cc: Some(cc_b.clone()), signature };
    feed(&mut m, others[0], Message::EpochChange(ec)).unwrap();
    assert_eq!(m.epoch(), 2);
    assert_eq!(m.lock(), b.reference());
    let outs = drain(&mut m);
    assert!(outs.iter().any(|o| matches!(o, Output::Request { hash, .. } if *hash == b.hash())));
    assert!(!outs.iter().any(|o| matches!(o, Output::Broadcast(Message::Proposal(_)))));
    // A peer answers with the signed proposal of `b`: evidence, the block is kept, and we
    // propose its child carrying its CC.
    feed(&mut m, others[1], f.propose(&b, None)).unwrap();
    let outs = drain(&mut m);
    assert!(outs.iter().any(|o| matches!(o, Output::Misbehaviour(_))));
    assert!(m.block(&b.hash()).is_some());
    assert!(votes_cast(&outs).iter().all(|v| v.epoch == 2), "never a second vote in epoch 1");
    let proposed: Vec<_> = outs
        .iter()
        .filter_map(|o| match o {
            Output::Broadcast(Message::Proposal(p)) => Some((p.block.parent, p.parent_cc.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(proposed, vec![(b.hash(), Some(cc_b))]);
    assert_persist_first(&outs);
}

/// An uncertified, unrequested second proposal is only evidence: its block is not kept.
#[test]
fn uncertified_second_proposal_is_only_evidence() {
    let f = fx(7);
    let me = f.observer();
    let mut m = f.machine(me, Config::default());
    let g = Block::genesis();
    let a = f.block(1, &g, b"a");
    let b = f.block(1, &g, b"b");
    let p1 = f.set.proposer(1);
    feed(&mut m, p1, f.propose(&a, None)).unwrap();
    drain(&mut m);
    feed(&mut m, p1, f.propose(&b, None)).unwrap();
    assert!(drain(&mut m).iter().any(|o| matches!(o, Output::Misbehaviour(_))));
    assert!(m.block(&b.hash()).is_none());
    assert!(m.block(&a.hash()).is_some());
}

/// Loss repair inside an epoch: every `retransmit_ms` a validator repeats its vote of the
/// epoch (the proposer its proposal), without asking to move on; while the next epoch's
/// proposal has not arrived, its previous vote goes to that epoch's proposer. With
/// `retransmit_ms = 0` only the epoch timeout repeats anything.
#[test]
fn votes_and_proposals_are_repeated_before_the_epoch_times_out() {
    let f = fx(7);
    let me = f.observer();
    let p1 = f.set.proposer(1);
    let p2 = f.set.proposer(2);
    let at = |ms| Timestamp::from_millis(ms);
    let config = Config::default();
    assert!(config.retransmit_ms > 0 && config.retransmit_ms < config.epoch_timeout_ms);
    let mut m = f.machine(me, config.clone());
    let deadline = m.poll_timeout().unwrap();
    let g = Block::genesis();
    let a = f.block(1, &g, b"a");
    m.handle(at(10), Input::Message { from: p1, msg: f.propose(&a, None) }).unwrap();
    assert_eq!(votes_cast(&drain(&mut m)), vec![a.reference()]);
    // Nothing else arrives: the tick comes before the epoch deadline and repeats the vote.
    let tick = m.poll_timeout().unwrap();
    assert_eq!(tick, at(config.retransmit_ms));
    assert!(tick < deadline);
    m.handle(tick, Input::Timeout).unwrap();
    let outs = drain(&mut m);
    assert_eq!(votes_cast(&outs), vec![a.reference()]);
    assert!(!outs.iter().any(|o| matches!(o, Output::Broadcast(Message::EpochChange(_)))));
    assert_eq!(m.epoch(), 1);
    assert_eq!(m.poll_timeout(), Some(tick + config.retransmit_ms));
    // A CC of epoch 1 enters epoch 2; its proposal does not come: our vote of epoch 1
    // goes to the proposer of epoch 2 (which may lack it, and so the CC to extend).
    let others: Vec<u32> = (0..7).filter(|&i| i != me).collect();
    let t2 = at(400);
    for &v in &others[..4] {
        m.handle(t2, Input::Message { from: v, msg: f.vote(v, a.reference()) }).unwrap();
    }
    assert_eq!(m.epoch(), 2);
    drain(&mut m);
    let tick = m.poll_timeout().unwrap();
    assert_eq!(tick, t2 + config.retransmit_ms);
    m.handle(tick, Input::Timeout).unwrap();
    let sent: Vec<_> = drain(&mut m)
        .into_iter()
        .filter_map(|o| match o {
            Output::Send { to, msg: Message::Vote(v) } => Some((to, v.block, v.voter)),
            Output::Broadcast(Message::Vote(v)) => Some((u32::MAX, v.block, v.voter)),
            _ => None,
        })
        .collect();
    assert_eq!(sent, vec![(p2, a.reference(), me)]);
    // Once the proposal of epoch 2 is in, the old vote is no longer repeated.
    let b = f.block(2, &a, b"b");
    m.handle(tick, Input::Message { from: p2, msg: f.propose(&b, Some(f.cc(&others[..5], a.reference()))) })
        .unwrap();
    assert_eq!(votes_cast(&drain(&mut m)), vec![b.reference()]);

    // Disabled: after voting, the next wake-up is the epoch deadline.
    let mut quiet = f.machine(me, Config { retransmit_ms: 0, ..Config::default() });
    let deadline = quiet.poll_timeout().unwrap();
    quiet.handle(at(10), Input::Message { from: p1, msg: f.propose(&a, None) }).unwrap();
    drain(&mut quiet);
    assert_eq!(quiet.poll_timeout(), Some(deadline));
}

/// A proposer whose own vote is a quorum (a lone validator, or one with more than 2/3 of
/// the stake) certifies its block inside its own proposal; it must not recurse into the
/// next epochs on one stack (a stack overflow before), and it proposes again from the
/// next timeout, paced by `propose_wait_ms`.
#[test]
fn a_self_certifying_proposer_settles_block_after_block_paced_by_timeouts() {
    let fx = fx(1);
    let config = Config::default();
    let mut m = fx.machine(0, config.clone());
    let mut chain = Vec::new();
    let mut t = 0u64;
    for _ in 0..200 {
        t = m.poll_timeout().map_or(t + 50, |d| d.as_millis().max(t));
        m.handle(Timestamp::from_millis(t), Input::Timeout).unwrap();
        chain.extend(settled(&drain(&mut m)));
    }
    assert!(chain.len() >= 100, "{} blocks settled", chain.len());
    assert!(chain.windows(2).all(|w| w[1].height == w[0].height + 1), "heights in order");
    // Paced: no faster than one proposal per `propose_wait_ms`.
    let last = chain.last().unwrap().height;
    assert!(t >= last.saturating_sub(2) * config.propose_wait_ms, "{last} blocks by {t} ms");

    // Two validators, one with 3 of 4 stake: the big one alone settles too.
    let keys: Keys = (0..2).map(|i| S::keypair(&[i as u8 + 1; 32]).unwrap()).collect();
    let set =
        Arc::new(ValidatorSet::<S>::new(vec![(keys[0].1, 3u64.into()), (keys[1].1, 1u64.into())]).unwrap());
    for me in 0..2u32 {
        let mut m = Machine::new(
            config.clone(),
            StaticContext::new(set.clone(), Some((me, keys[me as usize].0))),
            Timestamp::ZERO,
            [0; 32],
        );
        let mut t = 0u64;
        let mut n = 0;
        for _ in 0..100 {
            t = m.poll_timeout().map_or(t + 50, |d| d.as_millis().max(t));
            m.handle(Timestamp::from_millis(t), Input::Timeout).unwrap();
            n += settled(&drain(&mut m)).len();
        }
        if me == 0 {
            assert!(n > 0, "the 3/4-stake validator settles alone");
        } else {
            assert_eq!(n, 0, "the 1/4-stake validator cannot settle alone");
        }
    }
}
