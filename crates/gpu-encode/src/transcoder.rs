//! The persistent per-stream transcoding session.

use transcode_verify::{Frame, Plane, Profile};

use crate::error::Error;
use crate::ffi::{
    self, AvFrame, AvPacket, Decoder, Demuxer, Encoder, EncoderSettings, HwDevice, Received, Scaler, TsMuxer,
};
use crate::fps::FpsConverter;

/// Whether to look for hardware acceleration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum HwPolicy {
    /// Use NVDEC/NVENC through CUDA when the FFmpeg build, the driver and the device
    /// support them; fall back to software per component otherwise.
    #[default]
    Auto,
    /// Software only: FFmpeg's native decoders and libx264.
    SoftwareOnly,
}

/// What the session actually uses, detected at run time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Acceleration {
    /// A CUDA device could be opened (NVDEC decoding, frames copied back to host memory).
    pub cuda_decode: bool,
    /// The `h264_nvenc` encoder opened; otherwise `libx264` is used.
    pub nvenc: bool,
}

/// Input limits and the runaway-output guard.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted segment, bytes.
    pub max_input_bytes: usize,
    /// Longest accepted segment, microseconds of presentation time.
    pub max_duration_us: u64,
    /// Largest accepted picture, pixels (w·h).
    pub max_pixels: u64,
    /// A rendition may produce at most this many times its bit rate's worth of bytes
    /// (plus `runaway_slack_bytes`) before the session aborts it.
    pub runaway_factor: u64,
    /// Fixed allowance on top of the bit-rate budget (container overhead, first IDR).
    pub runaway_slack_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_input_bytes: 64 << 20,
            max_duration_us: 20_000_000,
            max_pixels: 4096 * 2304,
            runaway_factor: 4,
            runaway_slack_bytes: 256 << 10,
        }
    }
}

/// Configuration of a [`Transcoder`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TranscoderConfig {
    /// The ladder, one rendition per profile.
    pub profiles: Vec<Profile>,
    /// x264 preset (`ultrafast` … `veryslow`); NVENC uses `p2`.
    pub preset: String,
    /// Hardware policy.
    pub hw: HwPolicy,
    /// Input limits and runaway guard.
    pub limits: Limits,
    /// Encoder threads per rendition (0 = FFmpeg's automatic choice). With libx264 only
    /// `1` gives bit-exact output between runs (frame threads make the output depend on
    /// timing): a verifier's local encode, which is the calibration point of its checks
    /// and must be reproducible for a fault claim, uses 1.
    pub threads: u32,
}

impl TranscoderConfig {
    /// A software-or-hardware (auto) session for `profiles` with the `veryfast` preset
    /// and automatic threading.
    pub fn new(profiles: Vec<Profile>) -> Self {
        Self {
            profiles,
            preset: "veryfast".into(),
            hw: HwPolicy::Auto,
            limits: Limits::default(),
            threads: 0,
        }
    }

    /// The configuration of a verifier's local encode of `profile`, the one
    /// `transcode-verify`'s thresholds are calibrated with: the `ultrafast` preset (the
    /// weakest an honest orchestrator may use, so honest renditions are never expected to
    /// beat it by much), software only, automatic threads. Threaded libx264 is not always
    /// bit-exact between runs; `threads = 1` is, but its rate control skips fewer frames
    /// of grain and the thresholds are not calibrated for it (see `docs/transcode.md`).
    pub fn verifier_local(profile: Profile) -> Self {
        Self { preset: "ultrafast".into(), hw: HwPolicy::SoftwareOnly, ..Self::new(vec![profile]) }
    }
}

/// Facts about a decoded source segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SourceInfo {
    /// Container short name as FFmpeg reports it (`mpegts`, `mov,mp4,…`).
    pub container: String,
    /// Picture width.
    pub width: u32,
    /// Picture height.
    pub height: u32,
    /// Decoded frames.
    pub frames: u64,
    /// Decoded pixels: Σ w·h over decoded frames.
    pub pixels: u64,
    /// Presentation duration, microseconds (last frame end minus first frame start).
    pub duration_us: u64,
    /// Presentation time of the first frame on the stream's clock, microseconds.
    pub start_us: i64,
    /// Packets the decoder rejected (concealed); the segment still decoded.
    pub decode_errors: u64,
}

/// One encoded rendition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rendition {
    /// The profile it was made for.
    pub profile: Profile,
    /// Output width (aspect-preserving fit, even).
    pub width: u32,
    /// Output height.
    pub height: u32,
    /// Encoded frames.
    pub frames: u64,
    /// Encoded pixels: Σ w·h over encoded frames.
    pub pixels: u64,
    /// The MPEG-TS segment.
    pub data: Vec<u8>,
    /// The encoder used (`libx264` or `h264_nvenc`).
    pub encoder: &'static str,
}

/// The result of transcoding one segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SegmentOutput {
    /// The decoded source.
    pub source: SourceInfo,
    /// One rendition per configured profile, in configuration order.
    pub renditions: Vec<Rendition>,
}

/// A decoded segment: every frame as packed YUV 4:2:0 planes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodedSegment {
    /// Facts about the segment.
    pub info: SourceInfo,
    /// The frames in presentation order, timestamps relative to the first frame.
    pub frames: Vec<Frame>,
}

/// A persistent per-stream session: the decoder, scalers and hardware device live across
/// segments; every call to [`Transcoder::transcode`] decodes the segment once and encodes
/// all renditions from the same decoded frames.
pub struct Transcoder {
    config: TranscoderConfig,
    device: Option<HwDevice>,
    decoder: Option<Decoder>,
    scalers: Vec<Option<Scaler>>,
    nvenc_failed: bool,
    segments: u64,
}

impl std::fmt::Debug for Transcoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Transcoder")
            .field("config", &self.config)
            .field("acceleration", &self.acceleration())
            .field("segments", &self.segments)
            .finish()
    }
}

/// The per-rendition sink of the pipeline.
enum Sink {
    Encode(Box<EncodeState>),
    Collect {
        w: u32,
        h: u32,
        fps: transcode_verify::Fps,
        frames: Vec<Frame>,
        scaled: AvFrame,
    },
    /// Encode and keep the uncompressed frames (the verifier's reference and local encode
    /// from one decode and one scale).
    Both {
        enc: Box<EncodeState>,
        frames: Vec<Frame>,
    },
}

/// What a pass of the pipeline produces.
#[derive(Clone, Copy)]
enum Mode<'a> {
    /// Every configured rendition, encoded.
    Ladder,
    /// One profile's uncompressed frames.
    Reference(&'a Profile),
    /// One profile's uncompressed frames and its encode.
    ReferenceAndEncode(&'a Profile),
}

struct EncodeState {
    profile: Profile,
    w: u32,
    h: u32,
    enc: Encoder,
    mux: TsMuxer,
    scaled: AvFrame,
    pkt: AvPacket,
    pts_base: i64,
    frames: u64,
    pixels: u64,
    encoder: &'static str,
    limits: Limits,
}

struct Lane {
    fps: FpsConverter<AvFrame>,
    sink: Sink,
}

impl Transcoder {
    /// Opens a session; hardware is probed once here.
    pub fn new(config: TranscoderConfig) -> Result<Self, Error> {
        if config.profiles.is_empty() {
            return Err(Error::NoRenditions);
        }
        ffi::set_log_level(8); // AV_LOG_FATAL: errors come back as typed values instead.
        let device = match config.hw {
            HwPolicy::Auto if ffi::has_encoder("h264_nvenc") || ffi::has_encoder("libx264") => {
                HwDevice::cuda()
            }
            _ => None,
        };
        let n = config.profiles.len();
        Ok(Self {
            config,
            device,
            decoder: None,
            scalers: (0..n).map(|_| None).collect(),
            nvenc_failed: false,
            segments: 0,
        })
    }

    /// The acceleration in use (NVENC is known for sure after the first segment).
    pub fn acceleration(&self) -> Acceleration {
        Acceleration {
            cuda_decode: self.device.is_some(),
            nvenc: self.device.is_some() && !self.nvenc_failed,
        }
    }

    /// Segments transcoded so far.
    pub fn segments(&self) -> u64 {
        self.segments
    }

    /// The configuration.
    pub fn config(&self) -> &TranscoderConfig {
        &self.config
    }

    /// Transcodes one MPEG-TS or MP4 segment held in memory into every rendition.
    pub fn transcode(&mut self, segment: &[u8]) -> Result<SegmentOutput, Error> {
        let (source, lanes) = self.pipeline(segment, Mode::Ladder)?;
        let mut renditions = Vec::with_capacity(lanes.len());
        for lane in lanes {
            if let Sink::Encode(s) = lane.sink {
                renditions.push(s.finish()?);
            }
        }
        self.segments += 1;
        Ok(SegmentOutput { source, renditions })
    }

    /// Decodes `segment`, scales it to `profile`'s output size and converts the frame
    /// rate exactly as [`Transcoder::transcode`] would, but returns the uncompressed
    /// frames: the local reference a verifier compares renditions against.
    pub fn reference_frames(&mut self, segment: &[u8], profile: &Profile) -> Result<Vec<Frame>, Error> {
        let (_, lanes) = self.pipeline(segment, Mode::Reference(profile))?;
        Ok(lanes
            .into_iter()
            .flat_map(|l| match l.sink {
                Sink::Collect { frames, .. } | Sink::Both { frames, .. } => frames,
                Sink::Encode(_) => Vec::new(),
            })
            .collect())
    }

    /// [`Transcoder::reference_frames`] and this session's own encode of `profile` (with
    /// the session's preset) from a single decode and scale: what a verifier needs for the
    /// relative perceptual checks (the reference and its local encode), at the cost of
    /// one pass instead of two.
    pub fn reference_and_encode(
        &mut self,
        segment: &[u8],
        profile: &Profile,
    ) -> Result<(Vec<Frame>, Rendition), Error> {
        let (_, lanes) = self.pipeline(segment, Mode::ReferenceAndEncode(profile))?;
        for lane in lanes {
            if let Sink::Both { enc, frames } = lane.sink {
                return Ok((frames, enc.finish()?));
            }
        }
        Err(Error::NoRenditions)
    }

    fn pipeline(&mut self, segment: &[u8], mode: Mode<'_>) -> Result<(SourceInfo, Vec<Lane>), Error> {
        let limits = self.config.limits;
        let (mut dem, stream) = open_input(segment, &limits)?;
        let reuse = self.decoder.as_ref().is_some_and(|d| d.matches(&dem, &stream));
        if reuse {
            if let Some(d) = self.decoder.as_mut() {
                d.flush();
            }
        } else {
            self.decoder = Some(Decoder::open(&dem, &stream, self.device.as_ref()).or_else(|e| {
                if self.device.is_some() { Decoder::open(&dem, &stream, None) } else { Err(e) }
            })?);
        }
        let Some(decoder) = self.decoder.as_mut() else { return Err(Error::NoVideoStream) };
        let profiles: Vec<Profile> = match mode {
            Mode::Reference(p) | Mode::ReferenceAndEncode(p) => vec![*p],
            Mode::Ladder => self.config.profiles.clone(),
        };
        if self.scalers.is_empty() {
            self.scalers.push(None);
        }
        let mut lanes: Vec<Lane> = Vec::new();
        let scalers = &mut self.scalers;
        let device = self.device.is_some() && !self.nvenc_failed;
        let preset = self.config.preset.clone();
        let threads = self.config.threads;
        let mut nvenc_failed = false;
        let info = decode_all(&mut dem, decoder, &stream, &limits, |frame, t_us, abs_us| {
            if lanes.is_empty() {
                for p in &profiles {
                    let (w, h) = p.output_size(frame.width(), frame.height())?;
                    let sink = match mode {
                        Mode::Reference(_) => Sink::Collect {
                            w,
                            h,
                            fps: p.fps,
                            frames: Vec::new(),
                            scaled: AvFrame::yuv420(w, h)?,
                        },
                        Mode::Ladder | Mode::ReferenceAndEncode(_) => {
                            let (st, failed) =
                                EncodeState::open(p, w, h, (&preset, threads), device, abs_us, limits)?;
                            nvenc_failed |= failed;
                            if matches!(mode, Mode::Ladder) {
                                Sink::Encode(Box::new(st))
                            } else {
                                Sink::Both { enc: Box::new(st), frames: Vec::new() }
                            }
                        }
                    };
                    lanes.push(Lane { fps: FpsConverter::new(p.fps.num, p.fps.den), sink });
                }
            }
            for (i, lane) in lanes.iter_mut().enumerate() {
                if let Some((item, range)) = lane.fps.push(t_us, frame.try_clone()?) {
                    lane.sink.emit(&item, range, &mut scalers[i])?;
                }
            }
            Ok(())
        })?;
        self.nvenc_failed |= nvenc_failed;
        let end_us = i64::try_from(info.duration_us).unwrap_or(i64::MAX);
        for (i, lane) in lanes.iter_mut().enumerate() {
            if let Some((item, range)) = lane.fps.finish(end_us) {
                lane.sink.emit(&item, range, &mut self.scalers[i])?;
            }
        }
        Ok((info, lanes))
    }
}

impl Sink {
    fn emit(
        &mut self,
        src: &AvFrame,
        slots: std::ops::Range<u64>,
        scaler: &mut Option<Scaler>,
    ) -> Result<(), Error> {
        let (scaled, w, h) = match self {
            Sink::Encode(s) | Sink::Both { enc: s, .. } => (&mut s.scaled, s.w, s.h),
            Sink::Collect { w, h, scaled, .. } => (scaled, *w, *h),
        };
        scaled.make_writable()?;
        if !scaler.as_ref().is_some_and(|s| s.fits(src, w, h)) {
            *scaler = Some(Scaler::new(src.width(), src.height(), src.format(), w, h)?);
        }
        if let Some(s) = scaler.as_mut() {
            s.scale(src, scaled)?;
        }
        match self {
            Sink::Encode(s) => {
                for slot in slots {
                    s.encode(slot)?;
                }
            }
            Sink::Collect { fps, frames, scaled, .. } => collect(scaled, *fps, slots, frames)?,
            Sink::Both { enc, frames } => {
                collect(&enc.scaled, enc.profile.fps, slots.clone(), frames)?;
                for slot in slots {
                    enc.encode(slot)?;
                }
            }
        }
        Ok(())
    }
}

/// Appends copies of `scaled` for the output slots `slots` (timestamps from the slot).
fn collect(
    scaled: &AvFrame,
    fps: transcode_verify::Fps,
    slots: std::ops::Range<u64>,
    frames: &mut Vec<Frame>,
) -> Result<(), Error> {
    let planes = scaled.planes_yuv420()?;
    for slot in slots {
        let us = i128::from(slot) * 1_000_000 * i128::from(fps.den) / i128::from(fps.num.max(1));
        frames.push(to_frame(&planes, i64::try_from(us).unwrap_or(i64::MAX))?);
    }
    Ok(())
}

fn to_frame(planes: &[(usize, usize, Vec<u8>); 3], pts: i64) -> Result<Frame, Error> {
    let mk = |(w, h, d): &(usize, usize, Vec<u8>)| Plane::new(*w, *h, d.clone());
    Ok(Frame::new(pts, mk(&planes[0])?, mk(&planes[1])?, mk(&planes[2])?)?)
}

impl EncodeState {
    fn open(
        p: &Profile,
        w: u32,
        h: u32,
        (preset, threads): (&str, u32),
        try_nvenc: bool,
        abs_us: i64,
        limits: Limits,
    ) -> Result<(Self, bool), Error> {
        let mut settings = EncoderSettings {
            name: "libx264",
            width: w,
            height: h,
            fps: (p.fps.num, p.fps.den),
            bitrate: p.bitrate,
            preset: preset.into(),
            gop: p.fps.num.div_ceil(p.fps.den.max(1)) * 4,
            threads,
        };
        let mut nvenc_failed = false;
        let mut enc = None;
        if try_nvenc {
            let nv = EncoderSettings { name: "h264_nvenc", preset: "p2".into(), ..settings.clone() };
            match Encoder::open(&nv) {
                Ok(e) => {
                    settings = nv;
                    enc = Some(e);
                }
                Err(_) => nvenc_failed = true,
            }
        }
        let enc = match enc {
            Some(e) => e,
            None => Encoder::open(&settings)?,
        };
        let mux = TsMuxer::new(&enc)?;
        let (tb_num, tb_den) = enc.time_base();
        // Continue the stream's clock across segments: first output pts = source start.
        let pts_base = i128::from(abs_us) * i128::from(tb_den) / (i128::from(tb_num.max(1)) * 1_000_000);
        Ok((
            Self {
                profile: *p,
                w,
                h,
                enc,
                mux,
                scaled: AvFrame::yuv420(w, h)?,
                pkt: AvPacket::new()?,
                pts_base: i64::try_from(pts_base).unwrap_or(0),
                frames: 0,
                pixels: 0,
                encoder: settings.name,
                limits,
            },
            nvenc_failed,
        ))
    }

    fn encode(&mut self, slot: u64) -> Result<(), Error> {
        let slot = i64::try_from(slot).unwrap_or(i64::MAX);
        self.scaled.set_pts(self.pts_base.saturating_add(slot));
        self.scaled.set_key(slot == 0);
        self.enc.send(Some(&self.scaled))?;
        self.frames += 1;
        self.pixels += u64::from(self.w) * u64::from(self.h);
        self.drain()
    }

    fn drain(&mut self) -> Result<(), Error> {
        while self.enc.receive(&mut self.pkt)? {
            self.mux.write(&mut self.pkt)?;
        }
        let fps = self.profile.fps.as_f64().max(1.0);
        let seconds = self.frames as f64 / fps + 1.0;
        let limit = (self.profile.bitrate as f64 / 8.0 * seconds * self.limits.runaway_factor as f64)
            as usize
            + self.limits.runaway_slack_bytes;
        if self.mux.written() > limit {
            return Err(Error::RunawayOutput {
                profile: self.profile.name,
                bytes: self.mux.written(),
                limit,
            });
        }
        Ok(())
    }

    fn finish(mut self) -> Result<Rendition, Error> {
        self.enc.send(None)?;
        self.drain()?;
        let data = self.mux.finish()?;
        Ok(Rendition {
            profile: self.profile,
            width: self.w,
            height: self.h,
            frames: self.frames,
            pixels: self.pixels,
            data,
            encoder: self.encoder,
        })
    }
}

fn open_input(segment: &[u8], limits: &Limits) -> Result<(Demuxer, ffi::StreamFacts), Error> {
    if segment.len() > limits.max_input_bytes {
        return Err(Error::InputTooLarge { len: segment.len(), limit: limits.max_input_bytes });
    }
    if segment.is_empty() {
        return Err(Error::Corrupt { stage: "open input", message: "empty input".into() });
    }
    let dem = Demuxer::open(segment.to_vec())?;
    let stream = dem.video_stream()?;
    if !stream.codec_name_known {
        return Err(Error::Unsupported { what: "unknown video codec".into() });
    }
    check_picture(stream.width, stream.height, limits)?;
    Ok((dem, stream))
}

fn check_picture(width: u32, height: u32, limits: &Limits) -> Result<(), Error> {
    if u64::from(width) * u64::from(height) > limits.max_pixels {
        return Err(Error::PictureTooLarge { width, height, max_pixels: limits.max_pixels });
    }
    Ok(())
}

fn ts_to_us(ts: i64, tb: (i32, i32)) -> i64 {
    let den = i128::from(tb.1.max(1));
    let v = (i128::from(ts) * i128::from(tb.0) * 1_000_000 * 2 + den).div_euclid(2 * den);
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Decodes every frame of the video stream, calling `each(frame, t_rel_us, t_abs_us)`.
fn decode_all(
    dem: &mut Demuxer,
    dec: &mut Decoder,
    stream: &ffi::StreamFacts,
    limits: &Limits,
    mut each: impl FnMut(&AvFrame, i64, i64) -> Result<(), Error>,
) -> Result<SourceInfo, Error> {
    let frame_us = if stream.avg_fps.0 > 0 && stream.avg_fps.1 > 0 {
        (i64::from(stream.avg_fps.1) * 2_000_000 + i64::from(stream.avg_fps.0))
            / (2 * i64::from(stream.avg_fps.0))
    } else {
        40_000
    };
    let mut info = SourceInfo {
        container: dem.format_name(),
        width: stream.width,
        height: stream.height,
        frames: 0,
        pixels: 0,
        duration_us: 0,
        start_us: 0,
        decode_errors: 0,
    };
    let mut first: Option<i64> = None;
    let mut last = i64::MIN;
    let mut pkt = AvPacket::new()?;
    let mut handle = |f: AvFrame, info: &mut SourceInfo| -> Result<(), Error> {
        let abs = match f.best_effort_pts() {
            Some(ts) => ts_to_us(ts, stream.time_base),
            None if last == i64::MIN => 0,
            None => last + frame_us,
        };
        // Frames must move forward in time; a non-increasing stamp is treated as the next slot.
        let abs = if last != i64::MIN && abs <= last { last + 1 } else { abs };
        let t0 = *first.get_or_insert(abs);
        last = abs;
        let rel = abs - t0;
        let dur = u64::try_from(rel).unwrap_or(0) + u64::try_from(frame_us).unwrap_or(0);
        if dur > limits.max_duration_us {
            return Err(Error::InputTooLong { duration_us: dur, limit_us: limits.max_duration_us });
        }
        check_picture(f.width(), f.height(), limits)?;
        info.frames += 1;
        info.pixels += u64::from(f.width()) * u64::from(f.height());
        info.width = f.width();
        info.height = f.height();
        info.duration_us = dur;
        info.start_us = t0;
        each(&f, rel, abs)
    };
    let mut drain = |dec: &mut Decoder, info: &mut SourceInfo| -> Result<bool, Error> {
        loop {
            match dec.receive() {
                Ok(Received::Frame(f)) => handle(f, info)?,
                Ok(Received::Again) => return Ok(true),
                Ok(Received::Eof) => return Ok(false),
                Err(Error::Corrupt { .. }) => info.decode_errors += 1,
                Err(e) => return Err(e),
            }
        }
    };
    loop {
        let more = match dem.read(&mut pkt) {
            Ok(m) => m,
            Err(Error::Corrupt { .. }) if info.frames > 0 => {
                info.decode_errors += 1;
                false
            }
            Err(e) => return Err(e),
        };
        if !more {
            break;
        }
        if pkt.stream_index() != stream.index {
            continue;
        }
        let rc = dec.send(Some(&pkt));
        if rc < 0 && !Decoder::is_eagain(rc) {
            info.decode_errors += 1;
        }
        drain(dec, &mut info)?;
    }
    let _ = dec.send(None);
    drain(dec, &mut info)?;
    if info.frames == 0 {
        return Err(Error::Corrupt { stage: "decode", message: "no frame could be decoded".into() });
    }
    Ok(info)
}

/// Decodes a segment (MPEG-TS or MP4, in memory) into packed YUV 4:2:0 frames at its own
/// size and rate, timestamps relative to the first frame. Used to read renditions back
/// for verification.
pub fn decode_segment(segment: &[u8], limits: &Limits) -> Result<DecodedSegment, Error> {
    ffi::set_log_level(8);
    let (mut dem, stream) = open_input(segment, limits)?;
    let mut dec = Decoder::open(&dem, &stream, None)?;
    let mut frames = Vec::new();
    let mut conv: Option<(Scaler, AvFrame)> = None;
    let info = decode_all(&mut dem, &mut dec, &stream, limits, |f, rel, _| {
        let planes = if f.format() == ffmpeg_sys_next::AVPixelFormat::AV_PIX_FMT_YUV420P as i32 {
            f.planes_yuv420()?
        } else {
            let (w, h) = (f.width(), f.height());
            if !conv.as_ref().is_some_and(|(s, _)| s.fits(f, w, h)) {
                conv = Some((Scaler::new(w, h, f.format(), w, h)?, AvFrame::yuv420(w, h)?));
            }
            let Some((s, out)) = conv.as_mut() else { return Err(Error::OutOfMemory) };
            out.make_writable()?;
            s.scale(f, out)?;
            out.planes_yuv420()?
        };
        frames.push(to_frame(&planes, rel)?);
        Ok(())
    })?;
    Ok(DecodedSegment { info, frames })
}

/// Container-level facts about a segment, read without decoding (cheap checks).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProbeInfo {
    /// Container short name.
    pub container: String,
    /// Coded width.
    pub width: u32,
    /// Coded height.
    pub height: u32,
    /// Video packets (one per frame for H.264 in MPEG-TS).
    pub frames: u64,
    /// Presentation duration from packet timestamps, microseconds.
    pub duration_us: u64,
    /// Declared average frame rate (num, den); (0, 1) if unknown.
    pub fps: (u32, u32),
    /// Video payload bytes.
    pub video_bytes: u64,
}

/// Reads a segment's packets without decoding them: size, frame count, duration, rate.
pub fn probe(segment: &[u8], limits: &Limits) -> Result<ProbeInfo, Error> {
    ffi::set_log_level(8);
    let (mut dem, stream) = open_input(segment, limits)?;
    let mut pkt = AvPacket::new()?;
    let (mut frames, mut bytes) = (0u64, 0u64);
    let (mut lo, mut hi) = (i64::MAX, i64::MIN);
    while dem.read(&mut pkt)? {
        if pkt.stream_index() != stream.index {
            continue;
        }
        frames += 1;
        bytes += pkt.size() as u64;
        let (pts, dts, d) = pkt.timing();
        if let Some(t) = pts.or(dts) {
            lo = lo.min(t);
            hi = hi.max(t.saturating_add(d.max(0)));
        }
    }
    let fps = (u32::try_from(stream.avg_fps.0).unwrap_or(0), u32::try_from(stream.avg_fps.1).unwrap_or(1));
    let mut duration_us =
        if hi > lo { u64::try_from(ts_to_us(hi - lo, stream.time_base)).unwrap_or(0) } else { 0 };
    // Packets without a duration: the span covers frames-1 intervals; add the last one.
    if fps.0 > 0 && frames > 0 {
        let per = u64::from(fps.1) * 1_000_000 / u64::from(fps.0);
        let span = per * frames;
        if duration_us + per / 2 < span && duration_us + per + per / 2 >= span {
            duration_us += per;
        }
    }
    Ok(ProbeInfo {
        container: dem.format_name(),
        width: stream.width,
        height: stream.height,
        frames,
        duration_us,
        fps,
        video_bytes: bytes,
    })
}
