//! Link models: latency distributions, jitter, loss, duplication and reordering.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// A one-way latency distribution, in milliseconds.
#[derive(Clone, Debug, PartialEq)]
pub enum Latency {
    /// Always the same delay.
    Constant(u64),
    /// Uniform on `[min_ms, max_ms]` (inclusive).
    Uniform {
        /// Smallest delay.
        min_ms: u64,
        /// Largest delay.
        max_ms: u64,
    },
    /// Normal with the given mean and standard deviation, clamped at zero.
    Normal {
        /// Mean delay.
        mean_ms: f64,
        /// Standard deviation.
        std_ms: f64,
    },
    /// Exponential with the given mean.
    Exponential {
        /// Mean delay.
        mean_ms: f64,
    },
}

impl Latency {
    /// Draws one delay.
    pub fn sample(&self, rng: &mut ChaCha8Rng) -> u64 {
        match *self {
            Latency::Constant(ms) => ms,
            Latency::Uniform { min_ms, max_ms } => {
                if max_ms <= min_ms {
                    min_ms
                } else {
                    rng.random_range(min_ms..=max_ms)
                }
            }
            Latency::Normal { mean_ms, std_ms } => {
                // Box–Muller; one draw per call keeps the RNG stream simple to reason about.
                let u1: f64 = 1.0 - rng.random::<f64>(); // (0, 1]
                let u2: f64 = rng.random::<f64>();
                let z = (-2.0 * u1.ln()).sqrt() * (2.0 * core::f64::consts::PI * u2).cos();
                to_millis(mean_ms + std_ms * z)
            }
            Latency::Exponential { mean_ms } => {
                let u: f64 = 1.0 - rng.random::<f64>(); // (0, 1]
                to_millis(-mean_ms * u.ln())
            }
        }
    }

    /// The distribution's mean in milliseconds (before jitter, reordering and clamping).
    pub fn mean_ms(&self) -> f64 {
        match *self {
            Latency::Constant(ms) => ms as f64,
            Latency::Uniform { min_ms, max_ms } => (min_ms as f64 + max_ms.max(min_ms) as f64) / 2.0,
            Latency::Normal { mean_ms, .. } => mean_ms,
            Latency::Exponential { mean_ms } => mean_ms,
        }
    }
}

fn to_millis(x: f64) -> u64 {
    if x.is_finite() && x > 0.0 { x.round() as u64 } else { 0 }
}

/// Everything that happens to a message on one directed link.
///
/// Order of effects for each message: lost with probability `loss`; otherwise delivered
/// after `latency + U[0, jitter_ms]`, plus `U[1, reorder_delay_ms]` more with probability
/// `reorder` (so it overtakes nothing but is overtaken by later messages); and, with
/// probability `duplicate`, delivered a second time with an independently drawn delay.
#[derive(Clone, Debug, PartialEq)]
pub struct LinkConfig {
    /// Base one-way latency.
    pub latency: Latency,
    /// Extra uniform delay in `[0, jitter_ms]`.
    pub jitter_ms: u64,
    /// Probability that a message is lost.
    pub loss: f64,
    /// Probability that a delivered message is delivered twice.
    pub duplicate: f64,
    /// Probability that a message is held back by an extra delay.
    pub reorder: f64,
    /// Upper bound of the extra hold-back delay of a reordered message.
    pub reorder_delay_ms: u64,
}

impl Default for LinkConfig {
    /// 50 ms constant latency, no faults.
    fn default() -> Self {
        LinkConfig {
            latency: Latency::Constant(50),
            jitter_ms: 0,
            loss: 0.0,
            duplicate: 0.0,
            reorder: 0.0,
            reorder_delay_ms: 100,
        }
    }
}

impl LinkConfig {
    /// A fault-free link with constant latency.
    pub fn constant(ms: u64) -> Self {
        LinkConfig { latency: Latency::Constant(ms), ..LinkConfig::default() }
    }

    /// Draws the delivery delays of one message: empty if lost, two entries if duplicated.
    pub(crate) fn deliveries(&self, rng: &mut ChaCha8Rng) -> Deliveries {
        if self.loss > 0.0 && rng.random_bool(self.loss.clamp(0.0, 1.0)) {
            return Deliveries::Lost;
        }
        let first = self.one_delay(rng);
        if self.duplicate > 0.0 && rng.random_bool(self.duplicate.clamp(0.0, 1.0)) {
            Deliveries::Twice(first, self.one_delay(rng))
        } else {
            Deliveries::Once(first)
        }
    }

    fn one_delay(&self, rng: &mut ChaCha8Rng) -> u64 {
        let mut d = self.latency.sample(rng);
        if self.jitter_ms > 0 {
            d = d.saturating_add(rng.random_range(0..=self.jitter_ms));
        }
        if self.reorder > 0.0 && rng.random_bool(self.reorder.clamp(0.0, 1.0)) {
            d = d.saturating_add(rng.random_range(1..=self.reorder_delay_ms.max(1)));
        }
        d
    }
}

/// The fate of one message on a link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Deliveries {
    Lost,
    Once(u64),
    Twice(u64, u64),
}
