//! Perceptual checks on a sampled segment: quality against the local reference and the
//! black-frame, frozen-frame and temporal-alignment detectors.

use parity_scale_codec::{Decode, Encode};

use crate::error::Error;
use crate::frame::Frame;
use crate::metrics::{block_mse, mean_abs_diff, mean_std, mse, psnr_from_mse, ssim, thumbnail};
use crate::verdict::Fault;

/// Detector thresholds. The defaults are calibrated by the `evaluate` example so that
/// honest renditions from a different encoder, preset or rate control pass, and every
/// tampering class in the corpus fails (see `docs/transcode.md`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Thresholds {
    /// Minimum luma PSNR (dB) of a sampled frame against the reference (absolute floor,
    /// used when no local encode is given, and always as a sanity floor).
    pub min_psnr_y: f64,
    /// With a local encode: largest tolerated luma PSNR deficit (dB) of the rendition
    /// against the local encode's PSNR on the same frame.
    pub max_psnr_y_deficit: f64,
    /// With a local encode: largest tolerated SSIM deficit.
    pub max_ssim_deficit: f64,
    /// With a local encode: largest tolerated chroma PSNR deficit (dB).
    pub max_psnr_uv_deficit: f64,
    /// Quality above which the local encode's quality is not held against the rendition
    /// (luma PSNR dB, SSIM, chroma PSNR dB): better than this is "good enough" whatever
    /// the local encode reached.
    pub good_enough: (f64, f64, f64),
    /// Minimum luma SSIM of a sampled frame.
    pub min_ssim_y: f64,
    /// Minimum chroma PSNR (dB, worse of U and V) of a sampled frame.
    pub min_psnr_uv: f64,
    /// A 16×16 luma block is an outlier when its MSE exceeds this many times the frame's
    /// MSE and also `outlier_block_min_mse`.
    pub outlier_block_ratio: f64,
    /// Absolute MSE floor for an outlier block.
    pub outlier_block_min_mse: f64,
    /// Largest tolerated fraction of outlier blocks in a sampled frame.
    pub max_outlier_fraction: f64,
    /// A frame is black when its mean luma is at most this…
    pub black_max_mean: f64,
    /// …and its luma standard deviation at most this.
    pub black_max_std: f64,
    /// A rendition frame is frozen when it differs from its predecessor by at most this
    /// mean absolute difference…
    pub frozen_max_diff: f64,
    /// …while the reference moves by at least this much…
    pub frozen_min_reference_motion: f64,
    /// …for at least this many consecutive frames (encoders may skip a single frame of
    /// incompressible content under CBR).
    pub frozen_min_run: usize,
    /// With a local encode: a sampled frame has lost detail (blur) when its
    /// high-frequency energy is below this fraction of the local encode's.
    pub min_detail_ratio: f64,
    /// A frame is misaligned when a reference frame at another offset matches it better
    /// than this fraction of the same-index distance.
    pub misalignment_ratio: f64,
    /// Misaligned frames tolerated before the segment fails.
    pub max_misaligned_frames: usize,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            min_psnr_y: 24.0,
            max_psnr_y_deficit: 6.0,
            max_ssim_deficit: 0.25,
            max_psnr_uv_deficit: 6.0,
            good_enough: (32.0, 0.90, 34.0),
            min_ssim_y: 0.70,
            min_psnr_uv: 28.0,
            outlier_block_ratio: 12.0,
            outlier_block_min_mse: 300.0,
            max_outlier_fraction: 0.004,
            black_max_mean: 24.0,
            black_max_std: 6.0,
            frozen_max_diff: 0.3,
            frozen_min_reference_motion: 2.0,
            frozen_min_run: 2,
            min_detail_ratio: 0.2,
            misalignment_ratio: 0.6,
            max_misaligned_frames: 2,
        }
    }
}

/// Metrics of one sampled frame, in fixed point so evidence encodes exactly.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub struct FrameMetrics {
    /// Frame index in the rendition.
    pub frame: u32,
    /// Luma PSNR in centi-dB (capped at 100 dB).
    pub psnr_y_cdb: u32,
    /// Worse chroma PSNR in centi-dB (capped at 100 dB).
    pub psnr_uv_cdb: u32,
    /// Luma SSIM × 10000.
    pub ssim_y_e4: u32,
    /// Outlier 16×16 blocks per 10000.
    pub outlier_blocks_e4: u32,
}

/// High-frequency energy: mean absolute horizontal plus vertical difference.
fn detail(p: &crate::frame::Plane) -> f64 {
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

fn cdb(db: f64) -> u32 {
    (db.clamp(0.0, 100.0) * 100.0).round() as u32
}

/// The result of the perceptual checks on one rendition.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct PerceptualReport {
    /// Metrics of the sampled frames.
    pub metrics: Vec<FrameMetrics>,
    /// Faults found.
    pub faults: Vec<Fault>,
}

/// Per-frame quality of `test` against the reference `a`.
struct Quality {
    psnr_y: f64,
    psnr_uv: f64,
    ssim_y: f64,
    outliers: f64,
}

fn quality(a: &Frame, b: &Frame, t: &Thresholds) -> Result<Quality, Error> {
    let m = mse(&a.y, &b.y)?;
    let blocks = block_mse(&a.y, &b.y, 16)?;
    let limit = (m * t.outlier_block_ratio).max(t.outlier_block_min_mse);
    Ok(Quality {
        psnr_y: psnr_from_mse(m),
        psnr_uv: psnr_from_mse(mse(&a.u, &b.u)?.max(mse(&a.v, &b.v)?)),
        ssim_y: ssim(&a.y, &b.y)?,
        outliers: blocks.iter().filter(|&&v| v > limit).count() as f64 / blocks.len().max(1) as f64,
    })
}

/// Compares a decoded rendition with the verifier's local reference (the source decoded,
/// scaled and rate-converted exactly as the profile asks, e.g. by gpu-encode's
/// `Transcoder::reference_frames`).
///
/// `local` is the verifier's own encode of the same profile, decoded. When given, the
/// quality thresholds are relative: the rendition may be at most `max_*_deficit` worse
/// than the local encode on the same frame, and a frame only counts as frozen if the local
/// encode moves there. This calibrates the checks to the content (noise or fine detail
/// are hard for every encoder at the profile's bit rate) so an honest different encoder
/// passes. Without it the absolute floors apply.
///
/// `sampled` are the secret frame indices for the quality metrics; the cheap detectors
/// (black, frozen, alignment) scan every frame on a subsampled grid. Frames beyond the
/// shorter sequence are ignored (the frame count is a cheap check).
pub fn perceptual_check(
    rendition_index: u32,
    reference: &[Frame],
    local: Option<&[Frame]>,
    rendition: &[Frame],
    sampled: &[usize],
    t: &Thresholds,
) -> Result<PerceptualReport, Error> {
    let mut n = reference.len().min(rendition.len());
    if let Some(l) = local {
        n = n.min(l.len());
    }
    if n == 0 {
        return Err(Error::NoFrames);
    }
    let r = rendition_index;
    let mut report = PerceptualReport::default();
    // Black frames (where the reference is not black).
    for i in 0..n {
        let (m, s) = mean_std(&rendition[i].y, 4);
        if m <= t.black_max_mean && s <= t.black_max_std {
            let (rm, rs) = mean_std(&reference[i].y, 4);
            if !(rm <= t.black_max_mean * 1.5 && rs <= t.black_max_std * 2.0) {
                report.faults.push(Fault::BlackFrame { rendition: r, frame: i as u32 });
                break;
            }
        }
    }
    // Frozen frames: a run of rendition frames repeating their predecessor while the
    // reference (and the local encode) move.
    let mut run = 0usize;
    for i in 1..n {
        let d = mean_abs_diff(&rendition[i].y, &rendition[i - 1].y, 2)?;
        let frozen = d <= t.frozen_max_diff && {
            let rd = mean_abs_diff(&reference[i].y, &reference[i - 1].y, 2)?;
            let local_moves = match local {
                Some(l) => mean_abs_diff(&l[i].y, &l[i - 1].y, 2)? > t.frozen_max_diff * 2.0,
                None => true,
            };
            rd >= t.frozen_min_reference_motion && local_moves
        };
        run = if frozen { run + 1 } else { 0 };
        if run >= t.frozen_min_run.max(1) {
            let frame = (i + 1 - run) as u32;
            report.faults.push(Fault::FrozenFrame { rendition: r, frame });
            break;
        }
    }
    // Temporal alignment on 8x thumbnails: the same-index reference frame must match
    // best; a consistent better match at another offset means shifted or dropped frames.
    let thumbs_ref: Vec<_> = reference[..n].iter().map(|f| thumbnail(&f.y, 8)).collect();
    let thumbs_out: Vec<_> = rendition[..n].iter().map(|f| thumbnail(&f.y, 8)).collect();
    let mut misaligned = 0usize;
    let mut first: Option<(u32, i32)> = None;
    for i in 0..n {
        let d0 = mse(&thumbs_out[i], &thumbs_ref[i])?;
        let mut best = (d0, 0i32);
        for off in [-3i32, -2, -1, 1, 2, 3] {
            let j = i as i64 + i64::from(off);
            if j < 0 || j >= n as i64 {
                continue;
            }
            let d = mse(&thumbs_out[i], &thumbs_ref[j as usize])?;
            if d < best.0 {
                best = (d, off);
            }
        }
        if best.1 != 0 && best.0 < d0 * t.misalignment_ratio && d0 > 4.0 {
            misaligned += 1;
            first.get_or_insert((i as u32, best.1));
        }
    }
    if misaligned > t.max_misaligned_frames
        && let Some((frame, offset)) = first
    {
        report.faults.push(Fault::Misaligned { rendition: r, frame, offset, frames: misaligned as u32 });
    }
    // Quality on the sampled frames.
    for &i in sampled.iter().filter(|&&i| i < n) {
        // Encoders may round frame-rate conversion differently: take the best match within
        // two frames (consistent shifts are the alignment and frozen detectors' job).
        let mut q = quality(&reference[i], &rendition[i], t)?;
        for j in [i.wrapping_sub(2), i.wrapping_sub(1), i + 1, i + 2] {
            if j < n {
                let alt = quality(&reference[j], &rendition[i], t)?;
                if alt.psnr_y > q.psnr_y {
                    q = alt;
                }
            }
        }
        let fm = FrameMetrics {
            frame: i as u32,
            psnr_y_cdb: cdb(q.psnr_y),
            psnr_uv_cdb: cdb(q.psnr_uv),
            ssim_y_e4: (q.ssim_y.clamp(0.0, 1.0) * 10_000.0).round() as u32,
            outlier_blocks_e4: (q.outliers * 10_000.0).round() as u32,
        };
        report.metrics.push(fm);
        let (low, colour, local_outliers) = match local {
            Some(l) => {
                let lq = quality(&reference[i], &l[i], t)?;
                // Blur: only where quality is not good enough anyway and the local encode
                // kept real detail.
                let local_detail = detail(&l[i].y);
                let detail_loss = q.psnr_y < t.good_enough.0
                    && local_detail > 2.0
                    && detail(&rendition[i].y) < t.min_detail_ratio * local_detail;
                (
                    detail_loss
                        || q.psnr_y < lq.psnr_y.min(t.good_enough.0) - t.max_psnr_y_deficit
                        || q.ssim_y < lq.ssim_y.min(t.good_enough.1) - t.max_ssim_deficit,
                    q.psnr_uv < lq.psnr_uv.min(t.good_enough.2) - t.max_psnr_uv_deficit,
                    lq.outliers,
                )
            }
            None => (q.psnr_y < t.min_psnr_y || q.ssim_y < t.min_ssim_y, q.psnr_uv < t.min_psnr_uv, 0.0),
        };
        if low {
            report.faults.push(Fault::LowQuality { rendition: r, metrics: fm });
        } else if colour {
            report.faults.push(Fault::ColourShift { rendition: r, metrics: fm });
        } else if q.outliers > local_outliers + t.max_outlier_fraction {
            report.faults.push(Fault::LocalDistortion { rendition: r, metrics: fm });
        }
    }
    Ok(report)
}
