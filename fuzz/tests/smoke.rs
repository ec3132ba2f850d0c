//! Runs every fuzz harness body over seeded random and mutated inputs. A failure prints
//! the harness and the seed; rerun it with the same seed to reproduce.

use meshcast_fuzz::{bls_gossip_targets, primitives_targets, smoke};

#[test]
fn primitives_decoders_never_panic() {
    let seeds = primitives_targets::seeds();
    assert!(smoke(primitives_targets::signature, &seeds, 3_000, 1) > 3_000);
    assert!(smoke(primitives_targets::frame, &seeds, 3_000, 2) > 3_000);
}

#[test]
fn bls_gossip_decoders_never_panic() {
    let seeds = bls_gossip_targets::seeds();
    assert!(smoke(bls_gossip_targets::aggregate_message, &seeds, 3_000, 3) > 3_000);
    assert!(smoke(bls_gossip_targets::signer_vector, &seeds, 3_000, 4) > 3_000);
}
