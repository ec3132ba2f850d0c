//! Runs every fuzz harness body over seeded random and mutated inputs. A failure prints
//! the harness and the seed; rerun it with the same seed to reproduce.

use meshcast_fuzz::{primitives_targets, smoke, transcode_verify_targets};

#[test]
fn primitives_decoders_never_panic() {
    let seeds = primitives_targets::seeds();
    assert!(smoke(primitives_targets::signature, &seeds, 3_000, 1) > 3_000);
    assert!(smoke(primitives_targets::frame, &seeds, 3_000, 2) > 3_000);
}

#[test]
fn transcode_verify_decoders_never_panic() {
    let seeds = transcode_verify_targets::seeds();
    assert!(smoke(transcode_verify_targets::claim, &seeds, 3_000, 11) > 3_000);
    assert!(smoke(transcode_verify_targets::evidence, &seeds, 3_000, 12) > 3_000);
}
