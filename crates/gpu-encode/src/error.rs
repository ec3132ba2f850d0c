//! Errors of the transcoder.

/// Everything that can go wrong transcoding or decoding a segment.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The input bytes are not a readable container or stream.
    #[error("corrupt input at {stage}: {message}")]
    Corrupt {
        /// Where it failed (open input, stream info, read packet, decode).
        stage: &'static str,
        /// FFmpeg's description.
        message: String,
    },
    /// The container has no video stream.
    #[error("no video stream in input")]
    NoVideoStream,
    /// A codec, pixel format or geometry this build cannot handle.
    #[error("unsupported input: {what}")]
    Unsupported {
        /// What is unsupported.
        what: String,
    },
    /// The input is larger than the configured limit.
    #[error("input of {len} bytes exceeds the limit of {limit}")]
    InputTooLarge {
        /// Input size.
        len: usize,
        /// Limit.
        limit: usize,
    },
    /// The input lasts longer (or has more frames) than the configured limit.
    #[error("input of {duration_us} us exceeds the limit of {limit_us} us")]
    InputTooLong {
        /// Duration seen so far, microseconds.
        duration_us: u64,
        /// Limit, microseconds.
        limit_us: u64,
    },
    /// The picture is larger than the configured limit.
    #[error("input picture {width}x{height} exceeds {max_pixels} pixels")]
    PictureTooLarge {
        /// Width.
        width: u32,
        /// Height.
        height: u32,
        /// Limit in pixels.
        max_pixels: u64,
    },
    /// A rendition produced far more output than its bit rate allows.
    #[error("runaway output for {profile}: {bytes} bytes exceeds {limit}")]
    RunawayOutput {
        /// Profile name.
        profile: &'static str,
        /// Bytes produced.
        bytes: usize,
        /// Limit.
        limit: usize,
    },
    /// No usable encoder (neither the hardware one nor libx264).
    #[error("encoder {name} unavailable")]
    EncoderUnavailable {
        /// Encoder name and reason.
        name: String,
    },
    /// A profile rejected the source geometry.
    #[error("profile: {0}")]
    Profile(#[from] transcode_verify::Error),
    /// The transcoder was configured with no renditions.
    #[error("no renditions configured")]
    NoRenditions,
    /// An FFmpeg call failed for a reason other than bad input.
    #[error("{op} failed ({code}): {message}")]
    Ffmpeg {
        /// The FFmpeg function.
        op: &'static str,
        /// Its error code.
        code: i32,
        /// FFmpeg's description.
        message: String,
    },
    /// FFmpeg could not allocate memory.
    #[error("out of memory")]
    OutOfMemory,
}
