//! Decoded pictures: packed 8-bit planes of a YUV 4:2:0 frame with its timestamp.

use crate::error::Error;

/// One packed 8-bit plane (`data.len() == width * height`, no padding).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Plane {
    /// Width in samples.
    pub width: usize,
    /// Height in samples.
    pub height: usize,
    /// Row-major samples.
    pub data: Vec<u8>,
}

impl Plane {
    /// A plane from packed samples; the length must equal `width * height`.
    pub fn new(width: usize, height: usize, data: Vec<u8>) -> Result<Self, Error> {
        if width.checked_mul(height) != Some(data.len()) {
            return Err(Error::PlaneSize { width, height, len: data.len() });
        }
        Ok(Self { width, height, data })
    }

    /// A plane filled with `value`.
    pub fn filled(width: usize, height: usize, value: u8) -> Self {
        Self { width, height, data: vec![value; width * height] }
    }

    /// Mean sample value.
    pub fn mean(&self) -> f64 {
        if self.data.is_empty() {
            return 0.0;
        }
        let sum: u64 = self.data.iter().map(|&v| u64::from(v)).sum();
        sum as f64 / self.data.len() as f64
    }
}

/// A decoded YUV 4:2:0 frame: full-size luma `y`, half-size (rounded up) chroma `u`, `v`,
/// and its presentation time in microseconds from the start of the segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// Presentation timestamp, microseconds.
    pub pts_us: i64,
    /// Luma plane.
    pub y: Plane,
    /// Blue-difference chroma plane.
    pub u: Plane,
    /// Red-difference chroma plane.
    pub v: Plane,
}

impl Frame {
    /// A frame from its planes; the chroma planes must be `ceil(w/2)`×`ceil(h/2)`.
    pub fn new(pts_us: i64, y: Plane, u: Plane, v: Plane) -> Result<Self, Error> {
        let (cw, ch) = (y.width.div_ceil(2), y.height.div_ceil(2));
        for p in [&u, &v] {
            if p.width != cw || p.height != ch {
                return Err(Error::ChromaSize {
                    width: p.width,
                    height: p.height,
                    luma_width: y.width,
                    luma_height: y.height,
                });
            }
        }
        Ok(Self { pts_us, y, u, v })
    }

    /// A flat frame of one colour.
    pub fn solid(width: usize, height: usize, pts_us: i64, yuv: [u8; 3]) -> Self {
        let (cw, ch) = (width.div_ceil(2), height.div_ceil(2));
        Self {
            pts_us,
            y: Plane::filled(width, height, yuv[0]),
            u: Plane::filled(cw, ch, yuv[1]),
            v: Plane::filled(cw, ch, yuv[2]),
        }
    }

    /// Luma width.
    pub fn width(&self) -> usize {
        self.y.width
    }

    /// Luma height.
    pub fn height(&self) -> usize {
        self.y.height
    }
}
