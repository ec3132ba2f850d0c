//! Runs every fuzz harness body over seeded random and mutated inputs. A failure prints
//! the harness and the seed; rerun it with the same seed to reproduce.

use meshcast_fuzz::{primitives_targets, smoke, tracker_geo_targets};

#[test]
fn primitives_decoders_never_panic() {
    let seeds = primitives_targets::seeds();
    assert!(smoke(primitives_targets::signature, &seeds, 3_000, 1) > 3_000);
    assert!(smoke(primitives_targets::frame, &seeds, 3_000, 2) > 3_000);
}

#[test]
fn tracker_geo_decoders_and_handlers_never_panic() {
    let seeds = tracker_geo_targets::seeds();
    assert!(smoke(tracker_geo_targets::message, &seeds, 3_000, 11) > 3_000);
    assert!(smoke(tracker_geo_targets::tracker_service, &seeds, 2_000, 12) > 2_000);
    assert!(smoke(tracker_geo_targets::client, &seeds, 2_000, 13) > 2_000);
}
