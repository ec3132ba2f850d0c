//! Orchestrator selection: a multiplicative score from price, measured latency, stake and
//! past success, with stickiness while the current orchestrator keeps up with real time
//! (DESIGN.md section 4.6, **[beyond]** Livepeer's additive mix).
//!
//! # The score
//!
//! For a candidate `i` among the candidates `C` (cheapest price `p_min`, fastest latency
//! `l_min`, largest stake `s_max`):
//!
//! ```text
//! score_i = (p_min / p_i)^α                          price: 1 for the cheapest
//!         · ((l_min + L) / (l_i + L))^γ              latency, softened by L ms
//!         · (f + (1 − f) · s_i / s_max)              stake: in [f, 1]
//!         · ((ok_i + 1) / (ok_i + failed_i + 2))^δ   success (Laplace estimate)
//!         · (ε if l_i > real time)                   cannot keep up: last resort
//! ```
//!
//! Every factor is at most 1, and the stake factor is at least the floor `f`. So a
//! candidate `k` times pricier than the cheapest scores at most `k^−α`, whatever its stake,
//! while the cheapest scores at least `f` times its other factors: stake alone can buy a
//! price premium of at most `f^(−1/α)` (with the defaults α = 4, f = 0.8: 5.7 %). In
//! Livepeer's additive mix (`w_s · stake share + w_p · price term`) a large enough stake
//! share outweighs any price term, so an expensive, well-staked node wins; the market
//! scenario's table in `docs/orchestration.md` shows the cost of that.
//!
//! # Stickiness
//!
//! Switching costs a fresh session (and, for video, a keyframe-aligned restart), so the
//! current orchestrator is kept while it keeps up with real time (its measured latency is
//! at most the segment duration) and its score is at least `sticky_ratio` of the best.
//!
//! # Cost
//!
//! [`Selector::select`] makes two passes over the candidates (aggregates, then the best
//! score) with integer powers only, no allocation and no sort: O(n). [`select_naive`] is
//! the baseline (score every candidate into a vector and sort it); the bench
//! `orchestration_select` compares the two on 1,000 candidates.

use primitives::U256;

/// One orchestrator as the selector sees it. All inputs are plain values, so the
/// selector does not depend on the registry's or the staking module's types.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Candidate {
    /// The host's id for it (returned by [`Selector::select`] as an index instead).
    pub id: u64,
    /// Price per unit of work (wei per unit, as a float for scoring only).
    pub price: f64,
    /// Measured response time, milliseconds (discovery round trip, then an average of
    /// segment round trips).
    pub latency_ms: u64,
    /// Stake bonded to it, base units.
    pub stake: U256,
    /// Segments it delivered and that passed verification.
    pub successes: u32,
    /// Segments it failed (timeout, refusal, failed verification).
    pub failures: u32,
}

/// Which score ranks the candidates.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ScoreRule {
    /// The multiplicative score of the module docs (the default).
    Multiplicative,
    /// Livepeer's additive mix ([`additive_score`]), for comparison runs only.
    Additive {
        /// Weight of the stake share; the price term gets `1 − stake_weight`.
        stake_weight: f64,
    },
}

/// Selection settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SelectionConfig {
    /// The score used (multiplicative unless comparing).
    pub rule: ScoreRule,
    /// α: exponent of the price factor (integer, so scoring needs no `powf`).
    pub price_exp: i32,
    /// γ: exponent of the latency factor.
    pub latency_exp: i32,
    /// L: milliseconds added to both latencies, so a few ms of difference between fast
    /// nodes does not outweigh price.
    pub latency_softening_ms: u64,
    /// f: the stake factor's floor in `[0, 1]`; the unstaked get `f`, the largest stake 1.
    pub stake_floor: f64,
    /// δ: exponent of the success factor.
    pub success_exp: i32,
    /// Real time: a candidate slower than this cannot keep up with the stream (the
    /// segment duration, ms).
    pub realtime_ms: u64,
    /// ε: multiplier of the score of a candidate that cannot keep up.
    pub slow_penalty: f64,
    /// Keep the current orchestrator while it keeps up and scores at least this share of
    /// the best score.
    pub sticky_ratio: f64,
}

impl Default for SelectionConfig {
    fn default() -> Self {
        SelectionConfig {
            rule: ScoreRule::Multiplicative,
            price_exp: 4,
            latency_exp: 1,
            latency_softening_ms: 2_000,
            stake_floor: 0.8,
            success_exp: 2,
            realtime_ms: 2_000,
            slow_penalty: 1e-6,
            sticky_ratio: 0.9,
        }
    }
}

/// A `U256` as the nearest `f64` (for scoring only).
pub fn u256_to_f64(x: U256) -> f64 {
    let bits = x.bits();
    if bits <= 128 {
        x.low_u128() as f64
    } else {
        let shift = bits - 128;
        (x >> shift).low_u128() as f64 * 2f64.powi(shift as i32)
    }
}

/// What the score of one candidate is relative to: the set's best price, latency and
/// stake.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Aggregates {
    /// Lowest price.
    pub min_price: f64,
    /// Lowest latency, ms.
    pub min_latency_ms: u64,
    /// Largest stake, as a float.
    pub max_stake: f64,
    /// Sum of the stakes, as a float (for the additive mix's stake share).
    pub total_stake: f64,
}

impl Aggregates {
    /// The aggregates of `cands` (`None` when empty).
    pub fn of(cands: &[Candidate]) -> Option<Self> {
        let first = cands.first()?;
        let mut a = Aggregates {
            min_price: first.price,
            min_latency_ms: first.latency_ms,
            max_stake: u256_to_f64(first.stake),
            total_stake: u256_to_f64(first.stake),
        };
        for c in &cands[1..] {
            let stake = u256_to_f64(c.stake);
            a.min_price = a.min_price.min(c.price);
            a.min_latency_ms = a.min_latency_ms.min(c.latency_ms);
            a.max_stake = a.max_stake.max(stake);
            a.total_stake += stake;
        }
        Some(a)
    }
}

/// The multiplicative selector.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Selector {
    config: SelectionConfig,
}

impl Selector {
    /// A selector with these settings.
    pub fn new(config: SelectionConfig) -> Self {
        Selector { config }
    }

    /// The settings.
    pub fn config(&self) -> &SelectionConfig {
        &self.config
    }

    /// Whether `c` keeps up with real time.
    pub fn keeps_up(&self, c: &Candidate) -> bool {
        c.latency_ms <= self.config.realtime_ms
    }

    /// The score of `c` against the set's aggregates (see the module docs), in `[0, 1]`.
    pub fn score(&self, c: &Candidate, agg: &Aggregates) -> f64 {
        let k = &self.config;
        if let ScoreRule::Additive { stake_weight } = k.rule {
            let s = additive_score(c, agg, agg.total_stake, stake_weight);
            return if self.keeps_up(c) { s } else { s * k.slow_penalty };
        }
        let price = if c.price <= 0.0 { 1.0 } else { (agg.min_price.max(0.0) / c.price).min(1.0) };
        let soft = k.latency_softening_ms as f64;
        let latency = ((agg.min_latency_ms as f64 + soft) / (c.latency_ms as f64 + soft).max(1.0)).min(1.0);
        let floor = k.stake_floor.clamp(0.0, 1.0);
        let share = if agg.max_stake > 0.0 { (u256_to_f64(c.stake) / agg.max_stake).min(1.0) } else { 1.0 };
        let stake = floor + (1.0 - floor) * share;
        let ok = f64::from(c.successes);
        let success = (ok + 1.0) / (ok + f64::from(c.failures) + 2.0);
        let mut s =
            price.powi(k.price_exp) * latency.powi(k.latency_exp) * stake * success.powi(k.success_exp);
        if !self.keeps_up(c) {
            s *= k.slow_penalty;
        }
        s
    }

    /// The index of the candidate to use, or `None` when `cands` is empty. `current` is
    /// the index of the orchestrator in use, if any: it is kept while it keeps up with
    /// real time and scores at least `sticky_ratio` of the best. Ties go to the lower
    /// index, so the choice is deterministic.
    pub fn select(&self, cands: &[Candidate], current: Option<usize>) -> Option<usize> {
        let agg = Aggregates::of(cands)?;
        let mut best = 0usize;
        let mut best_score = f64::NEG_INFINITY;
        for (i, c) in cands.iter().enumerate() {
            let s = self.score(c, &agg);
            if s > best_score {
                best = i;
                best_score = s;
            }
        }
        if let Some(cur) = current.filter(|&i| i < cands.len()) {
            let c = &cands[cur];
            if self.keeps_up(c) && self.score(c, &agg) >= self.config.sticky_ratio * best_score {
                return Some(cur);
            }
        }
        Some(best)
    }
}

/// The baseline: score every candidate into a vector, sort it by score (descending, ties
/// by index) and take the first. Same result as [`Selector::select`] without stickiness.
pub fn select_naive(selector: &Selector, cands: &[Candidate]) -> Option<usize> {
    let agg = Aggregates::of(cands)?;
    let mut scored: Vec<(f64, usize)> =
        cands.iter().enumerate().map(|(i, c)| (selector.score(c, &agg), i)).collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    scored.first().map(|&(_, i)| i)
}

/// Livepeer's additive mix, for comparison only (go-livepeer's probability selection:
/// `stake_weight · stake share + price_weight · price term`, here with the price term
/// `p_min / p_i` and no random part): the highest sum wins. It is what lets an
/// expensive, well-staked node win; the market scenario's `--selector additive` uses it.
pub fn additive_score(c: &Candidate, agg: &Aggregates, total_stake: f64, stake_weight: f64) -> f64 {
    let share = if total_stake > 0.0 { u256_to_f64(c.stake) / total_stake } else { 0.0 };
    let price = if c.price <= 0.0 { 1.0 } else { (agg.min_price / c.price).min(1.0) };
    stake_weight * share + (1.0 - stake_weight) * price
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cand(id: u64, price: f64, latency_ms: u64, stake: u64) -> Candidate {
        Candidate { id, price, latency_ms, stake: U256::from(stake), successes: 0, failures: 0 }
    }

    #[test]
    fn stake_cannot_buy_more_than_the_documented_premium() {
        let s = Selector::new(SelectionConfig::default());
        // f^(-1/α) = 0.8^(-1/4) = 1.0574: 5 % pricier with all the stake wins, 6 % loses.
        for (premium, rich_wins) in [(1.05, true), (1.06, false), (2.0, false)] {
            let cands = [cand(0, 100.0, 100, 0), cand(1, 100.0 * premium, 100, 1_000_000_000)];
            assert_eq!(s.select(&cands, None) == Some(1), rich_wins, "premium {premium}");
        }
        // The additive mix lets the same rich node win at twice the price.
        let cands = [cand(0, 100.0, 100, 1), cand(1, 200.0, 100, 1_000_000_000)];
        let agg = Aggregates::of(&cands).unwrap();
        let total = 1_000_000_001.0;
        assert!(additive_score(&cands[1], &agg, total, 0.7) > additive_score(&cands[0], &agg, total, 0.7));
        assert_eq!(s.select(&cands, None), Some(0));
    }

    #[test]
    fn slow_and_failing_candidates_lose() {
        let s = Selector::new(SelectionConfig::default());
        let cands = [cand(0, 100.0, 2_500, 10), cand(1, 130.0, 300, 10)];
        assert_eq!(s.select(&cands, None), Some(1), "a node that cannot keep up is a last resort");
        let mut failing = cand(0, 100.0, 100, 10);
        failing.failures = 3;
        let cands = [failing, cand(1, 110.0, 100, 10)];
        assert_eq!(s.select(&cands, None), Some(1));
        let mut proven = cand(0, 100.0, 100, 10);
        proven.successes = 50;
        let cands = [proven, cand(1, 100.0, 100, 10)];
        assert_eq!(s.select(&cands, None), Some(0));
    }

    #[test]
    fn sticks_while_keeping_up_and_close_to_the_best() {
        let s = Selector::new(SelectionConfig::default());
        let cands = [cand(0, 100.0, 100, 10), cand(1, 102.0, 100, 10)];
        assert_eq!(s.select(&cands, Some(1)), Some(1), "2 % pricier: kept");
        let cands = [cand(0, 100.0, 100, 10), cand(1, 120.0, 100, 10)];
        assert_eq!(s.select(&cands, Some(1)), Some(0), "20 % pricier: switched");
        let cands = [cand(0, 100.0, 100, 10), cand(1, 100.0, 2_100, 10)];
        assert_eq!(s.select(&cands, Some(1)), Some(0), "no longer keeps up: switched");
        assert_eq!(s.select(&[], None), None);
        assert_eq!(s.select(&cands, Some(7)), Some(0), "an out-of-range current is ignored");
    }

    #[test]
    fn fast_selection_equals_the_naive_baseline() {
        let s = Selector::new(SelectionConfig::default());
        let mut x = 0x1234_5678_9abc_def0u64;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for n in [1usize, 2, 10, 200] {
            let cands: Vec<Candidate> = (0..n)
                .map(|i| Candidate {
                    id: i as u64,
                    price: 50.0 + (next() % 100) as f64,
                    latency_ms: next() % 3_000,
                    stake: U256::from(next() % 1_000_000),
                    successes: (next() % 20) as u32,
                    failures: (next() % 3) as u32,
                })
                .collect();
            assert_eq!(s.select(&cands, None), select_naive(&s, &cands), "n = {n}");
        }
    }

    #[test]
    fn u256_conversion_is_close() {
        assert_eq!(u256_to_f64(U256::from(12345u64)), 12345.0);
        let big = U256::from(3u8) << 200;
        let f = u256_to_f64(big);
        assert!((f / (3.0 * 2f64.powi(200)) - 1.0).abs() < 1e-12);
        assert!(u256_to_f64(U256::MAX) > 1e77);
    }
}
