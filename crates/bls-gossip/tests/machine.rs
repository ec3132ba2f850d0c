//! The gossip machine driven by hand (fake crypto: the protocol is identical, the
//! signatures are cheap). Table-style: given a state, when an input arrives, then outputs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use bls_gossip::{
    Aggregate, Config, Context, Error, Event, FakeScheme, GossipMachine, GossipMessage, GuardianSet, Input,
    Output, Scheme, SignerVector, checkpoint_message,
};
use primitives::{Machine, Timestamp};

type S = FakeScheme;

struct World {
    set: Arc<GuardianSet<S>>,
    msg: Arc<[u8]>,
    sks: Vec<<S as Scheme>::SecretKey>,
}

fn world(n: usize) -> World {
    let pairs: Vec<_> = (0..n).map(|i| S::keypair(&[i as u8 + 1; 32]).unwrap()).collect();
    let set = Arc::new(GuardianSet::<S>::equal_stake(pairs.iter().map(|p| p.1).collect()).unwrap());
    World {
        set,
        msg: checkpoint_message(7, &[1; 32], &[2; 32]).into(),
        sks: pairs.into_iter().map(|p| p.0).collect(),
    }
}

impl World {
    fn machine(&self, me: usize, neighbours: Vec<usize>, seed: u8) -> GossipMachine<S> {
        let sig = S::sign(&self.sks[me], &self.msg);
        let ctx = Context::new(7, self.set.clone(), self.msg.clone(), Some((me, sig)), neighbours).unwrap();
        GossipMachine::new(Config::default(), ctx, Timestamp::ZERO, [seed; 32])
    }
    fn single(&self, i: usize) -> GossipMessage<S> {
        let agg = Aggregate {
            signers: Arc::new(SignerVector::singleton(self.set.len(), i).unwrap()),
            signature: S::sign(&self.sks[i], &self.msg),
        };
        GossipMessage::new(7, agg)
    }
}

fn drain(m: &mut GossipMachine<S>) -> Vec<Output<S>> {
    std::iter::from_fn(|| m.poll_output()).collect()
}

#[test]
fn round_zero_sends_own_signature_to_neighbours() {
    let w = world(4);
    let mut m = w.machine(0, vec![1, 2, 0, 2], 1);
    assert_eq!(m.poll_timeout(), Some(Timestamp::ZERO));
    m.handle(Timestamp::ZERO, Input::Timeout).unwrap();
    let out = drain(&mut m);
    assert_eq!(out.len(), 1);
    let Output::Send { to, msg } = &out[0] else { panic!("expected a send") };
    assert_eq!(to, &vec![1, 2]); // deduplicated, self removed
    assert_eq!(msg.aggregate().signers.distinct(), 1);
    assert_eq!(m.poll_timeout(), Some(Timestamp::from_millis(200)));
}

#[test]
fn merges_verified_pieces_and_finalizes_strictly_above_two_thirds() {
    let w = world(4);
    let mut m = w.machine(0, vec![1, 2, 3], 1);
    m.handle(Timestamp::ZERO, Input::Timeout).unwrap();
    drain(&mut m);
    // 2 of 4 = 1/2: no finality.
    m.handle(Timestamp(50), Input::Message { from: 1, msg: w.single(1) }).unwrap();
    m.handle(Timestamp(200), Input::Timeout).unwrap();
    let out = drain(&mut m);
    assert!(out.iter().all(|o| matches!(o, Output::Send { .. })));
    assert_eq!(m.aggregate().unwrap().signers.distinct(), 2);
    // 3 of 4 > 2/3: finalized, and the aggregate verifies.
    m.handle(Timestamp(250), Input::Message { from: 2, msg: w.single(2) }).unwrap();
    m.handle(Timestamp(400), Input::Timeout).unwrap();
    let out = drain(&mut m);
    let fin: Vec<_> = out
        .iter()
        .filter_map(|o| match o {
            Output::Event(Event::Finalized { round, aggregate }) => Some((*round, aggregate.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(fin.len(), 1);
    assert_eq!(fin[0].0, 2);
    assert!(fin[0].1.verify(w.set.keys(), &w.msg).unwrap());
    assert_eq!(m.finalized_round(), Some(2));
    // Lingering: two more rounds, then quiet.
    m.handle(Timestamp(600), Input::Timeout).unwrap();
    m.handle(Timestamp(800), Input::Timeout).unwrap();
    assert_eq!(m.poll_timeout(), None);
}

#[test]
fn invalid_aggregate_is_misbehaviour_and_sender_is_ignored() {
    let w = world(4);
    let mut m = w.machine(0, vec![1, 2, 3], 1);
    m.handle(Timestamp::ZERO, Input::Timeout).unwrap();
    drain(&mut m);
    // Guardian 3 claims 1, 2 and 3 with only its own signature.
    let forged = GossipMessage::new(
        7,
        Aggregate {
            signers: Arc::new(SignerVector::from_counts(&[0, 1, 1, 1])),
            signature: S::sign(&w.sks[3], &w.msg),
        },
    );
    m.handle(Timestamp(50), Input::Message { from: 3, msg: forged }).unwrap();
    m.handle(Timestamp(60), Input::Message { from: 1, msg: w.single(1) }).unwrap();
    m.handle(Timestamp(200), Input::Timeout).unwrap();
    let out = drain(&mut m);
    let accused: Vec<usize> = out
        .iter()
        .filter_map(|o| if let Output::Misbehaviour(mb) = o { Some(mb.from) } else { None })
        .collect();
    assert_eq!(accused, vec![3]);
    assert_eq!(m.aggregate().unwrap().signers.distinct(), 2, "the valid piece from 1 was still merged");
    // Later messages from 3 are ignored, even valid ones; and 3 gets no more sends.
    m.handle(Timestamp(250), Input::Message { from: 3, msg: w.single(3) }).unwrap();
    m.handle(Timestamp(400), Input::Timeout).unwrap();
    let out = drain(&mut m);
    assert_eq!(m.aggregate().unwrap().signers.distinct(), 2);
    for o in out {
        if let Output::Send { to, .. } = o {
            assert!(!to.contains(&3));
        }
    }
}

#[test]
fn hostile_inputs_are_typed_errors() {
    let w = world(4);
    let mut m = w.machine(0, vec![1, 2, 3], 1);
    let other = GossipMessage::new(8, w.single(1).aggregate().clone());
    assert_eq!(
        m.handle(Timestamp(1), Input::Message { from: 1, msg: other }),
        Err(Error::WrongInstance { found: 8, expected: 7 })
    );
    assert_eq!(
        m.handle(Timestamp(1), Input::Message { from: 9, msg: w.single(1) }),
        Err(Error::UnknownPeer { peer: 9, len: 4 })
    );
    let short = GossipMessage::new(
        7,
        Aggregate {
            signers: Arc::new(SignerVector::singleton(3, 1).unwrap()),
            signature: S::sign(&w.sks[1], &w.msg),
        },
    );
    assert!(matches!(
        m.handle(Timestamp(1), Input::Message { from: 1, msg: short }),
        Err(Error::LengthMismatch { .. })
    ));
    assert_eq!(
        m.handle(Timestamp(1), Input::SetNeighbours(vec![5])),
        Err(Error::UnknownPeer { peer: 5, len: 4 })
    );
    assert!(Context::<S>::new(7, w.set.clone(), w.msg.clone(), None, vec![4]).is_err());
}

#[test]
fn a_useless_aggregate_is_dropped_unverified() {
    let w = world(4);
    let mut m = w.machine(0, vec![1], 1);
    m.handle(Timestamp::ZERO, Input::Timeout).unwrap();
    // Our own signature echoed back adds nothing (even with a broken signature).
    let echo = GossipMessage::new(
        7,
        Aggregate {
            signers: Arc::new(SignerVector::singleton(4, 0).unwrap()),
            signature: S::sign(&w.sks[2], &w.msg),
        },
    );
    m.handle(Timestamp(10), Input::Message { from: 1, msg: echo }).unwrap();
    m.handle(Timestamp(200), Input::Timeout).unwrap();
    assert!(drain(&mut m).iter().all(|o| !matches!(o, Output::Misbehaviour(_))));
    assert_eq!(m.stats().useless, 1);
    assert_eq!(m.stats().verified, 0);
}

#[test]
fn late_neighbour_wakes_a_quiet_finalized_node() {
    let w = world(3);
    let mut m = w.machine(0, vec![1, 2], 1);
    m.handle(Timestamp::ZERO, Input::Timeout).unwrap();
    m.handle(Timestamp(10), Input::Message { from: 1, msg: w.single(1) }).unwrap();
    m.handle(Timestamp(20), Input::Message { from: 2, msg: w.single(2) }).unwrap();
    for t in [200, 400, 600] {
        m.handle(Timestamp(t), Input::Timeout).unwrap();
    }
    assert_eq!(m.finalized_round(), Some(1));
    assert_eq!(m.poll_timeout(), None);
    drain(&mut m);
    // Guardian 2 restarted and only has its own signature: we wake and send to it.
    m.handle(Timestamp(1010), Input::Message { from: 2, msg: w.single(2) }).unwrap();
    assert_eq!(m.poll_timeout(), Some(Timestamp(1200)));
    m.handle(Timestamp(1200), Input::Timeout).unwrap();
    let out = drain(&mut m);
    assert!(out.iter().any(|o| matches!(o, Output::Send { to, .. } if to.contains(&2))));
    assert_eq!(m.poll_timeout(), None);
}

fn script(w: &World, seed: u8) -> Vec<String> {
    let mut m = w.machine(0, vec![1, 2, 3], seed);
    let mut log = Vec::new();
    let mut step = |m: &mut GossipMachine<S>, t: u64, input: Input<S>| {
        let r = Machine::handle(m, Timestamp(t), input);
        log.push(format!("{r:?}"));
        while let Some(o) = Machine::poll_output(m) {
            log.push(format!("{o:?}"));
        }
        log.push(format!("{:?}", Machine::poll_timeout(m)));
    };
    step(&mut m, 0, Input::Timeout);
    for j in 1..4 {
        step(&mut m, 10 * j as u64, Input::Message { from: j, msg: w.single(j) });
    }
    step(&mut m, 200, Input::Timeout);
    step(&mut m, 400, Input::Timeout);
    log
}

#[test]
fn same_seed_and_inputs_give_identical_outputs() {
    let w = world(4);
    assert_eq!(script(&w, 3), script(&w, 3));
}

#[test]
fn wire_round_trip() {
    let w = world(5);
    let msg = w.single(3);
    let bytes = msg.encode();
    assert_eq!(bytes.len(), msg.encoded_len());
    assert_eq!(GossipMessage::<S>::decode(&bytes, 5, 1024).unwrap(), msg);
    assert!(matches!(GossipMessage::<S>::decode(&bytes, 5, 10), Err(Error::TooLong { .. })));
    assert!(matches!(GossipMessage::<S>::decode(&bytes, 6, 1024), Err(Error::LengthMismatch { .. })));
    let real = {
        let sk = bls_gossip::bls::SecretKey::key_gen(&[3; 32]).unwrap();
        GossipMessage::<bls_gossip::Bls>::new(
            9,
            Aggregate { signers: Arc::new(SignerVector::singleton(5, 1).unwrap()), signature: sk.sign(b"x") },
        )
    };
    let bytes = real.encode();
    assert_eq!(GossipMessage::<bls_gossip::Bls>::decode(&bytes, 5, 1024).unwrap(), real);
    let mut bad = bytes.clone();
    bad[0] = 2;
    assert!(matches!(
        GossipMessage::<bls_gossip::Bls>::decode(&bad, 5, 1024),
        Err(Error::UnsupportedVersion { .. })
    ));
}

#[test]
fn checkpoint_message_is_namespaced_ethereum_rlp() {
    for height in [0u64, 1, 127, 128, 100_000, u64::MAX] {
        let m = checkpoint_message(height, &[0xaa; 32], &[0xbb; 32]);
        let mut s = rlp::RlpStream::new_list(3);
        s.append(&height);
        s.append(&[0xaau8; 32].as_slice());
        s.append(&[0xbbu8; 32].as_slice());
        let expected = bls_gossip::namespaced(bls_gossip::CHECKPOINT_DOMAIN, &s.out());
        assert_eq!(m, expected, "height {height}");
    }
    assert_ne!(bls_gossip::namespaced(b"a", b"bc"), bls_gossip::namespaced(b"ab", b"c"));
}
