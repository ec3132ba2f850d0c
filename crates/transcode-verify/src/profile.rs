//! The rendition profile table: target box, frame rate and constant bit rate.

use crate::error::Error;

/// A frame rate as an exact fraction `num/den` frames per second.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Fps {
    /// Numerator (frames).
    pub num: u32,
    /// Denominator (seconds).
    pub den: u32,
}

impl Fps {
    /// `num/den` frames per second; both must be non-zero.
    pub fn new(num: u32, den: u32) -> Result<Self, Error> {
        if num == 0 || den == 0 {
            return Err(Error::InvalidFps { num, den });
        }
        Ok(Self { num, den })
    }

    /// A whole number of frames per second (`n` must be non-zero to be valid).
    pub const fn whole(n: u32) -> Self {
        Self { num: n, den: 1 }
    }

    /// The rate as a float.
    pub fn as_f64(self) -> f64 {
        f64::from(self.num) / f64::from(self.den.max(1))
    }

    /// Number of frames this rate yields over `duration_us` microseconds, rounded to the
    /// nearest frame (the count a frame-rate converter produces).
    pub fn frames_in(self, duration_us: u64) -> u64 {
        let num = u128::from(self.num) * u128::from(duration_us);
        let den = u128::from(self.den.max(1)) * 1_000_000;
        u64::try_from((num + den / 2) / den).unwrap_or(u64::MAX)
    }
}

/// One rung of an ABR ladder: the output fits inside `width`×`height` with the source
/// aspect ratio preserved, at `fps`, encoded at a constant `bitrate` (bits per second).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Profile {
    /// Short name, e.g. `"P720p30fps16x9"`.
    pub name: &'static str,
    /// Width of the bounding box in pixels.
    pub width: u32,
    /// Height of the bounding box in pixels.
    pub height: u32,
    /// Output frame rate.
    pub fps: Fps,
    /// Target constant bit rate in bits per second.
    pub bitrate: u64,
}

macro_rules! profiles {
    ($( $(#[$doc:meta])* $id:ident = $name:literal ($w:expr, $h:expr, $fps:expr, $kbps:expr); )*) => {
        impl Profile {
            $( $(#[$doc])* pub const $id: Profile = Profile {
                name: $name, width: $w, height: $h, fps: Fps::whole($fps), bitrate: $kbps * 1000,
            }; )*
            /// Every profile of the table, in descending order of size then frame rate.
            pub const TABLE: &'static [Profile] = &[$(Profile::$id),*];
            /// The names meshcast used before it adopted go-livepeer's (`"P720P30"` for
            /// `"P720p30fps16x9"`): the constant's identifier. [`Profile::by_name`] accepts
            /// them as aliases, so stored jobs and configs keep working.
            pub const ALIASES: &'static [(&'static str, Profile)] = &[$((stringify!($id), Profile::$id)),*];
        }
    };
}

// Names are go-livepeer's (`ffmpeg.VideoProfileLookup`: `P{height}p{fps}fps16x9`); the
// constant identifiers are the older meshcast names, kept as aliases.
// The common Livepeer-style ladder (1280x720 .. 256x144) at 25, 30 and 60 fps; bit rates
// scale with pixel rate (the 60 fps rungs get 1.5x the 30 fps rate).
profiles! {
    /// 1280x720 at 25 fps, 4 Mb/s.
    P720P25 = "P720p25fps16x9" (1280, 720, 25, 4000);
    /// 1280x720 at 30 fps, 4 Mb/s.
    P720P30 = "P720p30fps16x9" (1280, 720, 30, 4000);
    /// 1280x720 at 60 fps, 6 Mb/s.
    P720P60 = "P720p60fps16x9" (1280, 720, 60, 6000);
    /// 1024x576 at 25 fps, 1.5 Mb/s.
    P576P25 = "P576p25fps16x9" (1024, 576, 25, 1500);
    /// 1024x576 at 30 fps, 1.5 Mb/s.
    P576P30 = "P576p30fps16x9" (1024, 576, 30, 1500);
    /// 1024x576 at 60 fps, 2.25 Mb/s.
    P576P60 = "P576p60fps16x9" (1024, 576, 60, 2250);
    /// 640x360 at 25 fps, 1.2 Mb/s.
    P360P25 = "P360p25fps16x9" (640, 360, 25, 1200);
    /// 640x360 at 30 fps, 1.2 Mb/s.
    P360P30 = "P360p30fps16x9" (640, 360, 30, 1200);
    /// 640x360 at 60 fps, 1.8 Mb/s.
    P360P60 = "P360p60fps16x9" (640, 360, 60, 1800);
    /// 426x240 at 25 fps, 600 kb/s.
    P240P25 = "P240p25fps16x9" (426, 240, 25, 600);
    /// 426x240 at 30 fps, 600 kb/s.
    P240P30 = "P240p30fps16x9" (426, 240, 30, 600);
    /// 426x240 at 60 fps, 900 kb/s.
    P240P60 = "P240p60fps16x9" (426, 240, 60, 900);
    /// 256x144 at 25 fps, 400 kb/s.
    P144P25 = "P144p25fps16x9" (256, 144, 25, 400);
    /// 256x144 at 30 fps, 400 kb/s.
    P144P30 = "P144p30fps16x9" (256, 144, 30, 400);
    /// 256x144 at 60 fps, 600 kb/s.
    P144P60 = "P144p60fps16x9" (256, 144, 60, 600);
}

impl Profile {
    /// Looks a profile up by its go-livepeer name in [`Profile::TABLE`]
    /// (`"P720p30fps16x9"`), or by its older meshcast alias ([`Profile::ALIASES`],
    /// `"P720P30"`). The returned profile always carries the go-livepeer name.
    pub fn by_name(name: &str) -> Option<Profile> {
        Self::TABLE
            .iter()
            .copied()
            .find(|p| p.name == name)
            .or_else(|| Self::ALIASES.iter().find(|(alias, _)| *alias == name).map(|(_, p)| *p))
    }

    /// The output size for a `src_w`×`src_h` source: the largest size inside the box with
    /// the source aspect ratio, both sides even (rounded down) and at least 2. A portrait
    /// source is fitted to the box with the same area turned on its side.
    pub fn output_size(&self, src_w: u32, src_h: u32) -> Result<(u32, u32), Error> {
        if src_w == 0 || src_h == 0 {
            return Err(Error::InvalidDimensions { width: src_w, height: src_h });
        }
        let (bw, bh) = if src_h > src_w { (self.height, self.width) } else { (self.width, self.height) };
        let (sw, sh) = (u64::from(src_w), u64::from(src_h));
        let (bw, bh) = (u64::from(bw), u64::from(bh));
        // Fit by width unless that overflows the height.
        let (w, h) =
            if sw * bh >= sh * bw { (bw, (sh * bw + sw / 2) / sw) } else { ((sw * bh + sh / 2) / sh, bh) };
        let even = |v: u64| u32::try_from((v & !1).max(2)).unwrap_or(!1);
        Ok((even(w), even(h)))
    }
}
