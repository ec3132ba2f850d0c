//! Frame-rate conversion by nearest-slot selection (FFmpeg `fps` filter semantics).

use std::ops::Range;

/// Maps input frames with timestamps to a constant output rate: output slot `n` covers
/// time `t0 + n/fps`; an input frame at time `t` lands in slot `round((t - t0)·fps)`.
/// When several frames land in one slot the last one wins (drops); empty slots repeat the
/// previous frame (duplicates). Items are emitted lazily, so a frame that is dropped is
/// never scaled or encoded.
#[derive(Debug)]
pub struct FpsConverter<T> {
    num: u64,
    den: u64,
    t0_us: Option<i64>,
    next_out: u64,
    pending: Option<(u64, T)>,
}

impl<T> FpsConverter<T> {
    /// A converter to `num/den` frames per second.
    pub fn new(num: u32, den: u32) -> Self {
        Self {
            num: u64::from(num.max(1)),
            den: u64::from(den.max(1)),
            t0_us: None,
            next_out: 0,
            pending: None,
        }
    }

    fn slot(&self, t_us: i64) -> u64 {
        let t0 = self.t0_us.unwrap_or(t_us);
        let dt = u128::from(t_us.saturating_sub(t0).max(0).unsigned_abs());
        let n = dt * u128::from(self.num) * 2 + u128::from(self.den) * 1_000_000;
        let d = u128::from(self.den) * 2_000_000;
        u64::try_from(n / d).unwrap_or(u64::MAX)
    }

    /// Feeds a frame with presentation time `t_us`. Returns the previously pending frame
    /// and the output slots it fills, if this frame closes them.
    pub fn push(&mut self, t_us: i64, item: T) -> Option<(T, Range<u64>)> {
        if self.t0_us.is_none() {
            self.t0_us = Some(t_us);
        }
        let s = self.slot(t_us).max(self.next_out);
        match self.pending.take() {
            Some((ps, prev)) if s > ps => {
                self.pending = Some((s, item));
                let start = self.next_out.max(ps);
                self.next_out = s;
                Some((prev, start..s))
            }
            Some((ps, _dropped)) => {
                self.pending = Some((ps, item));
                None
            }
            None => {
                self.pending = Some((s, item));
                None
            }
        }
    }

    /// Ends the input at `end_us` (the time just after the last frame): the pending frame
    /// fills the slots up to `round((end - t0)·fps)` (at least its own slot).
    pub fn finish(&mut self, end_us: i64) -> Option<(T, Range<u64>)> {
        let end = self.slot(end_us);
        let (ps, item) = self.pending.take()?;
        let start = self.next_out.max(ps);
        let stop = end.max(start + 1);
        self.next_out = stop;
        Some((item, start..stop))
    }

    /// Output slots emitted so far.
    pub fn emitted(&self) -> u64 {
        self.next_out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(in_fps: u32, out_fps: u32, n: u32) -> Vec<u32> {
        let mut c = FpsConverter::new(out_fps, 1);
        let mut out = Vec::new();
        let dur = 1_000_000 / i64::from(in_fps);
        for i in 0..n {
            if let Some((item, r)) = c.push(i64::from(i) * dur, i) {
                out.extend(r.map(|_| item));
            }
        }
        if let Some((item, r)) = c.finish(i64::from(n) * dur) {
            out.extend(r.map(|_| item));
        }
        out
    }

    #[test]
    fn same_rate_is_identity() {
        assert_eq!(run(30, 30, 10), (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn doubling_repeats_each_frame() {
        assert_eq!(run(30, 60, 3), vec![0, 0, 1, 1, 2, 2]);
    }

    #[test]
    fn halving_keeps_every_other_frame() {
        let out = run(60, 30, 60);
        assert_eq!(out.len(), 30);
        assert!(out.windows(2).all(|w| w[1] == w[0] + 2));
    }

    #[test]
    fn thirty_to_twenty_five_gives_right_count() {
        assert_eq!(run(30, 25, 60).len(), 50);
        assert_eq!(run(25, 30, 50).len(), 60);
    }
}
