//! The gossip on netsim: a small run with real BLS, larger ones with fake crypto, with
//! Byzantine guardians and loss; determinism of whole runs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bls_gossip::sim::{
    Byzantine, Experiment, Knowledge, Setup, behaviour, machine_seed, random_regular_graph, run,
};
use bls_gossip::{Bls, Config, FakeScheme, GossipMessage, SignerVector, bls};
use netsim::{Behaviour, Dest, Latency, Outgoing};
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::SeedableRng;

fn experiment(degree: usize, byz: f64, kind: Byzantine, loss: f64, seed: u64) -> Experiment {
    Experiment {
        degree,
        byzantine_fraction: byz,
        byzantine: kind,
        loss,
        latency: Latency::Uniform { min_ms: 20, max_ms: 150 },
        config: Config::default(),
        seed,
        max_rounds: 20,
        check_safety: true,
        machine_secret: None,
    }
}

#[test]
fn random_regular_graphs_are_simple_and_regular() {
    for (n, d) in [(10, 3), (100, 20), (1000, 20)] {
        let g = random_regular_graph(n, d, 5).unwrap();
        for (v, adj) in g.iter().enumerate() {
            assert_eq!(adj.len(), d);
            assert!(!adj.contains(&v));
            assert!(adj.windows(2).all(|w| w[0] < w[1]));
            assert!(adj.iter().all(|&u| g[u].contains(&v)));
        }
    }
    assert!(random_regular_graph(5, 3, 1).is_err());
}

#[test]
fn real_bls_small_network_finalizes_with_byzantine_forgers() {
    let setup = Setup::<Bls>::new(24, b"checkpoint 24").unwrap();
    let out = run(&setup, &experiment(6, 0.25, Byzantine::Forged, 0.05, 3)).unwrap();
    assert_eq!(out.finalized, out.honest, "{out:?}");
    assert_eq!(out.safety_violations, 0);
    assert_eq!(out.false_accusations, 0);
    assert!(out.accusations > 0, "forgers next to honest nodes are reported");
}

#[test]
fn fake_crypto_thousand_guardians_finalize_in_three_rounds() {
    let setup = Setup::<FakeScheme>::new(1000, b"checkpoint").unwrap();
    let out = run(&setup, &experiment(20, 0.0, Byzantine::Silent, 0.0, 1)).unwrap();
    assert_eq!(out.finalized, 1000);
    assert!(out.max_round.is_some_and(|r| r <= 3), "{:?}", out.max_round);
    assert!(out.median_size() <= 1024, "median {}", out.median_size());
    assert_eq!(out.safety_violations, 0);
}

#[test]
fn fake_crypto_byzantine_and_loss_within_five_rounds() {
    let setup = Setup::<FakeScheme>::new(300, b"checkpoint").unwrap();
    for kind in Byzantine::ALL {
        let out = run(&setup, &experiment(20, 0.3, kind, 0.05, 2)).unwrap();
        assert_eq!(out.finalized, out.honest, "{kind:?}");
        assert!(out.max_round.is_some_and(|r| r <= 5), "{kind:?}: {:?}", out.max_round);
        assert_eq!(out.safety_violations + out.false_accusations, 0);
    }
}

#[test]
fn runs_are_deterministic() {
    let setup = Setup::<FakeScheme>::new(200, b"checkpoint").unwrap();
    let e = experiment(8, 0.2, Byzantine::Invalid, 0.1, 9);
    let (a, b) = (run(&setup, &e).unwrap(), run(&setup, &e).unwrap());
    assert_eq!(a.sizes, b.sizes);
    assert_eq!(a.max_round, b.max_round);
    assert_eq!(a.accusations, b.accusations);
}

/// The `PredictedWeights` adversary is a real threat to predictable weights: against the
/// weights `ChaCha8Rng::from_seed(seed)` would give a victim's first batch, the pieces its
/// Byzantine neighbours send it pass the batch check although each fails verification.
#[test]
fn predicted_weight_pieces_pass_a_batch_weighted_from_the_known_seed() {
    let n = 16;
    let setup = Setup::<Bls>::new(n, b"checkpoint 16").unwrap();
    let graph = random_regular_graph(n, 4, 11).unwrap();
    let victim = 0;
    let mut byzantine = vec![false; n];
    byzantine[graph[victim][0]] = true;
    byzantine[graph[victim][2]] = true;
    let knows = Knowledge {
        graph: graph.clone(),
        byzantine: byzantine.clone(),
        believed_seeds: (0..n).map(|i| machine_seed(5, i, None)).collect(),
    };
    let mut pieces = Vec::new();
    for &u in &graph[victim] {
        let own = GossipMessage::new(
            1,
            bls_gossip::Aggregate {
                signers: std::sync::Arc::new(SignerVector::singleton(n, u).unwrap()),
                signature: setup.signatures[u],
            },
        );
        let sent = if byzantine[u] {
            let Behaviour::Forge(mut forge) = behaviour(Byzantine::PredictedWeights, &setup, u, &knows)
            else {
                panic!("a forger")
            };
            let out = forge(
                &mut ChaCha8Rng::seed_from_u64(0),
                u,
                Outgoing { to: Dest::Many(vec![victim]), msg: own },
            );
            assert_eq!(out.len(), 1);
            assert!(matches!(out[0].to, Dest::To(v) if v == victim));
            out[0].msg.clone()
        } else {
            own
        };
        let agg = sent.aggregate().clone();
        assert_eq!(agg.verify(setup.guardians.keys(), &setup.message).unwrap(), !byzantine[u]);
        pieces.push(agg);
    }
    let items: Vec<_> = pieces.iter().map(|a| (&*a.signers, &a.signature)).collect();
    let keys = setup.guardians.keys();
    let mut predicted = ChaCha8Rng::from_seed(knows.believed_seeds[victim]);
    assert!(bls::batch_verify(keys, &setup.message, &items, &mut predicted).unwrap());
    assert!(!bls::batch_verify(keys, &setup.message, &items, &mut ChaCha8Rng::seed_from_u64(1)).unwrap());
}

/// Real BLS, 16 guardians, a quarter of them Byzantine in coordinated pairs: every honest
/// guardian finalizes a valid quorum aggregate, and only Byzantine guardians are named.
#[test]
fn real_bls_coordinated_adversaries_cannot_break_safety() {
    let setup = Setup::<Bls>::new(16, b"checkpoint 16").unwrap();
    for kind in [Byzantine::Cancelling, Byzantine::Inflated, Byzantine::PredictedWeights] {
        let out = run(&setup, &experiment(6, 0.25, kind, 0.0, 4)).unwrap();
        assert_eq!(out.safety_violations, 0, "{kind:?}");
        assert_eq!(out.false_accusations, 0, "{kind:?}");
        assert_eq!(out.finalized, out.honest, "{kind:?}: {out:?}");
        assert!(out.accusations > 0, "{kind:?}: invalid pieces next to honest nodes are reported");
    }
}

/// Secret machine seeds: same outcome shape, and the run still finalizes safely.
#[test]
fn secret_machine_seeds_change_the_seeds_not_the_safety() {
    assert_ne!(machine_seed(3, 1, None), machine_seed(3, 1, Some(&[9; 32])));
    assert_ne!(machine_seed(3, 1, Some(&[9; 32])), machine_seed(3, 2, Some(&[9; 32])));
    let setup = Setup::<FakeScheme>::new(200, b"checkpoint").unwrap();
    let mut e = experiment(8, 0.3, Byzantine::PredictedWeights, 0.05, 6);
    e.machine_secret = Some([42; 32]);
    let out = run(&setup, &e).unwrap();
    assert_eq!(out.finalized, out.honest);
    assert_eq!(out.safety_violations + out.false_accusations, 0);
}
