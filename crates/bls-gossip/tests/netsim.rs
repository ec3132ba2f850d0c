//! The gossip on netsim: a small run with real BLS, larger ones with fake crypto, with
//! Byzantine guardians and loss; determinism of whole runs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bls_gossip::sim::{Byzantine, Experiment, Setup, random_regular_graph, run};
use bls_gossip::{Bls, Config, FakeScheme};
use netsim::Latency;

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
    for kind in [Byzantine::Silent, Byzantine::Invalid, Byzantine::Forged] {
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
