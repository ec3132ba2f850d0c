//! Picture-quality measures over 8-bit planes: MSE, PSNR, SSIM and helpers for the
//! detectors (block errors, thumbnails, mean absolute differences).
//!
//! PSNR follows FFmpeg's `psnr` filter: `10·log10(255² / MSE)` with the MSE taken over
//! every sample of every frame. SSIM follows FFmpeg's `ssim` filter (the x264 form):
//! sums over 4×4 blocks, 8×8 windows at a stride of 4, constants
//! `c1 = 0.01²·255²·64`, `c2 = 0.03²·255²·64·63`, the mean over all windows.

use crate::error::Error;
use crate::frame::{Frame, Plane};

fn same_size(a: &Plane, b: &Plane) -> Result<(), Error> {
    if a.width != b.width || a.height != b.height {
        return Err(Error::SizeMismatch {
            a_width: a.width,
            a_height: a.height,
            b_width: b.width,
            b_height: b.height,
        });
    }
    Ok(())
}

/// Sum of squared differences of two planes of equal size.
pub fn sse(a: &Plane, b: &Plane) -> Result<u64, Error> {
    same_size(a, b)?;
    Ok(sse_slices(&a.data, &b.data))
}

/// Sum of squared differences of two equal-length sample runs. Chunks of 4096 samples
/// accumulate in `u32` (at most 4096 · 255² < 2³², so the wrapping adds never wrap; they
/// let the loop vectorize with the workspace's overflow checks on).
fn sse_slices(a: &[u8], b: &[u8]) -> u64 {
    a.chunks(4096)
        .zip(b.chunks(4096))
        .map(|(x, y)| {
            let s = x.iter().zip(y).fold(0u32, |acc, (&p, &q)| {
                let d = u32::from(p.abs_diff(q));
                acc.wrapping_add(d * d)
            });
            u64::from(s)
        })
        .sum()
}

/// Sum of a run of samples: chunks of 2¹⁶ accumulate in `u32` (never wraps; wrapping
/// adds vectorize).
fn sum_u8(v: &[u8]) -> u64 {
    v.chunks(1 << 16).map(|c| u64::from(c.iter().fold(0u32, |acc, &x| acc.wrapping_add(u32::from(x))))).sum()
}

/// Mean squared error of two planes of equal size (0 for empty planes).
pub fn mse(a: &Plane, b: &Plane) -> Result<f64, Error> {
    let s = sse(a, b)?;
    Ok(if a.data.is_empty() { 0.0 } else { s as f64 / a.data.len() as f64 })
}

/// PSNR in dB for an MSE over 8-bit samples; `f64::INFINITY` for identical pictures.
pub fn psnr_from_mse(mse: f64) -> f64 {
    if mse <= 0.0 { f64::INFINITY } else { 10.0 * (255.0 * 255.0 / mse).log10() }
}

/// Luma PSNR of two frame sequences over all samples of the first `min(len)` frames
/// (FFmpeg `psnr` filter, `y`).
pub fn psnr_y(reference: &[Frame], test: &[Frame]) -> Result<f64, Error> {
    let n = reference.len().min(test.len());
    if n == 0 {
        return Err(Error::NoFrames);
    }
    let (mut total, mut samples) = (0u64, 0u64);
    for (r, t) in reference.iter().zip(test) {
        total += sse(&r.y, &t.y)?;
        samples += r.y.data.len() as u64;
    }
    Ok(psnr_from_mse(if samples == 0 { 0.0 } else { total as f64 / samples as f64 }))
}

/// Mean luma SSIM of two frame sequences over the first `min(len)` frames.
pub fn ssim_y(reference: &[Frame], test: &[Frame]) -> Result<f64, Error> {
    let n = reference.len().min(test.len());
    if n == 0 {
        return Err(Error::NoFrames);
    }
    let mut sum = 0.0;
    for (r, t) in reference.iter().zip(test) {
        sum += ssim(&r.y, &t.y)?;
    }
    Ok(sum / n as f64)
}

/// Per-4×4-block sums: Σa, Σb, Σa²+Σb², Σab (exact in `u32`: 4 blocks of 16 samples
/// give at most 64 · 2 · 255² < 2³²).
#[derive(Clone, Copy, Default)]
struct Sums {
    a: u32,
    b: u32,
    ss: u32,
    ab: u32,
}

impl Sums {
    fn add(self, o: Sums) -> Sums {
        Sums { a: self.a + o.a, b: self.b + o.b, ss: self.ss + o.ss, ab: self.ab + o.ab }
    }
}

fn ssim_window(s: Sums) -> f64 {
    const C1: f64 = 0.01 * 0.01 * 255.0 * 255.0 * 64.0;
    const C2: f64 = 0.03 * 0.03 * 255.0 * 255.0 * 64.0 * 63.0;
    let (s1, s2) = (f64::from(s.a), f64::from(s.b));
    let vars = f64::from(s.ss) * 64.0 - s1 * s1 - s2 * s2;
    let covar = f64::from(s.ab) * 64.0 - s1 * s2;
    (2.0 * s1 * s2 + C1) * (2.0 * covar + C2) / ((s1 * s1 + s2 * s2 + C1) * (vars + C2))
}

/// SSIM of two planes of equal size (FFmpeg/x264 form, see the module docs). Planes
/// smaller than 8×8 are compared as one window scaled to 64 samples.
pub fn ssim(a: &Plane, b: &Plane) -> Result<f64, Error> {
    same_size(a, b)?;
    let (bw, bh) = (a.width / 4, a.height / 4);
    if bw < 2 || bh < 2 {
        if a.data.is_empty() {
            return Ok(1.0);
        }
        let n = a.data.len() as f64;
        let mut s = [0f64; 4];
        for (&x, &y) in a.data.iter().zip(&b.data) {
            let (x, y) = (f64::from(x), f64::from(y));
            s[0] += x;
            s[1] += y;
            s[2] += x * x + y * y;
            s[3] += x * y;
        }
        let k = 64.0 / n;
        // Truncation to whole sums, as the window formula expects (values < 2³²).
        let sums =
            Sums { a: (s[0] * k) as u32, b: (s[1] * k) as u32, ss: (s[2] * k) as u32, ab: (s[3] * k) as u32 };
        return Ok(ssim_window(sums));
    }
    let w = a.width;
    // One row of 4×4 block sums, accumulated row by row over the block row.
    let block_row = |by: usize, out: &mut [Sums]| {
        out.fill(Sums::default());
        for row in by * 4..by * 4 + 4 {
            let o = row * w;
            let (ra, rb) = (&a.data[o..o + bw * 4], &b.data[o..o + bw * 4]);
            for (s, (ca, cb)) in out.iter_mut().zip(ra.chunks_exact(4).zip(rb.chunks_exact(4))) {
                // Bounded sums (see `Sums`): wrapping adds never wrap.
                for k in 0..4 {
                    let (x, y) = (u32::from(ca[k]), u32::from(cb[k]));
                    s.a = s.a.wrapping_add(x);
                    s.b = s.b.wrapping_add(y);
                    s.ss = s.ss.wrapping_add(x * x + y * y);
                    s.ab = s.ab.wrapping_add(x * y);
                }
            }
        }
    };
    let mut prev = vec![Sums::default(); bw];
    let mut cur = vec![Sums::default(); bw];
    block_row(0, &mut prev);
    let mut total = 0.0;
    for by in 1..bh {
        block_row(by, &mut cur);
        for bx in 0..bw - 1 {
            let s = prev[bx].add(prev[bx + 1]).add(cur[bx]).add(cur[bx + 1]);
            total += ssim_window(s);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    Ok(total / ((bw - 1) * (bh - 1)) as f64)
}

/// Mean squared error of each `size`×`size` block (row-major; edge blocks are partial).
pub fn block_mse(a: &Plane, b: &Plane, size: usize) -> Result<Vec<f64>, Error> {
    same_size(a, b)?;
    let size = size.max(1);
    let (nx, ny) = (a.width.div_ceil(size), a.height.div_ceil(size));
    let mut sums = vec![0u64; nx * ny];
    for row in 0..a.height {
        let o = row * a.width;
        let cells = &mut sums[(row / size) * nx..(row / size + 1) * nx];
        let (ra, rb) = (&a.data[o..o + a.width], &b.data[o..o + a.width]);
        for (cell, (x, y)) in cells.iter_mut().zip(ra.chunks(size).zip(rb.chunks(size))) {
            *cell += sse_slices(x, y);
        }
    }
    Ok(per_block_mean(sums, a.width, a.height, size, nx))
}

/// Divides per-block sums by the number of samples of each (edge blocks are partial).
fn per_block_mean(sums: Vec<u64>, width: usize, height: usize, size: usize, nx: usize) -> Vec<f64> {
    sums.into_iter()
        .enumerate()
        .map(|(i, s)| {
            let (bx, by) = (i % nx, i / nx);
            let n = (width - bx * size).min(size) * (height - by * size).min(size);
            if n == 0 { 0.0 } else { s as f64 / n as f64 }
        })
        .collect()
}

/// Mean absolute difference over a grid sampling every `step`-th sample in both axes.
pub fn mean_abs_diff(a: &Plane, b: &Plane, step: usize) -> Result<f64, Error> {
    same_size(a, b)?;
    let step = step.max(1);
    let (mut sum, mut n) = (0u64, 0u64);
    for row in (0..a.height).step_by(step) {
        let o = row * a.width;
        let (ra, rb) = (&a.data[o..o + a.width], &b.data[o..o + a.width]);
        // A row holds fewer than 2²⁴ samples: the u32 sum never wraps.
        let s = ra
            .iter()
            .step_by(step)
            .zip(rb.iter().step_by(step))
            .fold(0u32, |acc, (&x, &y)| acc.wrapping_add(u32::from(x.abs_diff(y))));
        sum += u64::from(s);
        n += a.width.div_ceil(step) as u64;
    }
    Ok(if n == 0 { 0.0 } else { sum as f64 / n as f64 })
}

/// Mean and standard deviation of a plane over a grid sampling every `step`-th sample.
pub fn mean_std(p: &Plane, step: usize) -> (f64, f64) {
    let step = step.max(1);
    let (mut s, mut ss, mut n) = (0f64, 0f64, 0f64);
    for row in (0..p.height).step_by(step) {
        let o = row * p.width;
        for col in (0..p.width).step_by(step) {
            let v = f64::from(p.data[o + col]);
            s += v;
            ss += v * v;
            n += 1.0;
        }
    }
    if n == 0.0 {
        return (0.0, 0.0);
    }
    let mean = s / n;
    (mean, (ss / n - mean * mean).max(0.0).sqrt())
}

/// A `factor`-times smaller thumbnail (box filter), for temporal alignment.
pub fn thumbnail(p: &Plane, factor: usize) -> Plane {
    let f = factor.max(1);
    let (w, h) = ((p.width / f).max(1), (p.height / f).max(1));
    let mut data = Vec::with_capacity(w * h);
    if p.width >= f && p.height >= f {
        // Whole f×f cells only (the common case): the f rows of a cell row are added
        // column-wise first (vectorizes), then each run of f column sums is one cell.
        let mut cols = vec![0u32; w * f];
        let n = u32::try_from(f * f).unwrap_or(u32::MAX);
        for ty in 0..h {
            for row in ty * f..(ty + 1) * f {
                let r = &p.data[row * p.width..row * p.width + cols.len()];
                // At most f · 255 per column: wrapping adds never wrap, and vectorize.
                if row == ty * f {
                    for (c, &v) in cols.iter_mut().zip(r) {
                        *c = u32::from(v);
                    }
                } else {
                    for (c, &v) in cols.iter_mut().zip(r) {
                        *c = c.wrapping_add(u32::from(v));
                    }
                }
            }
            data.extend(cols.chunks_exact(f).map(|c| {
                let s = c.iter().fold(0u32, |acc, &v| acc.wrapping_add(v));
                u8::try_from(s / n).unwrap_or(u8::MAX)
            }));
        }
        return Plane { width: w, height: h, data };
    }
    for ty in 0..h {
        for tx in 0..w {
            let (mut s, mut n) = (0u32, 0u32);
            for row in ty * f..((ty + 1) * f).min(p.height) {
                let o = row * p.width;
                for col in tx * f..((tx + 1) * f).min(p.width) {
                    s += u32::from(p.data[o + col]);
                    n += 1;
                }
            }
            data.push(u8::try_from(s / n.max(1)).unwrap_or(u8::MAX));
        }
    }
    Plane { width: w, height: h, data }
}

/// Mean of each `size`×`size` block (row-major; edge blocks are partial). Block means
/// are what every honest encoder preserves best (the DC coefficient), and averaging
/// removes film grain and noise, so differences of block means expose colour changes and
/// overlays that grain hides from PSNR.
pub fn block_means(p: &Plane, size: usize) -> Vec<f64> {
    let size = size.max(1);
    let (nx, ny) = (p.width.div_ceil(size), p.height.div_ceil(size));
    let mut sums = vec![0u64; nx * ny];
    for row in 0..p.height {
        let o = row * p.width;
        let cells = &mut sums[(row / size) * nx..(row / size + 1) * nx];
        for (cell, chunk) in cells.iter_mut().zip(p.data[o..o + p.width].chunks(size)) {
            *cell += sum_u8(chunk);
        }
    }
    per_block_mean(sums, p.width, p.height, size, nx)
}

/// High-frequency energy: the mean absolute horizontal plus vertical neighbour difference.
pub fn detail(p: &Plane) -> f64 {
    let (w, h) = (p.width, p.height);
    if w < 2 || h < 2 {
        return 0.0;
    }
    let mut sum = 0u64;
    for y in 0..h - 1 {
        let row = &p.data[y * w..(y + 1) * w];
        let next = &p.data[(y + 1) * w..(y + 2) * w];
        for x in 0..w - 1 {
            sum += u64::from(row[x].abs_diff(row[x + 1])) + u64::from(row[x].abs_diff(next[x]));
        }
    }
    sum as f64 / ((w - 1) * (h - 1)) as f64
}

/// The taps of the fine-band high-pass filter: `[1, -8, 28, -56, 70, -56, 28, -8, 1]`,
/// frequency response `((1 - cos ω) / 2)⁴` (1 at the Nyquist frequency, 1/16 at half of
/// it, 1/256 at a quarter). Its absolute taps sum to 256.
const FINE_TAPS: [i32; 9] = [1, -8, 28, -56, 70, -56, 28, -8, 1];

/// The fine band of a plane: the horizontal and the vertical response of the high-pass
/// filter `[1, -8, 28, -56, 70, -56, 28, -8, 1]` (response `((1 - cos ω) / 2)⁴`, in units
/// of 1/256 of a level) at every other row and column at least 4 samples from the
/// border, interleaved (horizontal, vertical). A picture scaled up from half its size or
/// less has almost nothing in this band; a blur removes it. Empty for planes smaller
/// than 9×9.
pub fn fine_band(p: &Plane) -> Vec<i32> {
    let (w, h) = (p.width, p.height);
    if w < 9 || h < 9 {
        return Vec::new();
    }
    let cols = (w - 8).div_ceil(2);
    let mut out = Vec::with_capacity(cols * (h - 8).div_ceil(2) * 2);
    let mut hx = vec![0i32; cols];
    let mut hy = vec![0i32; cols];
    for y in (4..h - 4).step_by(2) {
        // Horizontal: tap k of output column c is sample 2c + k of the row (c = 0 at x = 4).
        let row = &p.data[y * w..(y + 1) * w];
        hx.iter_mut().for_each(|v| *v = 0);
        for (k, &t) in FINE_TAPS.iter().enumerate() {
            for (acc, &v) in hx.iter_mut().zip(row[k..].iter().step_by(2)) {
                *acc += t * i32::from(v);
            }
        }
        // Vertical: tap k is row y + k - 4 at the same column.
        hy.iter_mut().for_each(|v| *v = 0);
        for (k, &t) in FINE_TAPS.iter().enumerate() {
            let r = &p.data[(y + k - 4) * w + 4..(y + k - 3) * w];
            for (acc, &v) in hy.iter_mut().zip(r.iter().step_by(2)) {
                *acc += t * i32::from(v);
            }
        }
        for (&a, &b) in hx.iter().zip(&hy) {
            out.push(a);
            out.push(b);
        }
    }
    out
}

/// Mean absolute fine-band response ([`fine_band`]) in 8-bit levels: the energy in the
/// top of the spectrum. 0 for an empty band.
pub fn fine_energy(band: &[i32]) -> f64 {
    if band.is_empty() {
        return 0.0;
    }
    let sum: u64 = band.iter().map(|v| u64::from(v.unsigned_abs())).sum();
    sum as f64 / (256 * band.len()) as f64
}

/// How much of the reference's fine detail `test` keeps *in phase*: the least-squares
/// gain `⟨test, reference⟩ / ⟨reference, reference⟩` of two [`fine_band`]s of planes of
/// the same size (1 = all of it, 0 = none or unrelated detail, such as an upscaler's
/// ringing or coding noise). `None` when the reference has no fine detail or the bands
/// differ in length.
pub fn fine_gain(reference: &[i32], test: &[i32]) -> Option<f64> {
    if reference.len() != test.len() {
        return None;
    }
    let (mut dot, mut rr) = (0i64, 0i64);
    for (&r, &t) in reference.iter().zip(test) {
        dot += i64::from(r) * i64::from(t);
        rr += i64::from(r) * i64::from(r);
    }
    (rr > 0).then(|| dot as f64 / rr as f64)
}
