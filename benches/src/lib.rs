//! Criterion benchmarks for the meshcast workspace live in `benches/benches/`, one file
//! per crate; run them with `cargo bench -p meshcast-benches --bench <name>`. Figures and
//! the commands that produced them are recorded in `docs/benchmarks.md`.
//!
//! Every bench group reports a protocol operation next to a baseline measured in the same
//! process (a naive implementation, or the well-known crate we compete with), so the
//! ratio holds even on a noisy machine.

// Benchmarks read the clock; that is their job.
#![allow(clippy::disallowed_methods)]

use std::time::Instant;

/// Load-robust ratio of two operations: the median over `rounds` of
/// `baseline time / op time`, each round timing `n` baseline runs and `n` op runs back to
/// back (alternating which goes first). On a shared machine, load that drifts between
/// criterion's separate groups cancels out of each round's ratio. `i` in `0..n` is passed
/// to both closures. A value above 1 means `op` is faster than `baseline`.
pub fn paired(rounds: usize, n: usize, mut baseline: impl FnMut(usize), mut op: impl FnMut(usize)) -> f64 {
    let mut ratios: Vec<f64> = (0..rounds)
        .map(|r| {
            let time = |f: &mut dyn FnMut(usize)| {
                let t = Instant::now();
                for i in 0..n {
                    f(i);
                }
                t.elapsed().as_secs_f64()
            };
            let (tb, to) = if r % 2 == 0 {
                let tb = time(&mut baseline);
                (tb, time(&mut op))
            } else {
                let to = time(&mut op);
                (time(&mut baseline), to)
            };
            tb / to
        })
        .collect();
    ratios.sort_by(f64::total_cmp);
    ratios[rounds / 2]
}
