//! Properties: signer vectors against a plain-counts model, the canonical encoding, and
//! the gossip's safety under Byzantine peers (netsim, fake crypto).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use bls_gossip::sim::{Byzantine, Experiment, Setup, run};
use bls_gossip::{
    Aggregate, Config, Context, Event, FakeScheme, GossipMachine, GossipMessage, Input, Output, Scheme,
    SignerVector, checkpoint_message,
};
use primitives::Timestamp;
use proptest::prelude::*;

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
    /// (silence, invalid or inflated aggregates), every honest `Finalized` carries a
    /// valid aggregate over more than 2/3 of stake, and no honest guardian is accused.
    #[test]
    fn honest_finality_is_always_backed_by_a_valid_quorum(
        seed in any::<u64>(),
        n in 20usize..80,
        byz in 0.0f64..0.33,
        kind in prop_oneof![Just(Byzantine::Silent), Just(Byzantine::Invalid), Just(Byzantine::Forged)],
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
        };
        let out = run(&setup, &e).unwrap();
        prop_assert_eq!(out.safety_violations, 0, "seed {}", seed);
        prop_assert_eq!(out.false_accusations, 0, "seed {}", seed);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Safety of one machine against arbitrary peer input: random signer vectors with
    /// random (mostly invalid) signatures, some valid pieces, in any order.
    #[test]
    fn one_machine_never_finalizes_without_a_valid_quorum(
        msgs in proptest::collection::vec((1usize..7, counts(7), any::<u64>(), any::<bool>()), 1..40),
    ) {
        type S = FakeScheme;
        let pairs: Vec<_> = (0..7u8).map(|i| S::keypair(&[i + 1; 32]).unwrap()).collect();
        let set = Arc::new(bls_gossip::GuardianSet::<S>::equal_stake(pairs.iter().map(|p| p.1).collect()).unwrap());
        let message: Arc<[u8]> = checkpoint_message(1, &[0; 32], &[0; 32]).into();
        let ctx = Context::new(1, set.clone(), message.clone(), Some((0, S::sign(&pairs[0].0, &message))), (1..7).collect()).unwrap();
        let mut m = GossipMachine::new(Config::default(), ctx, Timestamp::ZERO, [0; 32]);
        let mut now = 0u64;
        for (k, (from, c, junk, honest)) in msgs.into_iter().enumerate() {
            let signers = SignerVector::from_counts(&c);
            let signature = if honest {
                // A valid aggregate for the claimed multiplicities.
                signers.iter().fold(bls_gossip::FakeSignature(0), |acc, (u, cnt)| {
                    (0..cnt).fold(acc, |a, _| S::combine(&a, &S::sign(&pairs[u].0, &message)))
                })
            } else {
                bls_gossip::FakeSignature(junk)
            };
            let msg = GossipMessage::new(1, Aggregate { signers: Arc::new(signers), signature });
            let _ = m.handle(Timestamp(now), Input::Message { from, msg });
            if k % 3 == 2 {
                now += 200;
                m.handle(Timestamp(now), Input::Timeout).unwrap();
            }
            while let Some(o) = m.poll_output() {
                if let Output::Event(Event::Finalized { aggregate, .. }) = o {
                    prop_assert!(aggregate.verify(set.keys(), &message).unwrap());
                    prop_assert!(set.is_quorum(&aggregate.signers));
                }
            }
            if let Some(a) = m.aggregate() {
                prop_assert!(a.verify(set.keys(), &message).unwrap(), "our aggregate is always valid");
                prop_assert!(a.signers.max_count() <= Config::default().max_multiplicity);
            }
        }
    }
}
