//! # gpu-encode
//!
//! The one meshcast crate that links FFmpeg (through `ffmpeg-sys-next`). It turns an
//! incoming video segment into an adaptive-bit-rate ladder the way a Livepeer
//! orchestrator (Streamflow) or a Theta edge transcoder does:
//!
//! ```text
//! segment bytes (MPEG-TS / MP4, in memory)
//!   -> demux (custom AVIO over the buffer) -> decode ONCE (NVDEC when present)
//!   -> per rendition: scale (aspect kept, even sizes) -> frame-rate conversion
//!   -> H.264 CBR encode (NVENC when present, libx264 otherwise) -> MPEG-TS in memory
//! ```
//!
//! ## Model and call order
//! 1. [`Transcoder::new`] with a [`TranscoderConfig`] (the ladder as
//!    [`transcode_verify::Profile`]s, an x264 preset, a [`HwPolicy`], [`Limits`]). The
//!    session is per stream: the decoder, the scalers and the CUDA device persist.
//! 2. [`Transcoder::transcode`] for every segment, in order. It returns a
//!    [`SegmentOutput`]: decoded frame and pixel counts of the source, and one
//!    [`Rendition`] per profile with its MPEG-TS bytes, frame count and encoded pixel count
//!    (Σ w·h over encoded frames, the figure Livepeer's pixel-count check uses).
//! 3. For verification, [`decode_segment`] reads any segment back into packed YUV 4:2:0
//!    [`transcode_verify::Frame`]s, [`Transcoder::reference_frames`] produces the
//!    uncompressed scaled and rate-converted reference a rendition should approximate,
//!    [`Transcoder::reference_and_encode`] gives that reference and the session's own
//!    encode from one decode (a verifier's local encode, configured by
//!    [`TranscoderConfig::verifier_local`]), and [`probe`] reads container facts
//!    (frames, duration, rate) without decoding.
//! 4. [`verify_rendition`] runs the whole verifier on one source segment and one
//!    rendition (the `verdict` example's library function).
//!
//! ## Invariants
//! - Scaling happens before frame-rate conversion, and a frame dropped by the rate
//!   converter is never scaled or encoded ([`FpsConverter`]).
//! - Every rendition is an independent MPEG-TS whose first frame is an IDR picture; its
//!   timestamps continue the source clock so consecutive segments concatenate.
//! - Bad input never panics: it is an [`Error`] (`Corrupt`, `NoVideoStream`,
//!   `Unsupported`, `InputTooLarge`, `InputTooLong`, `PictureTooLarge`); an encoder that
//!   produces more than `runaway_factor` times its bit rate is stopped (`RunawayOutput`).
//! - Hardware is detected at run time; a machine without a GPU uses libx264 and passes
//!   every test. All `unsafe` code lives in one private module of RAII wrappers.
//!
//! ## Example
//! ```no_run
//! use gpu_encode::{Transcoder, TranscoderConfig};
//! use transcode_verify::Profile;
//!
//! # fn main() -> Result<(), gpu_encode::Error> {
//! let segment: Vec<u8> = Vec::new(); // an MPEG-TS segment from the broadcaster
//! let mut session = Transcoder::new(TranscoderConfig::new(vec![Profile::P360P30, Profile::P240P30]))?;
//! let out = session.transcode(&segment)?;
//! for r in &out.renditions {
//!     println!("{} {}x{} {} frames {} pixels", r.profile.name, r.width, r.height, r.frames, r.pixels);
//! }
//! # Ok(()) }
//! ```

mod error;
mod ffi;
mod fps;
mod transcoder;
mod verify;

pub use error::Error;
pub use fps::FpsConverter;
pub use transcoder::{
    Acceleration, DecodedSegment, HwPolicy, Limits, ProbeInfo, Rendition, SegmentOutput, SourceInfo,
    Transcoder, TranscoderConfig, decode_segment, probe,
};
pub use verify::{RenditionVerdict, secret_from_u64, verify_rendition};
