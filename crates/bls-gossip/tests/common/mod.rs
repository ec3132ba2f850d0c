//! Helpers shared by the integration tests.
#![allow(dead_code)]

use bls_gossip::bls::Signature;

/// `k·p` by double-and-add over `Signature::combine` (`None` for `k = 0`).
pub fn times(p: &Signature, k: u64) -> Option<Signature> {
    let mut acc: Option<Signature> = None;
    for bit in (0..64).rev() {
        acc = acc.map(|a| a.combine(&a));
        if k >> bit & 1 == 1 {
            acc = Some(acc.map_or(*p, |a| a.combine(p)));
        }
    }
    acc
}
