//! Runs every fuzz harness body over seeded random and mutated inputs. A failure prints
//! the harness and the seed; rerun it with the same seed to reproduce.

use meshcast_fuzz::{mpt_refcount_targets, primitives_targets, smoke};

#[test]
fn primitives_decoders_never_panic() {
    let seeds = primitives_targets::seeds();
    assert!(smoke(primitives_targets::signature, &seeds, 3_000, 1) > 3_000);
    assert!(smoke(primitives_targets::frame, &seeds, 3_000, 2) > 3_000);
}

#[test]
fn mpt_refcount_decoders_never_panic() {
    let seeds = mpt_refcount_targets::seeds();
    assert!(smoke(mpt_refcount_targets::node, &seeds, 5_000, 3) > 5_000);
    assert!(smoke(mpt_refcount_targets::proof, &seeds, 5_000, 4) > 5_000);
}
