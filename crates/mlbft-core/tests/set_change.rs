//! Table-driven step tests of live validator-set switching (docs/mlbft.md,
//! "Validator-set changes"): where a change takes effect, the joint certificate of an
//! open hand-over, who may vote and propose on each side of the switch, and stake
//! reweighting moving the 2/3 threshold.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use bls_gossip::{FakeScheme, Scheme};
use mlbft_core::{
    Block, BlockQuorum, BlockRef, Certificate, Checkpoint, CommitCertificate, Config, Context, Error, Event,
    Input, Machine, Message, Output, Proposal, StaticContext, ValidatorIndex, ValidatorSet, Vote,
    proposal_message, vote_message,
};
use primitives::{H256, Timestamp, U256};

type S = FakeScheme;
type M = Machine<StaticContext<S>>;
type Keys = Vec<(<S as Scheme>::SecretKey, <S as Scheme>::PublicKey)>;

/// A validator universe of `n` keys; sets are stake vectors over it.
struct Fx {
    keys: Keys,
}

fn fx(n: usize) -> Fx {
    Fx { keys: (0..n).map(|i| S::keypair(&[i as u8 + 1; 32]).unwrap()).collect() }
}

impl Fx {
    fn set(&self, stakes: &[u64]) -> Arc<ValidatorSet<S>> {
        let members = self.keys.iter().zip(stakes).map(|(k, s)| (k.1, U256::from(*s))).collect();
        Arc::new(ValidatorSet::new(members).unwrap())
    }

    /// A context for `me` (or an observer) with `changes` as `(decided at, set)`.
    fn ctx(
        &self,
        genesis: &Arc<ValidatorSet<S>>,
        changes: &[(u64, Arc<ValidatorSet<S>>)],
        me: Option<u32>,
    ) -> StaticContext<S> {
        let key = me.map(|i| (i, self.keys[i as usize].0));
        let mut ctx = StaticContext::new(genesis.clone(), key);
        for (d, s) in changes {
            ctx = ctx.with_set_change(*d, s.clone()).unwrap();
        }
        ctx
    }

    /// A block at `parent.height + 1` proposed by `set`'s proposer of `epoch`.
    fn block(&self, set: &ValidatorSet<S>, epoch: u64, parent: &Block, tag: &[u8]) -> Block {
        Block {
            height: parent.height + 1,
            epoch,
            parent: parent.hash(),
            proposer: set.proposer(epoch),
            payload: tag.to_vec(),
        }
    }

    fn propose(&self, block: &Block, parent_cc: Option<CommitCertificate<S>>) -> Message<S> {
        let signature = S::sign(&self.keys[block.proposer as usize].0, &proposal_message(&block.reference()));
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
        CommitCertificate { block: b, cert: Certificate::aggregate(self.keys.len(), &sigs).unwrap() }
    }
}

fn feed(m: &mut M, msg: Message<S>) -> Result<(), Error> {
    m.handle(Timestamp::from_millis(10), Input::Message { from: 0, msg })
}

fn certified(m: &mut M) -> Vec<BlockRef> {
    std::iter::from_fn(|| m.poll_output())
        .filter_map(|o| match o {
            Output::Event(Event::Certified { block }) => Some(block),
            _ => None,
        })
        .collect()
}

fn hashes(q: &BlockQuorum<S>) -> Vec<H256> {
    q.sets().iter().map(|s| s.hash()).collect()
}

/// The chain `b1..=b4` of the swap fixture fed to an observer: the old set (0..=3)
/// validates heights 1..=3, the new one (0, 1, 2, 4) from height 4 (decided at 2). `b4`
/// is proposed with the old set's CC of `b3`; nothing certifies `b4` yet, so the
/// observer has settled `b2`.
struct Swap {
    f: Fx,
    old: Arc<ValidatorSet<S>>,
    new: Arc<ValidatorSet<S>>,
    blocks: Vec<Block>,
    m: M,
}

fn swap_fixture() -> Swap {
    let f = fx(5);
    let old = f.set(&[1, 1, 1, 1, 0]);
    let new = f.set(&[1, 1, 1, 0, 1]);
    let ctx = f.ctx(&old, &[(2, new.clone())], None);
    let mut m = Machine::new(Config::default(), ctx, Timestamp::ZERO, [0; 32]);
    let b1 = f.block(&old, 1, &Block::genesis(), b"1");
    let b2 = f.block(&old, 2, &b1, b"2");
    let b3 = f.block(&old, 3, &b2, b"3");
    let b4 = f.block(&new, 4, &b3, b"4");
    feed(&mut m, f.propose(&b1, None)).unwrap();
    feed(&mut m, f.propose(&b2, Some(f.cc(&[0, 1, 2], b1.reference())))).unwrap();
    feed(&mut m, f.propose(&b3, Some(f.cc(&[1, 2, 3], b2.reference())))).unwrap();
    feed(&mut m, f.propose(&b4, Some(f.cc(&[0, 2, 3], b3.reference())))).unwrap();
    assert_eq!(m.settled_tip(), b2.reference());
    assert_eq!(certified(&mut m), vec![b1.reference(), b2.reference(), b3.reference()]);
    Swap { f, old, new, blocks: vec![Block::genesis(), b1, b2, b3, b4], m }
}

#[test]
fn a_change_takes_effect_at_its_lag_height_and_the_hand_over_is_joint_until_settled() {
    // Given: a universe of 5; the old set is 0..=3, the block at height 2 decides the new
    // set (0, 1, 2, 4), effective at 4; the block at height 4 decides a newer one (1..=4),
    // effective at 6.
    let f = fx(5);
    let old = f.set(&[1, 1, 1, 1, 0]);
    let new = f.set(&[1, 1, 1, 0, 1]);
    let newer = f.set(&[0, 1, 1, 1, 1]);
    let ctx = f.ctx(&old, &[(2, new.clone()), (4, newer.clone())], None);
    let (o, n, w) = (old.hash(), new.hash(), newer.hash());
    // When / then: (settled tip height, block height) → sets that must certify, the set in
    // force (which draws the proposer) first.
    let table: Vec<(u64, u64, Vec<H256>)> = vec![
        (0, 1, vec![o]),
        (0, 3, vec![o]),
        (0, 4, vec![n, o]), // the first height of a change: always joint
        (3, 4, vec![n, o]),
        (0, 5, vec![n, o]), // above it, joint while the last old block (3) is unsettled
        (2, 5, vec![n, o]),
        (3, 5, vec![n]), // closed once height 3 is settled
        (3, 6, vec![w, n]),
        (0, 6, vec![w, n, o]), // two open hand-overs: all three sets
        (4, 7, vec![w, n]),
        (5, 6, vec![w, n]),
        (5, 7, vec![w]),
        (9, 1_000, vec![w]),
    ];
    for (settled, height, want) in table {
        let q = BlockQuorum::for_height(&ctx, settled, height).unwrap();
        assert_eq!(hashes(&q), want, "settled {settled}, height {height}");
        assert_eq!(q.is_joint(), want.len() > 1);
    }
    // The machine asks exactly this rule for its own view.
    let m = Machine::new(Config::default(), ctx, Timestamp::ZERO, [0; 32]);
    assert_eq!(hashes(&m.quorum_for(4).unwrap()), vec![n, o]);
    assert_eq!(hashes(&m.quorum_for(3).unwrap()), vec![o]);
}

#[test]
fn joint_certificate_at_the_switch_needs_a_quorum_of_both_sets() {
    // (signers of CC(b4), carried by the proposal of b5) → accepted?
    let table: Vec<(&[u32], bool)> = vec![
        (&[0, 1, 2], true),    // 3/4 of both sets
        (&[0, 1, 3], false),   // old quorum only (3 left)
        (&[0, 1, 4], false),   // new quorum only (4 only just joined)
        (&[0, 1, 3, 4], true), // both, with the leaving and the joining validator
        (&[0, 1], false),      // neither
        (&[0, 1, 2, 3, 4], true),
    ];
    for (signers, ok) in table {
        let Swap { f, new, blocks, mut m, .. } = swap_fixture();
        let b5 = f.block(&new, 5, &blocks[4], b"5");
        let got = feed(&mut m, f.propose(&b5, Some(f.cc(signers, blocks[4].reference()))));
        if ok {
            assert_eq!(got, Ok(()), "{signers:?}");
            assert_eq!(m.settled_tip(), blocks[3].reference(), "{signers:?}: b3 settles with CC(b4)");
        } else {
            assert!(matches!(got, Err(Error::NoQuorum { .. })), "{signers:?}: {got:?}");
            assert!(m.block(&b5.hash()).is_none(), "{signers:?}: refused, nothing stored");
            assert_eq!(m.settled_tip(), blocks[2].reference());
        }
    }
}

#[test]
fn votes_across_the_switch_count_only_where_the_voter_has_stake() {
    let Swap { f, old, new, blocks, mut m } = swap_fixture();
    let (b3, b4) = (blocks[3].reference(), blocks[4].reference());
    // Heights up to 3 are the old set's: the newcomer's vote is refused.
    assert_eq!(feed(&mut m, f.vote(4, b3)), Err(Error::UnknownValidator { index: 4, len: 5 }));
    // Height 4 opens the hand-over: both the leaving and the joining validator count, and
    // the CC needs a quorum of each set.
    let table: Vec<(u32, Result<(), Error>, Vec<BlockRef>)> = vec![
        (4, Ok(()), vec![]),
        (3, Ok(()), vec![]),
        (0, Ok(()), vec![]),   // {0, 3, 4}: old 2/4, new 2/4
        (1, Ok(()), vec![b4]), // {0, 1, 3, 4}: old 3/4 and new 3/4
    ];
    for (voter, want, cc) in table {
        assert_eq!(feed(&mut m, f.vote(voter, b4)), want, "vote by {voter} at height 4");
        assert_eq!(certified(&mut m), cc, "after the vote by {voter} at height 4");
    }
    assert_eq!(m.settled_tip(), b3, "CC(b4) in the next epoch settles b3: the hand-over closes");

    // Height 5, hand-over closed: the removed validator's vote is refused and not counted
    // (with it, {0, 1, 3} would be an old-set quorum); the newcomer's completes the CC.
    let cc4 = m.certificate(&b4.hash).cloned().unwrap();
    let b5 = f.block(&new, 5, &blocks[4], b"5");
    feed(&mut m, f.propose(&b5, Some(cc4))).unwrap();
    certified(&mut m);
    let b5 = b5.reference();
    let table: Vec<(u32, Result<(), Error>, Vec<BlockRef>)> = vec![
        (3, Err(Error::UnknownValidator { index: 3, len: 5 }), vec![]),
        (0, Ok(()), vec![]),
        (1, Ok(()), vec![]), // {0, 1}: 2/4 of the new set; 3's vote did not count
        (4, Ok(()), vec![b5]),
    ];
    for (voter, want, cc) in table {
        assert_eq!(feed(&mut m, f.vote(voter, b5)), want, "vote by {voter} at height 5");
        assert_eq!(certified(&mut m), cc, "after the vote by {voter} at height 5");
    }
    assert_eq!(m.quorum_for(5).unwrap().sets().len(), 1);
    assert!(!old.contains(4) && new.contains(4) && old.contains(3) && !new.contains(3));
}

#[test]
fn stake_reweighting_moves_the_two_thirds_threshold_exactly() {
    // Given: the same four members; the block at height 2 restakes them 3, 1, 1, 1
    // (total 6: a quorum needs more than 4).
    let f = fx(4);
    let old = f.set(&[1, 1, 1, 1]);
    let new = f.set(&[3, 1, 1, 1]);
    let ctx = f.ctx(&old, &[(2, new.clone())], None);
    let mut m = Machine::new(Config::default(), ctx, Timestamp::ZERO, [0; 32]);
    let b1 = f.block(&old, 1, &Block::genesis(), b"1");
    let b2 = f.block(&old, 2, &b1, b"2");
    let b3 = f.block(&old, 3, &b2, b"3");
    let b4 = f.block(&new, 4, &b3, b"4");
    let b5 = f.block(&new, 5, &b4, b"5");
    feed(&mut m, f.propose(&b1, None)).unwrap();
    feed(&mut m, f.propose(&b2, Some(f.cc(&[0, 1, 2], b1.reference())))).unwrap();
    feed(&mut m, f.propose(&b3, Some(f.cc(&[1, 2, 3], b2.reference())))).unwrap();
    feed(&mut m, f.propose(&b4, Some(f.cc(&[1, 2, 3], b3.reference())))).unwrap();
    feed(&mut m, f.propose(&b5, Some(f.cc(&[0, 1, 2], b4.reference())))).unwrap();
    assert_eq!(m.settled_tip(), b3.reference());
    // When / then: (height, signers) → certifies? Height 3 is the old set's (any 3 of 4),
    // 4 the joint hand-over, 5 the new stakes alone.
    let table: Vec<(&Block, &[u32], bool)> = vec![
        (&b3, &[1, 2, 3], true),
        (&b3, &[0, 1], false),
        (&b4, &[1, 2, 3], false), // 3 of 4 members, but 3/6 of the new stake
        (&b4, &[0, 1], false),    // 4/6 of the new stake, 2/4 of the old
        (&b4, &[0, 1, 2], true),
        (&b5, &[1, 2, 3], false),
        (&b5, &[0, 1], false),   // 4/6: not more than 2/3
        (&b5, &[0, 1, 2], true), // 5/6
        (&b5, &[0, 3, 2], true), // 5/6
        (&b5, &[0, 1, 2, 3], true),
    ];
    for (b, signers, ok) in table {
        let got = m.quorum_for(b.height).unwrap().verify(&f.cc(signers, b.reference()));
        assert_eq!(got.is_ok(), ok, "height {}, signers {signers:?}: {got:?}", b.height);
    }
    // The tally uses the same stakes: 1, 2, 3 vote for b5 (3/6), then 0 (6/6).
    let table: Vec<(u32, Vec<BlockRef>)> =
        vec![(1, vec![]), (2, vec![]), (3, vec![]), (0, vec![b5.reference()])];
    certified(&mut m);
    for (voter, cc) in table {
        feed(&mut m, f.vote(voter, b5.reference())).unwrap();
        assert_eq!(certified(&mut m), cc, "after the vote by {voter}");
    }
}

/// Delivers every broadcast and send to its recipients each 50 ms step, and fires due
/// timeouts; refused inputs are counted, not fatal.
fn drive(nodes: &mut [M], steps: u64, mut seen: impl FnMut(usize, &Output<S>)) -> u64 {
    let mut refused = 0;
    for step in 1..=steps {
        let now = Timestamp::from_millis(step * 50);
        let mut mail: Vec<(usize, Option<usize>, Message<S>)> = Vec::new();
        for (i, n) in nodes.iter_mut().enumerate() {
            if n.poll_timeout().is_some_and(|t| t <= now) {
                n.handle(now, Input::Timeout).unwrap();
            }
            while let Some(o) = n.poll_output() {
                seen(i, &o);
                match o {
                    Output::Broadcast(msg) => mail.push((i, None, msg)),
                    Output::Send { to, msg } => mail.push((i, Some(to as usize), msg)),
                    Output::Request { hash, .. } => mail.push((i, None, Message::BlockRequest { hash })),
                    _ => {}
                }
            }
        }
        for (from, to, msg) in mail {
            for (j, n) in nodes.iter_mut().enumerate() {
                if j != from && to.is_none_or(|t| t == j) {
                    let input = Input::Message { from: from as ValidatorIndex, msg: msg.clone() };
                    refused += u64::from(n.handle(now, input).is_err());
                }
            }
        }
    }
    refused
}

#[test]
fn a_running_network_switches_sets_and_the_removed_validator_keeps_following() {
    // Given: a universe of 5; validators 0..=3 at genesis; the block at height 3 swaps 3
    // for 4 (effective at height 5).
    let f = fx(5);
    let old = f.set(&[1, 1, 1, 1, 0]);
    let new = f.set(&[1, 1, 1, 0, 1]);
    let mut nodes: Vec<M> = (0..5u32)
        .map(|i| {
            Machine::new(
                Config::default(),
                f.ctx(&old, &[(3, new.clone())], Some(i)),
                Timestamp::ZERO,
                [0; 32],
            )
        })
        .collect();
    let mut proposed: Vec<(usize, BlockRef)> = Vec::new();
    let mut voted: Vec<(usize, BlockRef)> = Vec::new();
    // When: the network runs fault-free.
    drive(&mut nodes, 120, |i, o| match o {
        Output::Event(Event::Proposed { block }) => proposed.push((i, *block)),
        Output::Event(Event::Voted { block }) => voted.push((i, *block)),
        _ => {}
    });
    // Then: every node (the removed one included) settled one chain well past the switch.
    let tip = nodes[0].settled_tip();
    assert!(tip.height >= 15, "{tip:?}");
    for n in &nodes {
        assert!(n.settled_tip().height + 2 >= tip.height, "{:?} behind {tip:?}", n.settled_tip());
        for h in 1..=n.settled_tip().height.min(tip.height) {
            assert_eq!(n.settled_at(h), nodes[0].settled_at(h), "height {h}");
        }
    }
    // Each settled block was proposed by its height's set's proposer of its epoch.
    for h in 1..=tip.height {
        let hash = nodes[0].settled_at(h).unwrap();
        let b = nodes[0].block(&hash).unwrap();
        let set = if h < 5 { &old } else { &new };
        assert_eq!(b.proposer, set.proposer(b.epoch), "height {h}");
    }
    // The newcomer never votes below the switch, and votes and proposes after it.
    assert!(voted.iter().filter(|(i, _)| *i == 4).all(|(_, b)| b.height >= 5));
    assert!(voted.iter().any(|(i, b)| *i == 4 && b.height > 5));
    assert!(proposed.iter().any(|(i, _)| *i == 4));
    // The removed validator proposes nothing from the switch on, and votes at most at the
    // hand-over height (its last old block settles there in a fault-free run).
    assert!(proposed.iter().filter(|(i, _)| *i == 3).all(|(_, b)| b.height < 5), "{proposed:?}");
    assert!(voted.iter().filter(|(i, _)| *i == 3).all(|(_, b)| b.height <= 5), "{voted:?}");
    assert!(nodes[3].me_for(4) == Some(3) && nodes[3].me_for(5).is_none());
    assert!(nodes[4].me_for(4).is_none() && nodes[4].me_for(5) == Some(4));
}

/// A context that cannot tell the sets from height `from` on.
struct Blind {
    inner: StaticContext<S>,
    from: u64,
}

impl Context for Blind {
    type Scheme = S;
    fn validator_set(&self) -> &Arc<ValidatorSet<S>> {
        self.inner.validator_set()
    }
    fn validator_set_for(&self, height: u64) -> Option<Arc<ValidatorSet<S>>> {
        (height < self.from).then(|| self.inner.validator_set_for(height)).flatten()
    }
    fn set_since(&self, height: u64) -> Option<u64> {
        (height < self.from).then_some(0)
    }
    fn sign(&self, msg: &[u8]) -> Option<(ValidatorIndex, <S as Scheme>::Signature)> {
        self.inner.sign(msg)
    }
    fn me(&self) -> Option<ValidatorIndex> {
        self.inner.me()
    }
    fn payload(&mut self, height: u64) -> Vec<u8> {
        self.inner.payload(height)
    }
    fn verify_finality(&self, checkpoint: &Checkpoint, proof: &[u8]) -> Result<bool, Error> {
        self.inner.verify_finality(checkpoint, proof)
    }
}

#[test]
fn a_height_whose_set_the_context_cannot_give_is_refused_and_changes_nothing() {
    let f = fx(4);
    let set = f.set(&[1, 1, 1, 1]);
    let ctx = Blind { inner: f.ctx(&set, &[], None), from: 3 };
    let mut m = Machine::new(Config::default(), ctx, Timestamp::ZERO, [0; 32]);
    let b1 = f.block(&set, 1, &Block::genesis(), b"1");
    let b2 = f.block(&set, 2, &b1, b"2");
    let b3 = f.block(&set, 3, &b2, b"3");
    let input = |msg| Input::Message { from: 0, msg };
    let now = Timestamp::from_millis(10);
    m.handle(now, input(f.propose(&b1, None))).unwrap();
    m.handle(now, input(f.propose(&b2, Some(f.cc(&[0, 1, 2], b1.reference()))))).unwrap();
    let table: Vec<(&str, Message<S>)> = vec![
        ("proposal at height 3", f.propose(&b3, Some(f.cc(&[0, 1, 2], b2.reference())))),
        ("vote at height 3", f.vote(1, b3.reference())),
    ];
    for (what, msg) in table {
        assert_eq!(m.handle(now, input(msg)), Err(Error::UnknownSetForHeight { height: 3 }), "{what}");
    }
    assert!(m.block(&b3.hash()).is_none());
    assert_eq!(m.quorum_for(3).err(), Some(Error::UnknownSetForHeight { height: 3 }));
}

#[test]
fn with_set_changes_a_block_response_carries_the_certified_ancestors() {
    // Given: the swap fixture's observer holds b1..=b4 with the CCs of b1..=b3.
    let Swap { blocks, mut m, .. } = swap_fixture();
    while m.poll_output().is_some() {}
    // When: a peer asks for b3 (a validator catching up across the hand-over).
    m.handle(
        Timestamp::from_millis(20),
        Input::Message { from: 2, msg: Message::BlockRequest { hash: blocks[3].hash() } },
    )
    .unwrap();
    // Then: b3 and its certified ancestors, child first, down to genesis (which has no CC).
    let sent: Vec<(u32, u64)> = std::iter::from_fn(|| m.poll_output())
        .filter_map(|o| match o {
            Output::Send { to, msg: Message::BlockResponse { block, cc } } => {
                assert_eq!(cc.block, block.reference());
                Some((to, block.height))
            }
            _ => None,
        })
        .collect();
    assert_eq!(sent, vec![(2, 3), (2, 2), (2, 1)]);
}
