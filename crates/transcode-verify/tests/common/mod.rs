//! Helpers shared by the integration tests.
#![allow(dead_code)]

use transcode_verify::Frame;

/// Box blur of radius `r` on luma.
pub fn box_blur(frames: &[Frame], r: usize) -> Vec<Frame> {
    frames
        .iter()
        .map(|f| {
            let mut g = f.clone();
            let (w, h) = (f.y.width, f.y.height);
            for y in 0..h {
                for x in 0..w {
                    let (mut s, mut n) = (0u32, 0u32);
                    for yy in y.saturating_sub(r)..(y + r + 1).min(h) {
                        for xx in x.saturating_sub(r)..(x + r + 1).min(w) {
                            s += u32::from(f.y.data[yy * w + xx]);
                            n += 1;
                        }
                    }
                    g.y.data[y * w + x] = (s / n) as u8;
                }
            }
            g
        })
        .collect()
}
