//! Properties: signer vectors against a plain-counts model, the canonical encoding, and
//! the gossip's safety under Byzantine peers — netsim with fake crypto for many cases,
//! and real BLS for small sets (n ≤ 16) with coordinated cancelling pairs, inflated
//! multiplicities and batch weights predicted from known seeds.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use bls_gossip::bls::{SecretKey, Signature};
use bls_gossip::sim::{Byzantine, Experiment, Setup, run};
use bls_gossip::{
    Aggregate, Bls, Config, Context, Event, FakeScheme, GossipMachine, GossipMessage, Input, Output, Scheme,
    SignerVector, checkpoint_message,
};
use common::times;
use primitives::Timestamp;
use proptest::prelude::*;
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};

fn counts(n: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(prop_oneof![6 => Just(0u8), 3 => Just(1u8), 1 => any::<u8>()], n)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Merge equals element-wise addition when no count passes the cap, and leaves the
    /// vector unchanged otherwise; distinct/gain/overlap/covers agree with the model.
    #[test]
    fn merge_matches_model((a, b, cap) in (1usize..200).prop_flat_map(|n| (counts(n), counts(n), 1u8..=255))) {
        let mut v = SignerVector::from_counts(&a);
        let w = SignerVector::from_counts(&b);
        let sum: Vec<u32> = a.iter().zip(&b).map(|(&x, &y)| u32::from(x) + u32::from(y)).collect();
        prop_assert_eq!(v.gain(&w), a.iter().zip(&b).filter(|(x, y)| **x == 0 && **y != 0).count());
        prop_assert_eq!(v.overlap(&w), a.iter().zip(&b).filter(|(x, y)| **x != 0 && **y != 0).count());
        prop_assert_eq!(v.covers(&w), v.gain(&w) == 0);
        let before = v.clone();
        // The cap applies to the counts the merge touches.
        let fits = sum.iter().zip(&b).all(|(&s, &y)| y == 0 || s <= u32::from(cap));
        match v.merge_capped(&w, cap) {
            Ok(()) => {
                prop_assert!(fits);
                let expect: Vec<u8> = sum.iter().map(|&s| u8::try_from(s).unwrap()).collect();
                prop_assert_eq!(&v, &SignerVector::from_counts(&expect));
                prop_assert_eq!(v.distinct(), expect.iter().filter(|&&c| c != 0).count());
            }
            Err(_) => {
                prop_assert!(!fits);
                prop_assert_eq!(&v, &before);
            }
        }
    }

    /// Encoding round-trips, is the smaller form, and rejects any other length n.
    #[test]
    fn encoding_round_trips(c in (1usize..3000).prop_flat_map(counts)) {
        let v = SignerVector::from_counts(&c);
        let bytes = v.encode();
        prop_assert_eq!(bytes.len(), v.encoded_len());
        prop_assert_eq!(&SignerVector::decode(&bytes, c.len(), bytes.len()).unwrap(), &v);
        prop_assert!(SignerVector::decode(&bytes, c.len() + 1, bytes.len()).is_err());
        // Never larger than a bitmap plus one byte per signer.
        prop_assert!(bytes.len() <= 4 + c.len().div_ceil(8) + v.distinct() * 2);
    }

    /// Decoding arbitrary bytes never panics, and what decodes re-encodes to the input.
    #[test]
    fn decoder_is_total(bytes in proptest::collection::vec(any::<u8>(), 0..200), n in 1usize..300) {
        if let Ok(v) = SignerVector::decode(&bytes, n, 256) {
            prop_assert_eq!(v.encode(), bytes);
        }
    }

    /// Safety: with Byzantine stake below 1/3, whatever the Byzantine guardians send
    /// (silence, invalid, forged or inflated aggregates, coordinated cancelling pairs,
    /// pieces built from predicted weights), every honest `Finalized` carries a
    /// valid aggregate over more than 2/3 of stake, and no honest guardian is accused.
    #[test]
    fn honest_finality_is_always_backed_by_a_valid_quorum(
        seed in any::<u64>(),
        n in 20usize..80,
        byz in 0.0f64..0.33,
        kind in proptest::sample::select(Byzantine::ALL.to_vec()),
        loss in 0.0f64..0.2,
    ) {
        let setup = Setup::<FakeScheme>::new(n, b"checkpoint").unwrap();
        let e = Experiment {
            degree: 6,
            byzantine_fraction: byz,
            byzantine: kind,
            loss,
            latency: netsim::Latency::Uniform { min_ms: 10, max_ms: 150 },
            config: Config::default(),
            seed,
            max_rounds: 12,
            check_safety: true,
            machine_secret: None,
        };
        let out = run(&setup, &e).unwrap();
        prop_assert_eq!(out.safety_violations, 0, "seed {}", seed);
        prop_assert_eq!(out.false_accusations, 0, "seed {}", seed);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Safety of one machine against arbitrary peer input: random signer vectors with
    /// random (mostly invalid) signatures, valid pieces, inflated multiplicities and
    /// coordinated pairs whose errors cancel in their sum, in any order.
    #[test]
    fn one_machine_never_finalizes_without_a_valid_quorum(
        msgs in proptest::collection::vec((1usize..7, counts(7), any::<u64>(), 0u8..5), 1..40),
    ) {
        type S = FakeScheme;
        let pairs: Vec<_> = (0..7u8).map(|i| S::keypair(&[i + 1; 32]).unwrap()).collect();
        let set = Arc::new(bls_gossip::GuardianSet::<S>::equal_stake(pairs.iter().map(|p| p.1).collect()).unwrap());
        let message: Arc<[u8]> = checkpoint_message(1, &[0; 32], &[0; 32]).into();
        let ctx = Context::new(1, set.clone(), message.clone(), Some((0, S::sign(&pairs[0].0, &message))), (1..7).collect()).unwrap();
        let mut m = GossipMachine::new(Config::default(), ctx, Timestamp::ZERO, [0; 32]);
        let mut now = 0u64;
        let valid = |signers: &SignerVector| {
            signers.iter().fold(bls_gossip::FakeSignature(0), |acc, (u, cnt)| {
                (0..cnt).fold(acc, |a, _| S::combine(&a, &S::sign(&pairs[u].0, &message)))
            })
        };
        // The error the last "+X" piece carried: the next "−X" piece cancels it.
        let mut pending = bls_gossip::FakeSignature(0);
        for (k, (from, c, junk, kind)) in msgs.into_iter().enumerate() {
            let mut signers = SignerVector::from_counts(&c);
            let signature = match kind {
                // A valid aggregate for the claimed multiplicities.
                0 => valid(&signers),
                // Junk.
                1 => bls_gossip::FakeSignature(junk),
                // Inflated: claims one more copy of its first signer than it carries.
                2 => {
                    let sig = valid(&signers);
                    let first = signers.iter().next();
                    if let Some((u, cnt)) = first && cnt < 255 {
                        signers.set(u, cnt + 1).unwrap();
                    }
                    sig
                }
                // The first of a cancelling pair: off by +X.
                3 => {
                    pending = bls_gossip::FakeSignature(junk % FakeScheme::MODULUS);
                    S::combine(&valid(&signers), &pending)
                }
                // The second: off by −X, so the pair's sum is valid.
                _ => S::combine(&valid(&signers), &S::negate(&pending).unwrap()),
            };
            let msg = GossipMessage::new(1, Aggregate { signers: Arc::new(signers), signature });
            let _ = m.handle(Timestamp(now), Input::Message { from, msg });
            if k % 3 == 2 {
                now += 200;
                m.handle(Timestamp(now), Input::Timeout).unwrap();
            }
            while let Some(o) = m.poll_output() {
                match o {
                    Output::Event(Event::Finalized { aggregate, .. }) => {
                        prop_assert!(aggregate.verify(set.keys(), &message).unwrap());
                        prop_assert!(set.is_quorum(&aggregate.signers));
                    }
                    Output::Send { msg, .. } => {
                        prop_assert!(msg.aggregate().verify(set.keys(), &message).unwrap(), "we only send valid aggregates");
                    }
                    Output::Misbehaviour(mb) => {
                        prop_assert!(!mb.aggregate.verify(set.keys(), &message).unwrap(), "only invalid pieces are reported");
                    }
                }
            }
            if let Some(a) = m.aggregate() {
                prop_assert!(a.verify(set.keys(), &message).unwrap(), "our aggregate is always valid");
                prop_assert!(a.signers.max_count() <= Config::default().max_multiplicity);
            }
        }
    }
}

/// Real-BLS sim experiment for the properties below.
fn real_bls_experiment(
    seed: u64,
    n: usize,
    byz: f64,
    kind: Byzantine,
    loss: f64,
) -> (usize, bls_gossip::sim::Outcome) {
    let setup = Setup::<Bls>::new(n, b"checkpoint").unwrap();
    let e = Experiment {
        degree: 4,
        byzantine_fraction: byz,
        byzantine: kind,
        loss,
        latency: netsim::Latency::Uniform { min_ms: 10, max_ms: 150 },
        config: Config::default(),
        seed,
        max_rounds: 10,
        check_safety: true,
        machine_secret: None,
    };
    (n, run(&setup, &e).unwrap())
}

fn adversaries() -> impl Strategy<Value = Byzantine> {
    proptest::sample::select(vec![
        Byzantine::Cancelling,
        Byzantine::PredictedWeights,
        Byzantine::Inflated,
        Byzantine::Invalid,
        Byzantine::Forged,
    ])
}

proptest! {
    // Real pairings: few cases in the default run; the `#[ignore]` twin runs many.
    #![proptest_config(ProptestConfig::with_cases(3))]

    /// Gossip safety under real BLS, n ≤ 16, Byzantine stake below 1/3 in coordinated
    /// pairs (cancelling errors, inflated multiplicities, weights predicted from the
    /// machines' known seeds): every honest `Finalized` is a valid quorum aggregate, and
    /// no honest guardian is accused.
    #[test]
    fn real_bls_gossip_is_safe_under_coordinated_adversaries(
        seed in any::<u64>(), n in 7usize..=16, byz in 0.0f64..0.33, kind in adversaries(), loss in 0.0f64..0.1,
    ) {
        let (_, out) = real_bls_experiment(seed, n, byz, kind, loss);
        prop_assert_eq!(out.safety_violations, 0, "seed {} n {}", seed, n);
        prop_assert_eq!(out.false_accusations, 0, "seed {} n {}", seed, n);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The heavy twin of `real_bls_gossip_is_safe_under_coordinated_adversaries`.
    #[test]
    #[ignore = "real BLS, 64 cases: run with --ignored"]
    fn real_bls_gossip_is_safe_under_coordinated_adversaries_many_cases(
        seed in any::<u64>(), n in 7usize..=16, byz in 0.0f64..0.33, kind in adversaries(), loss in 0.0f64..0.1,
    ) {
        let (_, out) = real_bls_experiment(seed, n, byz, kind, loss);
        prop_assert_eq!(out.safety_violations, 0, "seed {} n {}", seed, n);
        prop_assert_eq!(out.false_accusations, 0, "seed {} n {}", seed, n);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4))]

    /// One machine under real BLS whose seed the adversary knows: in round 1 the
    /// Byzantine peers (any subset, in pairs by index) send pieces off by `r_b·X` and
    /// `−r_a·X` for the weights `ChaCha8Rng::from_seed(seed)` would give their positions in
    /// the batch; honest peers send their signatures. Whatever the subset, the machine
    /// never holds, sends or finalizes an invalid aggregate, and accuses only Byzantine
    /// peers.
    #[test]
    fn real_bls_machine_is_safe_against_predicted_weights(
        seed in any::<[u8; 32]>(), byzantine in proptest::collection::vec(any::<bool>(), 7),
    ) {
        let n = 8;
        let sks: Vec<SecretKey> = (0..n as u8).map(|i| SecretKey::key_gen(&[i + 1; 32]).unwrap()).collect();
        let keys: Vec<_> = sks.iter().map(|k| k.public_key()).collect();
        let set = Arc::new(bls_gossip::GuardianSet::<Bls>::equal_stake(keys.clone()).unwrap());
        let message: Arc<[u8]> = checkpoint_message(2, &[3; 32], &[4; 32]).into();
        let ctx = Context::new(2, set.clone(), message.clone(), Some((0, sks[0].sign(&message))), (1..n).collect()).unwrap();
        let mut m = GossipMachine::new(Config::default(), ctx, Timestamp::ZERO, seed);
        // Predicted weights for batch positions 0..n-1 (senders 1..n, in index order).
        let mut rng = ChaCha8Rng::from_seed(seed);
        let r: Vec<u64> = (1..n).map(|_| loop { let r = rng.next_u64(); if r != 0 { break r; } }).collect();
        let x = sks[1].sign(b"junk");
        let bad: Vec<usize> = (1..n).filter(|&u| byzantine[u - 1]).collect();
        let mut sigs: Vec<Signature> = (0..n).map(|u| sks[u].sign(&message)).collect();
        for pair in bad.chunks(2) {
            if let [a, b] = *pair {
                sigs[a] = sigs[a].combine(&times(&x, r[b - 1]).unwrap());
                sigs[b] = sigs[b].combine(&times(&x, r[a - 1]).unwrap().negate().unwrap());
            } else {
                sigs[pair[0]] = sigs[pair[0]].combine(&x);
            }
        }
        m.handle(Timestamp::ZERO, Input::Timeout).unwrap();
        for (u, &signature) in sigs.iter().enumerate().skip(1) {
            let agg = Aggregate { signers: Arc::new(SignerVector::singleton(n, u).unwrap()), signature };
            m.handle(Timestamp(20), Input::Message { from: u, msg: GossipMessage::new(2, agg) }).unwrap();
        }
        let mut accused = Vec::new();
        for round in 1..4u64 {
            m.handle(Timestamp(200 * round), Input::Timeout).unwrap();
            while let Some(o) = m.poll_output() {
                match o {
                    Output::Event(Event::Finalized { aggregate, .. }) => {
                        prop_assert!(aggregate.verify(&keys, &message).unwrap());
                    }
                    Output::Send { msg, .. } => prop_assert!(msg.aggregate().verify(&keys, &message).unwrap()),
                    Output::Misbehaviour(mb) => accused.push(mb.from),
                }
            }
            prop_assert!(m.aggregate().unwrap().verify(&keys, &message).unwrap());
        }
        accused.sort_unstable();
        prop_assert_eq!(accused, bad.clone(), "every Byzantine piece is invalid and named; no honest one is");
        prop_assert_eq!(m.stats().merge_check_failures, 0, "the keyed batch weights caught every piece");
        let honest = n - bad.len();
        prop_assert_eq!(m.finalized_round().is_some(), 3 * honest > 2 * n);
    }
}
