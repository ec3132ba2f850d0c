//! Perceptual checks on a sampled segment: quality against the local reference and the
//! black-frame, frozen-frame and temporal-alignment detectors.

use parity_scale_codec::{Decode, Encode};

use crate::error::Error;
use crate::frame::{Frame, Plane};
use crate::metrics::{
    block_means, block_mse, detail, fine_band, fine_energy, fine_gain, mean_abs_diff, mean_std, mse,
    psnr_from_mse, ssim, thumbnail,
};
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
    /// A static frame that repeats its predecessor this exactly (mean absolute
    /// difference) is frozen even where the local encode moves less than
    /// `frozen_local_motion_fraction` of the reference, unless the local encode itself
    /// is static by the same measure (≤ `frozen_max_diff`) within the first `frozen_skip_window`
    /// frames of the rendition's static stretch: encoders under CBR skip whole frames
    /// of pure grain (bit-exact repeats), and they do it where the local encode does.
    pub frozen_exact_diff: f64,
    /// See `frozen_exact_diff`.
    pub frozen_skip_window: usize,
    /// …for at least this many consecutive frames (encoders may skip a single frame of
    /// incompressible content under CBR).
    pub frozen_min_run: usize,
    /// With a local encode: the segment has lost detail (blur) when the median over the
    /// sampled frames of the rendition's half-resolution detail divided by the local
    /// encode's is below this (frames already good enough count as 1). Honest encoders
    /// that drop pure grain reach 0.28 on the calibration sources, a Gaussian blur of
    /// such content 0.15; 0.2 is between them (see `docs/transcode.md`).
    pub min_detail_ratio: f64,
    /// `min_detail_ratio` for content whose motion is coherent (median over the moving
    /// reference frames of the motion coherence ≥ `redraw_min_coherence`): structure,
    /// not grain, so an honest encoder keeps most of its detail (≥ 0.72 of the local
    /// encode's on the calibration sources, blurred fractals ≤ 0.63).
    pub min_detail_ratio_coherent: f64,
    /// A frame is misaligned when a reference frame at another offset matches it better
    /// than this fraction of the same-index distance.
    pub misalignment_ratio: f64,
    /// Misaligned frames tolerated before the segment fails.
    pub max_misaligned_frames: usize,
    /// With a local encode: a static rendition frame only counts as frozen when the
    /// local encode moves by more than this fraction of the reference's motion (capped by
    /// `frozen_local_motion_cap`, floored by twice `frozen_max_diff`). Honest encoders
    /// skip frames of pure grain, and so does the local encode, nearly.
    pub frozen_local_motion_fraction: f64,
    /// See `frozen_local_motion_fraction`.
    pub frozen_local_motion_cap: f64,
    /// With a local encode: a frame only counts as misaligned when its same-index
    /// thumbnail distance exceeds this many times the local encode's.
    pub misaligned_local_factor: f64,
    /// With a local encode: box-filter factor of the coarse scale at which low quality is
    /// confirmed. Film grain and noise average out there, so an honest encoder that
    /// dropped grain is not "low quality", while other content or starvation still is.
    pub coarse_factor: usize,
    /// With a local encode: largest tolerated coarse-scale luma PSNR deficit (dB) against
    /// the local encode; a frame is low quality only when it also fails the full-scale
    /// deficits.
    pub max_coarse_psnr_deficit: f64,
    /// Coarse-scale luma PSNR (dB) above which the coarse check always passes.
    pub coarse_good_enough: f64,
    /// With a local encode: low quality on sampled frames is a fault only when the whole
    /// segment is low as well: its coarse-scale luma PSNR (from the mean coarse MSE over
    /// every frame, each matched to the best reference frame within ±2) is more than this
    /// many dB below the local encode's (`coarse_good_enough` caps the local encode's).
    /// A rate controller allocates the segment's bits over its frames as it sees fit: a
    /// one-pass ABR encoder without VBV spends most of them on the first frames of a
    /// short segment and starves the last ones below the local encode's quality, while
    /// starvation and other content are low on the whole segment.
    pub max_segment_coarse_deficit: f64,
    /// With a local encode: the local encode's detail (at half resolution) must be at
    /// least this for the blur check to apply.
    pub min_local_detail: f64,
    /// With a local encode: a "slowly redrawn" freeze. A rendition frame counts as
    /// frozen when it moves by less than this fraction of the local encode's motion
    /// (mean absolute difference to its predecessor)…
    pub redraw_max_fraction: f64,
    /// …while the local encode moves by at least this much…
    pub redraw_min_local_motion: f64,
    /// …and the reference's motion is *coherent*: its motion between 8× box-filtered
    /// thumbnails is at least this fraction of its full-resolution motion. Moving
    /// structure survives the averaging (0.5–0.8 on the calibration sources); film
    /// grain does not (≤ 0.15), and it is grain that honest CBR encoders stop
    /// redrawing. Runs of `frozen_min_run` such frames fail as `FrozenFrame`.
    pub redraw_min_coherence: f64,
    /// Block size (luma samples) of the block-mean maps; chroma uses half.
    pub block: usize,
    /// With a local encode: a frame shows a colour change when the chroma block-mean
    /// error explained by one global affine colour map (`FrameFeatures::colour_fit`)
    /// exceeds `chroma_local_factor` × the local encode's plus this (8-bit levels).
    pub max_chroma_shift: f64,
    /// See `max_chroma_shift`.
    pub chroma_local_factor: f64,
    /// A global colour map must explain at least this fraction of a plane's chroma
    /// block-mean error to count (`FrameFeatures::colour_fit` is 0 otherwise): fitting
    /// a map to *unrelated* chroma already explains about 0.3 of the error (regression
    /// to the mean), a colour filter explains nearly all of it.
    pub colour_min_explained: f64,
    /// Fraction of the sampled frames that must show the chroma shift for the segment
    /// to fail with a colour change.
    pub colour_min_fraction: f64,
    /// With a local encode: a block is anomalous when its mean differs from the
    /// reference's by more than `block_local_factor` × the local encode's difference plus
    /// this, in luma levels…
    pub block_luma_levels: f64,
    /// …or plus this in chroma levels.
    pub block_chroma_levels: f64,
    /// See `block_luma_levels`.
    pub block_local_factor: f64,
    /// Overlay: blocks anomalous in all sampled frames but one (and at least two) make the
    /// segment fail when there are this many or more.
    pub overlay_min_blocks: usize,
    /// …and when they are at least this share of the anomalous blocks of the sampled frame
    /// with the second fewest (persistence allows one frame off). An overlay *is* the
    /// anomaly of every frame (share 0.9–1 in the evaluation); a stale or lagging picture
    /// from a starved encoder departs from the reference over a large field that moves,
    /// in which a few blocks stay anomalous by overlap (share ≤ 0.11 on the honest grain
    /// rendition that was accused).
    pub overlay_min_share: f64,
    /// Fine detail (upscaling, blur), with a local encode: checked on every this many
    /// frames from frame 0 — a fixed set, not the secret sample, so the verdict on a
    /// rendition tampered throughout does not depend on the secret. 0 disables the check.
    pub fine_frame_stride: usize,
    /// Checked frames whose reference has less fine-band energy than this (8-bit levels,
    /// [`crate::metrics::fine_energy`]) are skipped: nothing to lose.
    pub fine_min_reference_energy: f64,
    /// When the reference's motion is coherent (structure, not grain: the
    /// `redraw_min_coherence` measure) and the local encode keeps at least this fraction
    /// of the reference's fine detail in phase ([`crate::metrics::fine_gain`]), the
    /// rendition must keep at least `fine_min_gain_ratio` × the local encode's gain…
    pub fine_min_local_gain: f64,
    /// …see `fine_min_local_gain`.
    pub fine_min_gain_ratio: f64,
    /// Otherwise (the local encode dropped the fine detail, as every CBR encoder does
    /// with grain) the rendition's fine-band energy must be at least this × the local
    /// encode's, when the local encode's is at least `fine_min_reference_energy`.
    pub fine_min_energy_ratio: f64,
    /// Re-timing by duplication: the segment fails as frozen when at least this many
    /// frames, runs of one included, repeat their predecessor where the reference and
    /// the local encode move (the per-frame rule of the frozen detector). 25 fps content
    /// re-timed to 30 repeats one frame in six (5 in a 1 s segment).
    pub frozen_min_repeats: usize,
    /// With a local encode: the segment also fails as frozen when at least this many
    /// frames repeat their predecessor *exactly* (≤ `frozen_exact_diff`) where the
    /// reference moves and the local encode redraws by at least `redraw_min_local_motion`
    /// (not excused). An honest encoder repeats a frame bit-exactly only where it skips
    /// content it cannot afford, and there the local encode stands still as well; a
    /// duplicate that a re-timing inserted is visible this way on the frames a front-loaded
    /// encoder still spends bits on, while its starved frames hide the rest.
    pub frozen_min_exact_repeats: usize,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            min_psnr_y: 24.0,
            max_psnr_y_deficit: 6.0,
            max_ssim_deficit: 0.25,
            max_psnr_uv_deficit: 6.0,
            good_enough: (38.0, 0.95, 34.0),
            min_ssim_y: 0.70,
            min_psnr_uv: 28.0,
            outlier_block_ratio: 12.0,
            outlier_block_min_mse: 300.0,
            max_outlier_fraction: 0.004,
            black_max_mean: 24.0,
            black_max_std: 6.0,
            frozen_max_diff: 0.3,
            frozen_min_reference_motion: 1.0,
            frozen_exact_diff: 0.02,
            frozen_skip_window: 2,
            frozen_min_run: 2,
            min_detail_ratio: 0.2,
            min_detail_ratio_coherent: 0.6,
            misalignment_ratio: 0.6,
            max_misaligned_frames: 3,
            frozen_local_motion_fraction: 0.1,
            frozen_local_motion_cap: 5.0,
            misaligned_local_factor: 2.0,
            coarse_factor: 4,
            max_coarse_psnr_deficit: 4.0,
            coarse_good_enough: 40.0,
            max_segment_coarse_deficit: 4.0,
            min_local_detail: 1.5,
            redraw_max_fraction: 0.25,
            redraw_min_local_motion: 2.0,
            redraw_min_coherence: 0.4,
            block: 16,
            max_chroma_shift: 1.5,
            chroma_local_factor: 2.0,
            colour_min_explained: 0.5,
            colour_min_fraction: 0.75,
            block_luma_levels: 10.0,
            block_chroma_levels: 6.0,
            block_local_factor: 2.0,
            overlay_min_blocks: 3,
            overlay_min_share: 0.25,
            fine_frame_stride: 4,
            fine_min_reference_energy: 0.05,
            fine_min_local_gain: 0.5,
            fine_min_gain_ratio: 0.2,
            fine_min_energy_ratio: 0.35,
            frozen_min_repeats: 4,
            frozen_min_exact_repeats: 2,
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
    /// Decision features of the sampled frames (with a local encode only), for
    /// calibration and diagnostics; not part of the evidence encoding.
    pub features: Vec<FrameFeatures>,
    /// Per block of the block-mean grid: in how many sampled frames it was anomalous
    /// (with a local encode only; diagnostics for the overlay rule).
    pub anomaly_counts: Vec<u32>,
    /// Per frame checked for fine detail (with a local encode only): the frame and the
    /// rendition's fine detail relative to what the rule asks for (below 1 lacks it).
    pub fine_scores: Vec<(u32, f64)>,
    /// Coarse-scale luma PSNR (dB) of the whole segment, of the rendition and of the local
    /// encode (with a local encode, computed only when a sampled frame is low quality).
    pub segment_coarse_psnr_y: Option<(f64, f64)>,
    /// The rendition's half-resolution detail over the whole segment relative to the local
    /// encode's (computed only when the sampled frames' median ratio is below the blur
    /// threshold).
    pub segment_detail_ratio: Option<f64>,
}

/// The features the relative (local-encode) decision rule uses on one sampled frame.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct FrameFeatures {
    /// Frame index in the rendition.
    pub frame: u32,
    /// Luma PSNR (dB) of the rendition and of the local encode.
    pub psnr_y: (f64, f64),
    /// Luma SSIM of the rendition and of the local encode.
    pub ssim_y: (f64, f64),
    /// Coarse-scale luma PSNR (dB) of the rendition and of the local encode.
    pub coarse_psnr_y: (f64, f64),
    /// Half-resolution luma detail of the rendition and of the local encode.
    pub detail: (f64, f64),
    /// Mean absolute chroma block-mean error (worse of U and V) of the rendition and of
    /// the local encode, in 8-bit levels.
    pub chroma_shift: (f64, f64),
    /// Anomalous blocks in this frame.
    pub anomalous_blocks: u32,
    /// Mean absolute luma block-mean error of the rendition and of the local encode.
    pub block_error: (f64, f64),
    /// Chroma block-mean error *explained by one global colour transform* (worse of U and
    /// V; 8-bit levels) of the rendition and of the local encode: the error against the
    /// reference minus the error left after the best affine map from the reference's
    /// (Y, U, V) block means, 0 unless the map explains at least
    /// `Thresholds::colour_min_explained` of the error. A colour filter is such a map; an
    /// encoder's chroma lag is not.
    pub colour_fit: (f64, f64),
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

struct Relative {
    features: FrameFeatures,
    /// Per block: anomalous (mean far from the reference's, beyond the local encode's).
    blocks: Vec<bool>,
}

/// How much of the block-mean error of chroma plane `p` (1 = U, 2 = V) of `test` against
/// `reference` one global affine colour map from the reference's (Y, U, V) block means
/// explains: the mean absolute error of the identity minus that of the least-squares map,
/// or 0 when that is less than `min_explained` of the identity's error. Maps must have
/// equal block counts.
fn colour_fit(reference: &[Vec<f64>; 3], test: &[f64], p: usize, min_explained: f64) -> f64 {
    let n = test.len();
    if n < 8 || reference.iter().any(|m| m.len() != n) {
        return 0.0;
    }
    let nf = n as f64;
    let mean = |v: &[f64]| v.iter().sum::<f64>() / nf;
    let (mx, my) = ([mean(&reference[0]), mean(&reference[1]), mean(&reference[2])], mean(test));
    // Centred normal equations with a small ridge (grey content has constant chroma).
    let mut a = [[0f64; 3]; 3];
    let mut b = [0f64; 3];
    for k in 0..n {
        let x = [reference[0][k] - mx[0], reference[1][k] - mx[1], reference[2][k] - mx[2]];
        let y = test[k] - my;
        for r in 0..3 {
            b[r] += x[r] * y;
            for c in 0..3 {
                a[r][c] += x[r] * x[c];
            }
        }
    }
    for (r, row) in a.iter_mut().enumerate() {
        row[r] += 1e-3 * nf;
    }
    let Some(beta) = solve3(a, b) else { return 0.0 };
    let (mut e_id, mut e_fit) = (0.0, 0.0);
    for k in 0..n {
        let x = [reference[0][k] - mx[0], reference[1][k] - mx[1], reference[2][k] - mx[2]];
        let pred = my + beta[0] * x[0] + beta[1] * x[1] + beta[2] * x[2];
        e_id += (test[k] - reference[p][k]).abs();
        e_fit += (test[k] - pred).abs();
    }
    if e_id - e_fit < min_explained * e_id { 0.0 } else { (e_id - e_fit) / nf }
}

/// Solves a 3×3 linear system by Gaussian elimination with partial pivoting.
fn solve3(mut a: [[f64; 3]; 3], mut b: [f64; 3]) -> Option<[f64; 3]> {
    for c in 0..3 {
        let piv = (c..3).max_by(|&i, &j| a[i][c].abs().total_cmp(&a[j][c].abs()))?;
        if a[piv][c].abs() < 1e-12 {
            return None;
        }
        a.swap(c, piv);
        b.swap(c, piv);
        for r in c + 1..3 {
            let f = a[r][c] / a[c][c];
            let pivot_row = a[c];
            for (v, p) in a[r].iter_mut().zip(pivot_row).skip(c) {
                *v -= f * p;
            }
            b[r] -= f * b[c];
        }
    }
    let mut x = [0f64; 3];
    for r in (0..3).rev() {
        let s: f64 = (r + 1..3).map(|k| a[r][k] * x[k]).sum();
        x[r] = (b[r] - s) / a[r][r];
    }
    Some(x)
}

/// Mean absolute difference of two block-mean maps.
fn chroma_shift(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f64>() / a.len().max(1) as f64
}

/// The features of the relative rule for rendition frame `test` (matched to reference
/// frame `matched`) and local frame `local` (same index as reference frame `same`).
fn relative_features(
    matched: &Frame,
    same: &Frame,
    local: &Frame,
    test: &Frame,
    q: &Quality,
    t: &Thresholds,
) -> Result<Relative, Error> {
    let lq = quality(same, local, t)?;
    let c = t.coarse_factor.max(1);
    let coarse = |a: &Frame, b: &Frame| -> Result<f64, Error> {
        Ok(psnr_from_mse(mse(&thumbnail(&a.y, c), &thumbnail(&b.y, c))?))
    };
    let bs = t.block.max(2);
    let maps = |f: &Frame| [block_means(&f.y, bs), block_means(&f.u, bs / 2), block_means(&f.v, bs / 2)];
    let (mr, ms, ml, mt) = (maps(matched), maps(same), maps(local), maps(test));
    let shift_r = chroma_shift(&mt[1], &mr[1]).max(chroma_shift(&mt[2], &mr[2]));
    let shift_l = chroma_shift(&ml[1], &ms[1]).max(chroma_shift(&ml[2], &ms[2]));
    let nb = mr[0].len();
    let mut blocks = vec![false; nb];
    for (p, levels) in [(0usize, t.block_luma_levels), (1, t.block_chroma_levels), (2, t.block_chroma_levels)]
    {
        // The chroma grid has the same block count as the luma grid for 4:2:0.
        if mr[p].len() != nb {
            continue;
        }
        for (b, hit) in blocks.iter_mut().enumerate() {
            let dr = (mt[p][b] - mr[p][b]).abs();
            let dl = (ml[p][b] - ms[p][b]).abs();
            if dr > t.block_local_factor * dl + levels {
                *hit = true;
            }
        }
    }
    let features = FrameFeatures {
        frame: 0,
        psnr_y: (q.psnr_y, lq.psnr_y),
        ssim_y: (q.ssim_y, lq.ssim_y),
        coarse_psnr_y: (coarse(matched, test)?, coarse(same, local)?),
        detail: (detail(&thumbnail(&test.y, 2)), detail(&thumbnail(&local.y, 2))),
        chroma_shift: (shift_r, shift_l),
        anomalous_blocks: blocks.iter().filter(|&&b| b).count() as u32,
        block_error: (chroma_shift(&mt[0], &mr[0]), chroma_shift(&ml[0], &ms[0])),
        colour_fit: (
            colour_fit(&mr, &mt[1], 1, t.colour_min_explained).max(colour_fit(
                &mr,
                &mt[2],
                2,
                t.colour_min_explained,
            )),
            colour_fit(&ms, &ml[1], 1, t.colour_min_explained).max(colour_fit(
                &ms,
                &ml[2],
                2,
                t.colour_min_explained,
            )),
        ),
    };
    Ok(Relative { features, blocks })
}

/// Compares a decoded rendition with the verifier's local reference (the source decoded,
/// scaled and rate-converted exactly as the profile asks, e.g. by gpu-encode's
/// `Transcoder::reference_frames`).
///
/// A slowly redrawn freeze at frame `i` (`i ≥ 1`): the rendition moves by `d`, less
/// than `redraw_max_fraction` of the local encode's motion, the local encode moves by at
/// least `redraw_min_local_motion`, and the reference's motion is coherent (survives the
/// 8× thumbnails `thumbs_ref`), so it is not grain an honest encoder may stop redrawing.
fn redrawn_freeze(
    d: f64,
    reference: &[Frame],
    thumbs_ref: &[Plane],
    local: &[Frame],
    i: usize,
    t: &Thresholds,
) -> Result<bool, Error> {
    let ld = mean_abs_diff(&local[i].y, &local[i - 1].y, 2)?;
    if ld < t.redraw_min_local_motion || d >= t.redraw_max_fraction * ld {
        return Ok(false);
    }
    let rd = mean_abs_diff(&reference[i].y, &reference[i - 1].y, 2)?;
    Ok(rd >= t.frozen_min_reference_motion && coherent(thumbs_ref, rd, i, t)?)
}

/// The rendition's half-resolution detail summed over the frames `0..n` where the local
/// encode's exceeds `min_local` (8-bit levels), over the local encode's sum there (1 when
/// there is no such frame).
fn segment_detail_ratio(local: &[Frame], rendition: &[Frame], n: usize, min_local: f64) -> f64 {
    let (mut out, mut own) = (0.0, 0.0);
    for i in 0..n {
        let dl = detail(&thumbnail(&local[i].y, 2));
        if dl > min_local {
            own += dl;
            out += detail(&thumbnail(&rendition[i].y, 2));
        }
    }
    if own > 0.0 { out / own } else { 1.0 }
}

/// Coarse-scale (`factor`× box-filtered) luma PSNR over a whole segment, from the mean MSE
/// over frames `0..n`: of the rendition, each frame matched to the reference frame within
/// ±2 that fits best at full resolution (as the sampled-frame checks match), and of the
/// local encode against the same-index reference frame.
fn segment_coarse_psnr(
    reference: &[Frame],
    local: &[Frame],
    rendition: &[Frame],
    n: usize,
    factor: usize,
) -> Result<(f64, f64), Error> {
    let thumbs: Vec<Plane> = reference[..n].iter().map(|f| thumbnail(&f.y, factor)).collect();
    let (mut out, mut own) = (0.0, 0.0);
    for i in 0..n {
        let best = best_match(reference, &rendition[i].y, i, n)?;
        out += mse(&thumbs[best.1], &thumbnail(&rendition[i].y, factor))?;
        own += mse(&thumbs[i], &thumbnail(&local[i].y, factor))?;
    }
    let nf = n.max(1) as f64;
    Ok((psnr_from_mse(out / nf), psnr_from_mse(own / nf)))
}

/// Median over the reference's frames that move (≥ `1.0`) of the coherence of their
/// motion (8× thumbnail motion / full-resolution motion); 0 when nothing moves.
fn motion_coherence(reference: &[Frame], thumbs_ref: &[Plane]) -> Result<f64, Error> {
    let mut c = Vec::with_capacity(thumbs_ref.len());
    for i in 1..thumbs_ref.len() {
        let rd = mean_abs_diff(&reference[i].y, &reference[i - 1].y, 2)?;
        if rd >= 1.0 {
            c.push(mean_abs_diff(&thumbs_ref[i], &thumbs_ref[i - 1], 1)? / rd);
        }
    }
    c.sort_by(f64::total_cmp);
    Ok(c.get(c.len() / 2).copied().unwrap_or(0.0))
}

/// Whether the reference's motion `rd` into frame `i` is coherent: its 8× thumbnails
/// move by at least `redraw_min_coherence × rd` (grain averages out, structure does not).
fn coherent(thumbs_ref: &[Plane], rd: f64, i: usize, t: &Thresholds) -> Result<bool, Error> {
    Ok(mean_abs_diff(&thumbs_ref[i], &thumbs_ref[i - 1], 1)? >= t.redraw_min_coherence * rd)
}

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
    // 8x thumbnails: the coherence of the reference's motion (slow-redraw freezes) and
    // temporal alignment.
    let thumbs_ref: Vec<_> = reference[..n].iter().map(|f| thumbnail(&f.y, 8)).collect();
    // Frozen frames: a run of rendition frames repeating their predecessor while the
    // reference and the local encode move.
    let mut run = 0usize;
    let mut redraw_run = 0usize;
    let mut stretch: Option<usize> = None; // start of the current static stretch
    let mut excused = false; // the local encode stood still where the stretch began
    let mut repeats: Option<(usize, usize)> = None; // (count, first) of frozen frames
    let mut exact: Option<(usize, usize)> = None; // (count, first) of exact repeats of redrawn content
    for i in 1..n {
        let d = mean_abs_diff(&rendition[i].y, &rendition[i - 1].y, 2)?;
        let mut redrawn_locally = false;
        let frozen = d <= t.frozen_max_diff && {
            let ld = match local {
                Some(l) => Some(mean_abs_diff(&l[i].y, &l[i - 1].y, 2)?),
                None => None,
            };
            let start = *stretch.get_or_insert(i);
            if start == i {
                excused = false;
            }
            if i - start < t.frozen_skip_window && ld.is_some_and(|ld| ld <= t.frozen_max_diff) {
                excused = true;
            }
            let rd = mean_abs_diff(&reference[i].y, &reference[i - 1].y, 2)?;
            let need = (t.frozen_local_motion_fraction * rd)
                .min(t.frozen_local_motion_cap)
                .max(t.frozen_max_diff * 3.0);
            // A near (not exact) repeat of grain is what honest encoders deliver where
            // the local encode happened to redraw it: with a local encode, only a
            // repeat of coherent motion counts unless it is exact.
            let local_moves = match ld {
                None => true,
                Some(ld) => ld > need && coherent(&thumbs_ref, rd, i, t)?,
            };
            let counts = rd >= t.frozen_min_reference_motion && !excused;
            redrawn_locally =
                counts && d <= t.frozen_exact_diff && ld.is_some_and(|ld| ld >= t.redraw_min_local_motion);
            counts && (d <= t.frozen_exact_diff || local_moves)
        };
        if redrawn_locally {
            let (count, first) = exact.get_or_insert((0, i));
            *count += 1;
            if *count >= t.frozen_min_exact_repeats.max(1) {
                report.faults.push(Fault::FrozenFrame { rendition: r, frame: *first as u32 });
                break;
            }
        }
        if d > t.frozen_max_diff {
            stretch = None;
        }
        let redrawn = match local {
            // Static frames (≤ `frozen_max_diff`) are the rule above's, with its excuse.
            Some(l) if d > t.frozen_max_diff => redrawn_freeze(d, reference, &thumbs_ref, l, i, t)?,
            _ => false,
        };
        run = if frozen { run + 1 } else { 0 };
        if frozen {
            let (count, first) = repeats.get_or_insert((0, i));
            *count += 1;
            if *count >= t.frozen_min_repeats.max(1) {
                report.faults.push(Fault::FrozenFrame { rendition: r, frame: *first as u32 });
                break;
            }
        }
        redraw_run = if redrawn || frozen { redraw_run + 1 } else { 0 };
        if run >= t.frozen_min_run.max(1) || (redrawn && redraw_run >= t.frozen_min_run.max(1)) {
            let frame = (i + 1 - run.max(redraw_run)) as u32;
            report.faults.push(Fault::FrozenFrame { rendition: r, frame });
            break;
        }
    }
    // Temporal alignment on 8x thumbnails: the same-index reference frame must match
    // best; a consistent better match at another offset means shifted or dropped frames.
    let thumbs_out: Vec<_> = rendition[..n].iter().map(|f| thumbnail(&f.y, 8)).collect();
    let thumbs_local: Option<Vec<_>> = local.map(|l| l[..n].iter().map(|f| thumbnail(&f.y, 8)).collect());
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
        let (local_d0, local_off) = match &thumbs_local {
            Some(tl) => {
                let d = mse(&tl[i], &thumbs_ref[i])?;
                let mut local_best = (d, 0i32);
                if best.1 != 0 && best.0 < d0 * t.misalignment_ratio {
                    for off in [-3i32, -2, -1, 1, 2, 3] {
                        let j = i as i64 + i64::from(off);
                        if j >= 0 && j < n as i64 {
                            let dl = mse(&tl[i], &thumbs_ref[j as usize])?;
                            if dl < local_best.0 {
                                local_best = (dl, off);
                            }
                        }
                    }
                }
                (d, local_best.1)
            }
            None => (0.0, 0),
        };
        // Where the verifier's own encode also matches a reference frame on the same side
        // better than the same-index one, it falls behind (or ahead) there itself: content
        // that no encoder keeps up with at this bit rate (a starved encoder stops
        // updating a slowly moving picture), not evidence of a shift.
        let local_lags = local_off != 0 && (local_off > 0) == (best.1 > 0);
        if best.1 != 0
            && best.0 < d0 * t.misalignment_ratio
            && d0 > 4.0
            && d0 > t.misaligned_local_factor * local_d0
            && !local_lags
        {
            misaligned += 1;
            first.get_or_insert((i as u32, best.1));
        }
    }
    if misaligned > t.max_misaligned_frames
        && let Some((frame, offset)) = first
    {
        report.faults.push(Fault::Misaligned { rendition: r, frame, offset, frames: misaligned as u32 });
    }
    // Fine detail on a fixed set of frames (not the secret sample).
    if let Some(l) = local
        && t.fine_frame_stride > 0
    {
        let coherent = motion_coherence(&reference[..n], &thumbs_ref)? >= t.redraw_min_coherence;
        fine_detail_check(r, reference, l, rendition, n, coherent, t, &mut report)?;
    }
    // Quality on the sampled frames.
    let mut anomalies: Vec<u32> = Vec::new();
    let mut sampled_n = 0usize;
    let mut overlay_frame: Option<FrameMetrics> = None;
    let mut detail_ratios: Vec<f64> = Vec::new();
    let mut blur_frame: Option<FrameMetrics> = None;
    // Per sampled frame: its metrics, whether it is low quality, whether it shows a
    // colour change (decided after the loop: low quality needs the segment-level
    // confirmation).
    let mut judged: Vec<(FrameMetrics, bool, bool)> = Vec::new();
    for &i in sampled.iter().filter(|&&i| i < n) {
        // Encoders may round frame-rate conversion differently: take the best match within
        // two frames (consistent shifts are the alignment and frozen detectors' job).
        // The match is decided on luma MSE alone (the PSNR order); the full quality
        // measures are computed once, for the matched frame.
        let best = best_match(reference, &rendition[i].y, i, n)?;
        let matched = best.1;
        let q = quality(&reference[matched], &rendition[i], t)?;
        let fm = FrameMetrics {
            frame: i as u32,
            psnr_y_cdb: cdb(q.psnr_y),
            psnr_uv_cdb: cdb(q.psnr_uv),
            ssim_y_e4: (q.ssim_y.clamp(0.0, 1.0) * 10_000.0).round() as u32,
            outlier_blocks_e4: (q.outliers * 10_000.0).round() as u32,
        };
        report.metrics.push(fm);
        let Some(l) = local else {
            if q.psnr_y < t.min_psnr_y || q.ssim_y < t.min_ssim_y {
                report.faults.push(Fault::LowQuality { rendition: r, metrics: fm });
            } else if q.psnr_uv < t.min_psnr_uv {
                report.faults.push(Fault::ColourShift { rendition: r, metrics: fm });
            } else if q.outliers > t.max_outlier_fraction {
                report.faults.push(Fault::LocalDistortion { rendition: r, metrics: fm });
            }
            continue;
        };
        let f = relative_features(&reference[matched], &reference[i], &l[i], &rendition[i], &q, t)?;
        let flagged = f.blocks;
        let f = FrameFeatures { frame: i as u32, ..f.features };
        report.features.push(f);
        sampled_n += 1;
        if anomalies.is_empty() {
            anomalies = vec![0; flagged.len()];
        }
        for (count, &hit) in anomalies.iter_mut().zip(&flagged) {
            *count += u32::from(hit);
        }
        if f.anomalous_blocks > 0 {
            overlay_frame.get_or_insert(fm);
        }
        // Full-scale deficits (as before) confirmed at the coarse scale, where grain that
        // an honest encoder may drop no longer counts.
        let fine_low = q.psnr_y < f.psnr_y.1.min(t.good_enough.0) - t.max_psnr_y_deficit
            || q.ssim_y < f.ssim_y.1.min(t.good_enough.1) - t.max_ssim_deficit;
        let coarse_low =
            f.coarse_psnr_y.0 < f.coarse_psnr_y.1.min(t.coarse_good_enough) - t.max_coarse_psnr_deficit;
        // Blur: detail lost where the local encode kept it (decided on the median over the
        // sampled frames; a single frame's detail varies too much between honest encoders).
        if f.detail.1 > t.min_local_detail {
            detail_ratios.push(if q.psnr_y >= t.good_enough.0 { 1.0 } else { f.detail.0 / f.detail.1 });
            blur_frame.get_or_insert(fm);
        }
        // Colour: chroma error that one global colour map explains, beyond the local
        // encode's (an honest encoder's chroma lag is local, not a function of colour).
        let colour = f.colour_fit.0 > t.chroma_local_factor * f.colour_fit.1 + t.max_chroma_shift;
        judged.push((fm, fine_low && coarse_low, colour));
    }
    // Low quality: the sampled frames' deficits confirmed on the whole segment (a rate
    // controller may starve some frames of a segment below the local encode and spend
    // the bits on others; starvation and other content are low throughout).
    let segment_low = match local {
        Some(l) if judged.iter().any(|j| j.1) => {
            let (out, own) = segment_coarse_psnr(reference, l, rendition, n, t.coarse_factor.max(1))?;
            report.segment_coarse_psnr_y = Some((out, own));
            out < own.min(t.coarse_good_enough) - t.max_segment_coarse_deficit
        }
        _ => false,
    };
    let mut colour_frames = 0usize;
    let mut colour_frame: Option<FrameMetrics> = None;
    for &(fm, low, colour) in &judged {
        if low && segment_low {
            report.faults.push(Fault::LowQuality { rendition: r, metrics: fm });
        } else if colour {
            colour_frames += 1;
            colour_frame.get_or_insert(fm);
        }
    }
    // Colour: a colour change applies to the whole segment; an honest encoder's chroma
    // lags on some frames of fast-changing saturated content, not on (nearly) all.
    if colour_frames as f64 >= t.colour_min_fraction * sampled_n as f64
        && let Some(fm) = colour_frame
    {
        report.faults.push(Fault::ColourShift { rendition: r, metrics: fm });
    }
    if !detail_ratios.is_empty() {
        detail_ratios.sort_by(f64::total_cmp);
        let median = detail_ratios[detail_ratios.len() / 2];
        // Content whose motion is coherent is structure, not grain: no honest encoder
        // drops most of its detail, so the stricter ratio applies.
        // (The coherence is only measured when the ratio falls between the two thresholds.)
        let min_ratio = if local.is_some()
            && median < t.min_detail_ratio_coherent
            && median >= t.min_detail_ratio
            && motion_coherence(reference, &thumbs_ref)? >= t.redraw_min_coherence
        {
            t.min_detail_ratio_coherent
        } else {
            t.min_detail_ratio
        };
        // Confirmed on the whole segment (as low quality is): a blur is on every frame,
        // while a front-loaded honest encoder drops the grain only on the frames it starves.
        if median < min_ratio
            && let Some(fm) = blur_frame
            && !report.faults.iter().any(|f| matches!(f, Fault::LowQuality { .. }))
            && let Some(l) = local
        {
            let segment = segment_detail_ratio(l, rendition, n, t.min_local_detail);
            report.segment_detail_ratio = Some(segment);
            if segment < min_ratio {
                report.faults.push(Fault::LowQuality { rendition: r, metrics: fm });
            }
        }
    }
    // Overlay: blocks whose mean departs from the reference far more than the local
    // encode's, at the same place in all sampled frames but one (an overlay is
    // persistent; an honest encoder's local failures move with the content).
    let needed = sampled_n.saturating_sub(1).max(2) as u32;
    let persistent = anomalies.iter().filter(|&&c| c >= needed).count();
    let mut per_frame: Vec<u32> = report.features.iter().map(|f| f.anomalous_blocks).collect();
    per_frame.sort_unstable();
    let typical = per_frame.get(1).or(per_frame.first()).copied().unwrap_or(0);
    if persistent >= t.overlay_min_blocks
        && persistent as f64 >= t.overlay_min_share * f64::from(typical)
        && let Some(fm) = overlay_frame
    {
        report.faults.push(Fault::LocalDistortion { rendition: r, metrics: fm });
    }
    report.anomaly_counts = anomalies;
    Ok(report)
}

/// Upscaling and blur: the rendition must keep the fine detail (top of the spectrum) that
/// the local encode keeps. On every `fine_frame_stride`-th frame (matched to the
/// reference frame within ±2 that fits best, as the quality checks do) the score is the
/// rendition's in-phase fine-detail gain over `fine_min_gain_ratio` × the local
/// encode's where the content is structure (`coherent` reference motion) and the local
/// encode keeps the reference's fine detail, else
/// its fine-band energy over `fine_min_energy_ratio` × the local encode's (grain, which
/// every CBR encoder partly drops). The segment fails when the median score is below 1:
/// an upscaled or blurred rendition lacks the band on every frame, while one honest frame
/// can be poor.
#[allow(clippy::too_many_arguments)]
fn fine_detail_check(
    r: u32,
    reference: &[Frame],
    local: &[Frame],
    rendition: &[Frame],
    n: usize,
    coherent: bool,
    t: &Thresholds,
    report: &mut PerceptualReport,
) -> Result<(), Error> {
    for i in (0..n).step_by(t.fine_frame_stride.max(1)) {
        if rendition[i].y.width != reference[i].y.width || rendition[i].y.height != reference[i].y.height {
            continue;
        }
        let best = best_match(reference, &rendition[i].y, i, n)?;
        let band_ref = fine_band(&reference[best.1].y);
        if fine_energy(&band_ref) < t.fine_min_reference_energy {
            continue;
        }
        let band_out = fine_band(&rendition[i].y);
        let band_local = fine_band(&local[i].y);
        let local_gain = if !coherent {
            0.0
        } else if best.1 == i {
            fine_gain(&band_ref, &band_local).unwrap_or(0.0)
        } else {
            fine_gain(&fine_band(&reference[i].y), &band_local).unwrap_or(0.0)
        };
        let score = if local_gain >= t.fine_min_local_gain {
            let gain = fine_gain(&band_ref, &band_out).unwrap_or(0.0);
            gain / (t.fine_min_gain_ratio * local_gain)
        } else {
            let local_energy = fine_energy(&band_local);
            if local_energy < t.fine_min_reference_energy {
                continue;
            }
            fine_energy(&band_out) / (t.fine_min_energy_ratio * local_energy)
        };
        report.fine_scores.push((i as u32, score));
    }
    if report.fine_scores.is_empty() {
        return Ok(());
    }
    let mut scores: Vec<f64> = report.fine_scores.iter().map(|s| s.1).collect();
    scores.sort_by(f64::total_cmp);
    let median = scores[scores.len() / 2];
    if median < 1.0
        && let Some(&(frame, _)) = report.fine_scores.iter().find(|s| s.1 < 1.0)
    {
        let score_e4 = (median.max(0.0) * 10_000.0).round() as u32;
        report.faults.push(Fault::FineDetailLoss { rendition: r, frame, score_e4 });
    }
    Ok(())
}

/// The reference frame within two of `i` (of the first `n`) whose luma is closest to
/// `frame` (the lowest MSE; `i` itself on ties): encoders may round frame-rate conversion
/// differently, and consistent shifts are the alignment and frozen detectors' job.
/// Returns `(mse, index)`.
fn best_match(reference: &[Frame], frame: &Plane, i: usize, n: usize) -> Result<(f64, usize), Error> {
    let mut best = (mse(&reference[i].y, frame)?, i);
    for j in [i.wrapping_sub(2), i.wrapping_sub(1), i + 1, i + 2] {
        if j < n {
            let m = mse(&reference[j].y, frame)?;
            if m < best.0 {
                best = (m, j);
            }
        }
    }
    Ok(best)
}
