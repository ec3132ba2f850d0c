//! The only module with `unsafe` code: thin RAII wrappers over the FFmpeg C API.
//!
//! Every FFmpeg object is owned by exactly one wrapper whose `Drop` frees it, and every
//! raw pointer a wrapper holds is non-null for the wrapper's whole life (constructors
//! return an error instead). Callbacks given to FFmpeg (`read`, `seek`, `write`,
//! `get_format`) receive an `opaque` pointer to a `Box` the wrapper owns and keeps alive
//! until the FFmpeg object that uses it is freed.
#![allow(unsafe_code)]

use std::ffi::{CStr, CString, c_int, c_void};
use std::ptr;

use ffmpeg_sys_next as sys;

use crate::error::Error;

/// `AVERROR(EAGAIN)`: errno 11 on Linux.
const EAGAIN: c_int = sys::AVERROR(11);
/// `AVSEEK_SIZE`: the seek callback is asked for the stream size.
const AVSEEK_SIZE: c_int = 0x10000;
/// Size of the AVIO scratch buffers.
const IO_BUFFER: usize = 32 * 1024;

/// The text FFmpeg gives for an error code.
pub(crate) fn error_text(code: c_int) -> String {
    let mut buf = [0 as std::ffi::c_char; 128];
    // SAFETY: `buf` is a writable buffer of the length passed; av_strerror NUL-terminates.
    let rc = unsafe { sys::av_strerror(code, buf.as_mut_ptr(), buf.len()) };
    if rc < 0 {
        return format!("error {code}");
    }
    // SAFETY: av_strerror wrote a NUL-terminated string into `buf`.
    unsafe { CStr::from_ptr(buf.as_ptr()) }.to_string_lossy().into_owned()
}

fn check(op: &'static str, code: c_int) -> Result<c_int, Error> {
    if code < 0 { Err(Error::Ffmpeg { op, code, message: error_text(code) }) } else { Ok(code) }
}

// ---------------------------------------------------------------------------------------
// Frames and packets
// ---------------------------------------------------------------------------------------

/// An owned `AVFrame`.
pub(crate) struct AvFrame(*mut sys::AVFrame);

impl AvFrame {
    pub(crate) fn new() -> Result<Self, Error> {
        // SAFETY: plain allocation; null is checked.
        let p = unsafe { sys::av_frame_alloc() };
        if p.is_null() { Err(Error::OutOfMemory) } else { Ok(Self(p)) }
    }

    /// A frame with its own buffers for a `w`×`h` YUV 4:2:0 picture.
    pub(crate) fn yuv420(w: u32, h: u32) -> Result<Self, Error> {
        let f = Self::new()?;
        // SAFETY: `f.0` is a valid frame; fields are plain data written before allocation.
        unsafe {
            (*f.0).width = to_int(w)?;
            (*f.0).height = to_int(h)?;
            (*f.0).format = sys::AVPixelFormat::AV_PIX_FMT_YUV420P as c_int;
            check("av_frame_get_buffer", sys::av_frame_get_buffer(f.0, 0))?;
        }
        Ok(f)
    }

    /// A new reference to the same buffers (no pixel copy).
    pub(crate) fn try_clone(&self) -> Result<Self, Error> {
        // SAFETY: `self.0` is valid; av_frame_clone returns a new frame or null.
        let p = unsafe { sys::av_frame_clone(self.0) };
        if p.is_null() { Err(Error::OutOfMemory) } else { Ok(Self(p)) }
    }

    pub(crate) fn width(&self) -> u32 {
        // SAFETY: `self.0` is a valid frame.
        u32::try_from(unsafe { (*self.0).width }).unwrap_or(0)
    }

    pub(crate) fn height(&self) -> u32 {
        // SAFETY: `self.0` is a valid frame.
        u32::try_from(unsafe { (*self.0).height }).unwrap_or(0)
    }

    pub(crate) fn format(&self) -> c_int {
        // SAFETY: `self.0` is a valid frame.
        unsafe { (*self.0).format }
    }

    /// The best-effort timestamp in stream time base units (`None` if unknown).
    pub(crate) fn best_effort_pts(&self) -> Option<i64> {
        // SAFETY: `self.0` is a valid frame.
        let ts = unsafe { (*self.0).best_effort_timestamp };
        (ts != sys::AV_NOPTS_VALUE).then_some(ts)
    }

    pub(crate) fn set_pts(&mut self, pts: i64) {
        // SAFETY: `self.0` is a valid frame.
        unsafe { (*self.0).pts = pts };
    }

    /// Asks the encoder to make this picture a key frame (or not).
    pub(crate) fn set_key(&mut self, key: bool) {
        // SAFETY: `self.0` is a valid frame.
        unsafe {
            (*self.0).pict_type = if key {
                sys::AVPictureType::AV_PICTURE_TYPE_I
            } else {
                sys::AVPictureType::AV_PICTURE_TYPE_NONE
            };
        }
    }

    /// Copies the three planes of a YUV 4:2:0 frame into packed buffers.
    pub(crate) fn planes_yuv420(&self) -> Result<[(usize, usize, Vec<u8>); 3], Error> {
        if self.format() != sys::AVPixelFormat::AV_PIX_FMT_YUV420P as c_int {
            return Err(Error::Unsupported {
                what: format!("pixel format {} for plane access", self.format()),
            });
        }
        let (w, h) = (self.width() as usize, self.height() as usize);
        let dims = [(w, h), (w.div_ceil(2), h.div_ceil(2)), (w.div_ceil(2), h.div_ceil(2))];
        let mut out: [(usize, usize, Vec<u8>); 3] = Default::default();
        for (i, &(pw, ph)) in dims.iter().enumerate() {
            // SAFETY: a YUV420P frame of this size has planes 0..3 with `linesize[i]` bytes
            // per row and at least `ph` rows of `pw` valid bytes each.
            let (data, stride) = unsafe { ((*self.0).data[i], (*self.0).linesize[i]) };
            let stride =
                usize::try_from(stride).map_err(|_| Error::Unsupported { what: "negative stride".into() })?;
            if data.is_null() || stride < pw {
                return Err(Error::Unsupported { what: "frame without planes".into() });
            }
            let mut v = Vec::with_capacity(pw * ph);
            for row in 0..ph {
                // SAFETY: row `row` starts at data + row*stride and has `pw` readable bytes.
                let s = unsafe { std::slice::from_raw_parts(data.add(row * stride), pw) };
                v.extend_from_slice(s);
            }
            out[i] = (pw, ph, v);
        }
        Ok(out)
    }

    /// Makes the buffers writable (copying them if the encoder still references them).
    pub(crate) fn make_writable(&mut self) -> Result<(), Error> {
        // SAFETY: `self.0` is a valid frame with buffers.
        check("av_frame_make_writable", unsafe { sys::av_frame_make_writable(self.0) })?;
        Ok(())
    }
}

impl Drop for AvFrame {
    fn drop(&mut self) {
        // SAFETY: `self.0` was allocated by av_frame_alloc/clone and is freed once here.
        unsafe { sys::av_frame_free(&mut self.0) };
    }
}

/// An owned `AVPacket`.
pub(crate) struct AvPacket(*mut sys::AVPacket);

impl AvPacket {
    pub(crate) fn new() -> Result<Self, Error> {
        // SAFETY: plain allocation; null is checked.
        let p = unsafe { sys::av_packet_alloc() };
        if p.is_null() { Err(Error::OutOfMemory) } else { Ok(Self(p)) }
    }

    fn unref(&mut self) {
        // SAFETY: `self.0` is a valid packet.
        unsafe { sys::av_packet_unref(self.0) };
    }

    pub(crate) fn stream_index(&self) -> c_int {
        // SAFETY: `self.0` is a valid packet.
        unsafe { (*self.0).stream_index }
    }

    pub(crate) fn size(&self) -> usize {
        // SAFETY: `self.0` is a valid packet.
        usize::try_from(unsafe { (*self.0).size }).unwrap_or(0)
    }

    /// (pts, dts, duration) in stream time base; `None` for unknown stamps.
    pub(crate) fn timing(&self) -> (Option<i64>, Option<i64>, i64) {
        // SAFETY: `self.0` is a valid packet.
        let (pts, dts, d) = unsafe { ((*self.0).pts, (*self.0).dts, (*self.0).duration) };
        let known = |t: i64| (t != sys::AV_NOPTS_VALUE).then_some(t);
        (known(pts), known(dts), d)
    }
}

impl Drop for AvPacket {
    fn drop(&mut self) {
        // SAFETY: allocated by av_packet_alloc, freed once.
        unsafe { sys::av_packet_free(&mut self.0) };
    }
}

fn to_int(v: u32) -> Result<c_int, Error> {
    c_int::try_from(v).map_err(|_| Error::Unsupported { what: format!("dimension {v}") })
}

// ---------------------------------------------------------------------------------------
// Demuxing from memory
// ---------------------------------------------------------------------------------------

struct ReadState {
    data: Vec<u8>,
    pos: usize,
}

unsafe extern "C" fn read_cb(opaque: *mut c_void, buf: *mut u8, buf_size: c_int) -> c_int {
    // SAFETY: `opaque` is the `ReadState` box owned by the `Demuxer`, alive while FFmpeg
    // may call back; `buf` has `buf_size` writable bytes.
    let st = unsafe { &mut *(opaque as *mut ReadState) };
    let remaining = st.data.len().saturating_sub(st.pos);
    if remaining == 0 {
        return sys::AVERROR_EOF;
    }
    let n = remaining.min(usize::try_from(buf_size).unwrap_or(0));
    // SAFETY: source range is inside `data`, destination has room for `n <= buf_size`.
    unsafe { ptr::copy_nonoverlapping(st.data.as_ptr().add(st.pos), buf, n) };
    st.pos += n;
    c_int::try_from(n).unwrap_or(0)
}

unsafe extern "C" fn seek_cb(opaque: *mut c_void, offset: i64, whence: c_int) -> i64 {
    // SAFETY: as in `read_cb`.
    let st = unsafe { &mut *(opaque as *mut ReadState) };
    let len = i64::try_from(st.data.len()).unwrap_or(i64::MAX);
    if whence & AVSEEK_SIZE != 0 {
        return len;
    }
    let base = match whence & 3 {
        0 => 0,
        1 => i64::try_from(st.pos).unwrap_or(i64::MAX),
        2 => len,
        _ => return i64::from(sys::AVERROR(22)),
    };
    let target = base.saturating_add(offset);
    if !(0..=len).contains(&target) {
        return i64::from(sys::AVERROR(22));
    }
    st.pos = usize::try_from(target).unwrap_or(0);
    target
}

/// Facts about the video stream a demuxer found.
#[derive(Clone, Copy, Debug)]
pub(crate) struct StreamFacts {
    pub index: c_int,
    pub width: u32,
    pub height: u32,
    pub time_base: (i32, i32),
    pub avg_fps: (i32, i32),
    pub codec_name_known: bool,
}

/// An input format context reading from an in-memory buffer.
pub(crate) struct Demuxer {
    fmt: *mut sys::AVFormatContext,
    avio: *mut sys::AVIOContext,
    _state: Box<ReadState>,
}

impl Demuxer {
    pub(crate) fn open(data: Vec<u8>) -> Result<Self, Error> {
        let mut state = Box::new(ReadState { data, pos: 0 });
        // SAFETY: av_malloc returns a buffer of IO_BUFFER bytes or null (checked).
        let buffer = unsafe { sys::av_malloc(IO_BUFFER) } as *mut u8;
        if buffer.is_null() {
            return Err(Error::OutOfMemory);
        }
        let opaque = (&mut *state) as *mut ReadState as *mut c_void;
        // SAFETY: the buffer and the opaque state outlive the context (freed in Drop
        // after it); the callbacks match FFmpeg's signatures.
        let avio = unsafe {
            sys::avio_alloc_context(buffer, IO_BUFFER as c_int, 0, opaque, Some(read_cb), None, Some(seek_cb))
        };
        if avio.is_null() {
            // SAFETY: the buffer was not adopted; free it.
            unsafe { sys::av_free(buffer as *mut c_void) };
            return Err(Error::OutOfMemory);
        }
        // SAFETY: plain allocation, checked below.
        let mut fmt = unsafe { sys::avformat_alloc_context() };
        let mut me = Self { fmt: ptr::null_mut(), avio, _state: state };
        if fmt.is_null() {
            return Err(Error::OutOfMemory);
        }
        // SAFETY: `fmt` is a fresh context; we attach our AVIO and mark it custom so
        // FFmpeg never closes it. On failure avformat_open_input frees `fmt` and nulls it.
        unsafe {
            (*fmt).pb = avio;
            (*fmt).flags |= sys::AVFMT_FLAG_CUSTOM_IO as c_int;
            let rc = sys::avformat_open_input(&mut fmt, ptr::null(), ptr::null(), ptr::null_mut());
            if rc < 0 {
                return Err(Error::Corrupt { stage: "open input", message: error_text(rc) });
            }
            me.fmt = fmt;
            let rc = sys::avformat_find_stream_info(fmt, ptr::null_mut());
            if rc < 0 {
                return Err(Error::Corrupt { stage: "stream info", message: error_text(rc) });
            }
        }
        Ok(me)
    }

    /// The container format's short name (e.g. `mpegts`, `mov,mp4,m4a,3gp,3g2,mj2`).
    pub(crate) fn format_name(&self) -> String {
        // SAFETY: `fmt` is open; `iformat` and its name are static strings.
        unsafe {
            let f = (*self.fmt).iformat;
            if f.is_null() || (*f).name.is_null() {
                String::new()
            } else {
                CStr::from_ptr((*f).name).to_string_lossy().into_owned()
            }
        }
    }

    /// The best video stream.
    pub(crate) fn video_stream(&self) -> Result<StreamFacts, Error> {
        // SAFETY: `fmt` is open; the returned index is checked before use and the stream
        // array has `nb_streams` valid entries.
        unsafe {
            let idx = sys::av_find_best_stream(
                self.fmt,
                sys::AVMediaType::AVMEDIA_TYPE_VIDEO,
                -1,
                -1,
                ptr::null_mut(),
                0,
            );
            if idx < 0 || u32::try_from(idx).map_or(true, |i| i >= (*self.fmt).nb_streams) {
                return Err(Error::NoVideoStream);
            }
            let st = *(*self.fmt).streams.add(idx as usize);
            let par = (*st).codecpar;
            Ok(StreamFacts {
                index: idx,
                width: u32::try_from((*par).width).unwrap_or(0),
                height: u32::try_from((*par).height).unwrap_or(0),
                time_base: ((*st).time_base.num, (*st).time_base.den),
                avg_fps: if (*st).avg_frame_rate.num > 0 {
                    ((*st).avg_frame_rate.num, (*st).avg_frame_rate.den)
                } else {
                    ((*st).r_frame_rate.num, (*st).r_frame_rate.den)
                },
                codec_name_known: (*par).codec_id != sys::AVCodecID::AV_CODEC_ID_NONE,
            })
        }
    }

    /// Reads the next packet into `pkt`; `Ok(false)` at the end of the input.
    pub(crate) fn read(&mut self, pkt: &mut AvPacket) -> Result<bool, Error> {
        pkt.unref();
        // SAFETY: `fmt` is open and `pkt.0` a valid, unreferenced packet.
        let rc = unsafe { sys::av_read_frame(self.fmt, pkt.0) };
        if rc == sys::AVERROR_EOF {
            return Ok(false);
        }
        if rc < 0 {
            return Err(Error::Corrupt { stage: "read packet", message: error_text(rc) });
        }
        Ok(true)
    }

    fn codecpar(&self, index: c_int) -> *const sys::AVCodecParameters {
        // SAFETY: `index` came from `video_stream` and is in range.
        unsafe { (**(*self.fmt).streams.add(index as usize)).codecpar }
    }
}

impl Drop for Demuxer {
    fn drop(&mut self) {
        // SAFETY: the format context (if opened) is closed first, then the custom AVIO
        // context and its current buffer (FFmpeg may have replaced the one we gave).
        unsafe {
            if !self.fmt.is_null() {
                sys::avformat_close_input(&mut self.fmt);
            }
            if !self.avio.is_null() {
                sys::av_freep(&mut (*self.avio).buffer as *mut *mut u8 as *mut c_void);
                sys::avio_context_free(&mut self.avio);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Hardware device
// ---------------------------------------------------------------------------------------

/// A CUDA device context (NVDEC/NVENC), when the driver and device exist.
pub(crate) struct HwDevice(*mut sys::AVBufferRef);

impl HwDevice {
    pub(crate) fn cuda() -> Option<Self> {
        let mut r: *mut sys::AVBufferRef = ptr::null_mut();
        // SAFETY: on success `r` holds a new reference we own; on failure it stays null.
        let rc = unsafe {
            sys::av_hwdevice_ctx_create(
                &mut r,
                sys::AVHWDeviceType::AV_HWDEVICE_TYPE_CUDA,
                ptr::null(),
                ptr::null_mut(),
                0,
            )
        };
        (rc >= 0 && !r.is_null()).then_some(Self(r))
    }
}

impl Drop for HwDevice {
    fn drop(&mut self) {
        // SAFETY: we own one reference.
        unsafe { sys::av_buffer_unref(&mut self.0) };
    }
}

/// Whether this libavcodec has an encoder called `name`.
pub(crate) fn has_encoder(name: &str) -> bool {
    let Ok(c) = CString::new(name) else { return false };
    // SAFETY: `c` is NUL-terminated; the result is a static descriptor or null.
    !unsafe { sys::avcodec_find_encoder_by_name(c.as_ptr()) }.is_null()
}

unsafe extern "C" fn get_format_cuda(
    _ctx: *mut sys::AVCodecContext,
    fmts: *const sys::AVPixelFormat,
) -> sys::AVPixelFormat {
    // SAFETY: FFmpeg passes a list terminated by AV_PIX_FMT_NONE.
    unsafe {
        let mut p = fmts;
        let first = *fmts;
        while *p != sys::AVPixelFormat::AV_PIX_FMT_NONE {
            if *p == sys::AVPixelFormat::AV_PIX_FMT_CUDA {
                return *p;
            }
            p = p.add(1);
        }
        first
    }
}

// ---------------------------------------------------------------------------------------
// Decoding
// ---------------------------------------------------------------------------------------

/// An opened video decoder.
pub(crate) struct Decoder {
    ctx: *mut sys::AVCodecContext,
    codec_id: sys::AVCodecID,
    hw: bool,
}

/// Outcome of `Decoder::receive`.
pub(crate) enum Received {
    Frame(AvFrame),
    Again,
    Eof,
}

impl Decoder {
    pub(crate) fn open(dem: &Demuxer, stream: &StreamFacts, hw: Option<&HwDevice>) -> Result<Self, Error> {
        let par = dem.codecpar(stream.index);
        // SAFETY: `par` belongs to the open demuxer; the codec descriptor is static.
        let (codec, codec_id) = unsafe { (sys::avcodec_find_decoder((*par).codec_id), (*par).codec_id) };
        if codec.is_null() {
            return Err(Error::Unsupported { what: format!("no decoder for codec {codec_id:?}") });
        }
        // SAFETY: allocation checked; the context is owned by `me` from here on.
        let ctx = unsafe { sys::avcodec_alloc_context3(codec) };
        if ctx.is_null() {
            return Err(Error::OutOfMemory);
        }
        let mut me = Self { ctx, codec_id, hw: false };
        // SAFETY: `ctx` is fresh; `par` is valid; the device reference is a new ref the
        // context takes ownership of.
        unsafe {
            check("avcodec_parameters_to_context", sys::avcodec_parameters_to_context(ctx, par))?;
            (*ctx).thread_count = 0;
            (*ctx).pkt_timebase = sys::AVRational { num: stream.time_base.0, den: stream.time_base.1 };
            if let Some(dev) = hw {
                let r = sys::av_buffer_ref(dev.0);
                if !r.is_null() {
                    (*ctx).hw_device_ctx = r;
                    (*ctx).get_format = Some(get_format_cuda);
                    me.hw = true;
                }
            }
            let rc = sys::avcodec_open2(ctx, codec, ptr::null_mut());
            if rc < 0 {
                return Err(Error::Unsupported { what: format!("cannot open decoder: {}", error_text(rc)) });
            }
        }
        Ok(me)
    }

    /// Whether this decoder can take the stream described by `dem`'s `stream` unchanged.
    pub(crate) fn matches(&self, dem: &Demuxer, stream: &StreamFacts) -> bool {
        let par = dem.codecpar(stream.index);
        // SAFETY: both pointers are valid for reads.
        unsafe {
            (*par).codec_id == self.codec_id
                && (*par).width == (*self.ctx).width
                && (*par).height == (*self.ctx).height
        }
    }

    /// Discards buffered state so the next segment starts clean.
    pub(crate) fn flush(&mut self) {
        // SAFETY: `ctx` is an open decoder.
        unsafe { sys::avcodec_flush_buffers(self.ctx) };
    }

    /// Sends a packet (`None` = drain). Returns the FFmpeg code for the caller to judge.
    pub(crate) fn send(&mut self, pkt: Option<&AvPacket>) -> c_int {
        // SAFETY: `ctx` is open; the packet (or null for draining) is valid.
        unsafe { sys::avcodec_send_packet(self.ctx, pkt.map_or(ptr::null(), |p| p.0 as *const _)) }
    }

    pub(crate) fn receive(&mut self) -> Result<Received, Error> {
        let f = AvFrame::new()?;
        // SAFETY: `ctx` is open and `f.0` a fresh frame.
        let rc = unsafe { sys::avcodec_receive_frame(self.ctx, f.0) };
        if rc == EAGAIN {
            return Ok(Received::Again);
        }
        if rc == sys::AVERROR_EOF {
            return Ok(Received::Eof);
        }
        if rc < 0 {
            return Err(Error::Corrupt { stage: "decode", message: error_text(rc) });
        }
        if self.hw && f.format() == sys::AVPixelFormat::AV_PIX_FMT_CUDA as c_int {
            let sw = AvFrame::new()?;
            // SAFETY: both frames are valid; the transfer allocates `sw`'s buffers.
            unsafe {
                check("av_hwframe_transfer_data", sys::av_hwframe_transfer_data(sw.0, f.0, 0))?;
                check("av_frame_copy_props", sys::av_frame_copy_props(sw.0, f.0))?;
            }
            return Ok(Received::Frame(sw));
        }
        Ok(Received::Frame(f))
    }

    pub(crate) fn is_eagain(code: c_int) -> bool {
        code == EAGAIN
    }
}

impl Drop for Decoder {
    fn drop(&mut self) {
        // SAFETY: allocated by avcodec_alloc_context3, freed once (also frees hw ref).
        unsafe { sys::avcodec_free_context(&mut self.ctx) };
    }
}

// ---------------------------------------------------------------------------------------
// Scaling
// ---------------------------------------------------------------------------------------

/// A swscale context converting one input geometry/format to a YUV 4:2:0 size.
pub(crate) struct Scaler {
    ctx: *mut sys::SwsContext,
    key: (u32, u32, c_int, u32, u32),
}

impl Scaler {
    pub(crate) fn new(src_w: u32, src_h: u32, src_fmt: c_int, dst_w: u32, dst_h: u32) -> Result<Self, Error> {
        // SAFETY: the pixel format value came from a decoded frame, so it is a valid
        // AVPixelFormat discriminant.
        let fmt: sys::AVPixelFormat = unsafe { std::mem::transmute::<c_int, sys::AVPixelFormat>(src_fmt) };
        // SAFETY: arguments are plain values; null filters/params are allowed.
        let ctx = unsafe {
            sys::sws_getContext(
                to_int(src_w)?,
                to_int(src_h)?,
                fmt,
                to_int(dst_w)?,
                to_int(dst_h)?,
                sys::AVPixelFormat::AV_PIX_FMT_YUV420P,
                sys::SWS_BICUBIC as c_int,
                ptr::null_mut(),
                ptr::null_mut(),
                ptr::null(),
            )
        };
        if ctx.is_null() {
            return Err(Error::Unsupported {
                what: format!("scaling {src_w}x{src_h} fmt {src_fmt} to {dst_w}x{dst_h}"),
            });
        }
        Ok(Self { ctx, key: (src_w, src_h, src_fmt, dst_w, dst_h) })
    }

    pub(crate) fn fits(&self, src: &AvFrame, dst_w: u32, dst_h: u32) -> bool {
        self.key == (src.width(), src.height(), src.format(), dst_w, dst_h)
    }

    /// Scales `src` into `dst` (which must be writable and of the target size).
    pub(crate) fn scale(&mut self, src: &AvFrame, dst: &mut AvFrame) -> Result<(), Error> {
        // SAFETY: `src` matches the context's input geometry (`fits`), `dst` has buffers
        // of the output size; plane/stride arrays are read from the frames.
        let rc = unsafe {
            sys::sws_scale(
                self.ctx,
                (*src.0).data.as_ptr() as *const *const u8,
                (*src.0).linesize.as_ptr(),
                0,
                (*src.0).height,
                (*dst.0).data.as_ptr(),
                (*dst.0).linesize.as_ptr(),
            )
        };
        check("sws_scale", rc)?;
        Ok(())
    }
}

impl Drop for Scaler {
    fn drop(&mut self) {
        // SAFETY: created by sws_getContext, freed once.
        unsafe { sys::sws_freeContext(self.ctx) };
    }
}

// ---------------------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------------------

/// Settings for one H.264 encoder.
#[derive(Clone, Debug)]
pub(crate) struct EncoderSettings {
    pub name: &'static str,
    pub width: u32,
    pub height: u32,
    pub fps: (u32, u32),
    pub bitrate: u64,
    pub preset: String,
    pub gop: u32,
    /// Encoder threads (0 = automatic).
    pub threads: u32,
}

/// An opened H.264 encoder.
pub(crate) struct Encoder {
    ctx: *mut sys::AVCodecContext,
}

impl Encoder {
    pub(crate) fn open(s: &EncoderSettings) -> Result<Self, Error> {
        let name = CString::new(s.name).map_err(|_| Error::EncoderUnavailable { name: s.name.into() })?;
        // SAFETY: `name` is NUL-terminated; the codec descriptor is static or null.
        let codec = unsafe { sys::avcodec_find_encoder_by_name(name.as_ptr()) };
        if codec.is_null() {
            return Err(Error::EncoderUnavailable { name: s.name.into() });
        }
        // SAFETY: allocation checked; owned by `me`.
        let ctx = unsafe { sys::avcodec_alloc_context3(codec) };
        if ctx.is_null() {
            return Err(Error::OutOfMemory);
        }
        let me = Self { ctx };
        let bitrate = i64::try_from(s.bitrate).map_err(|_| Error::Unsupported { what: "bit rate".into() })?;
        let mut opts: *mut sys::AVDictionary = ptr::null_mut();
        let set = |opts: &mut *mut sys::AVDictionary, k: &str, v: &str| -> Result<(), Error> {
            let (k, v) = (
                CString::new(k).map_err(|_| Error::Unsupported { what: "option".into() })?,
                CString::new(v).map_err(|_| Error::Unsupported { what: "option".into() })?,
            );
            // SAFETY: both strings are NUL-terminated and copied by av_dict_set.
            check("av_dict_set", unsafe { sys::av_dict_set(opts, k.as_ptr(), v.as_ptr(), 0) })?;
            Ok(())
        };
        let nvenc = s.name.contains("nvenc");
        set(&mut opts, "preset", &s.preset)?;
        if nvenc {
            set(&mut opts, "rc", "cbr")?;
        } else {
            set(&mut opts, "x264-params", "nal-hrd=cbr:force-cfr=1")?;
        }
        // SAFETY: `ctx` is a fresh context; fields are plain data set before opening;
        // `opts` is freed after open whatever happens.
        unsafe {
            (*ctx).width = to_int(s.width)?;
            (*ctx).height = to_int(s.height)?;
            (*ctx).pix_fmt = sys::AVPixelFormat::AV_PIX_FMT_YUV420P;
            (*ctx).time_base = sys::AVRational { num: to_int(s.fps.1)?, den: to_int(s.fps.0)? };
            (*ctx).framerate = sys::AVRational { num: to_int(s.fps.0)?, den: to_int(s.fps.1)? };
            (*ctx).bit_rate = bitrate;
            (*ctx).rc_max_rate = bitrate;
            (*ctx).rc_min_rate = bitrate;
            (*ctx).rc_buffer_size = c_int::try_from(bitrate).unwrap_or(c_int::MAX);
            (*ctx).gop_size = to_int(s.gop.max(1))?;
            (*ctx).thread_count = to_int(s.threads)?;
            let rc = sys::avcodec_open2(ctx, codec, &mut opts);
            sys::av_dict_free(&mut opts);
            if rc < 0 {
                return Err(Error::EncoderUnavailable { name: format!("{} ({})", s.name, error_text(rc)) });
            }
        }
        Ok(me)
    }

    pub(crate) fn time_base(&self) -> (i32, i32) {
        // SAFETY: `ctx` is open.
        unsafe { ((*self.ctx).time_base.num, (*self.ctx).time_base.den) }
    }

    /// Sends a frame (`None` = drain).
    pub(crate) fn send(&mut self, frame: Option<&AvFrame>) -> Result<(), Error> {
        // SAFETY: `ctx` is open; the frame (or null) is valid; the encoder takes its own
        // reference to the frame's buffers.
        let rc = unsafe { sys::avcodec_send_frame(self.ctx, frame.map_or(ptr::null(), |f| f.0 as *const _)) };
        check("avcodec_send_frame", rc)?;
        Ok(())
    }

    /// Receives the next packet; `Ok(false)` when none is ready (or the end was reached).
    pub(crate) fn receive(&mut self, pkt: &mut AvPacket) -> Result<bool, Error> {
        pkt.unref();
        // SAFETY: `ctx` is open and `pkt.0` a valid packet.
        let rc = unsafe { sys::avcodec_receive_packet(self.ctx, pkt.0) };
        if rc == EAGAIN || rc == sys::AVERROR_EOF {
            return Ok(false);
        }
        check("avcodec_receive_packet", rc)?;
        Ok(true)
    }
}

impl Drop for Encoder {
    fn drop(&mut self) {
        // SAFETY: allocated by avcodec_alloc_context3, freed once.
        unsafe { sys::avcodec_free_context(&mut self.ctx) };
    }
}

// ---------------------------------------------------------------------------------------
// Muxing MPEG-TS into memory
// ---------------------------------------------------------------------------------------

unsafe extern "C" fn write_cb(opaque: *mut c_void, buf: *const u8, buf_size: c_int) -> c_int {
    // SAFETY: `opaque` is the `Vec<u8>` box owned by the `TsMuxer`; `buf` has `buf_size`
    // readable bytes.
    unsafe {
        let out = &mut *(opaque as *mut Vec<u8>);
        let n = usize::try_from(buf_size).unwrap_or(0);
        out.extend_from_slice(std::slice::from_raw_parts(buf, n));
    }
    buf_size
}

/// An MPEG-TS muxer with one video stream writing into a growable buffer.
pub(crate) struct TsMuxer {
    oc: *mut sys::AVFormatContext,
    avio: *mut sys::AVIOContext,
    // Boxed on purpose: FFmpeg holds a raw pointer to the Vec itself (the write
    // callback's opaque), which must not move while `TsMuxer` does.
    #[allow(clippy::box_collection)]
    out: Box<Vec<u8>>,
    enc_tb: sys::AVRational,
    header_written: bool,
}

impl TsMuxer {
    pub(crate) fn new(enc: &Encoder) -> Result<Self, Error> {
        let mut out: Box<Vec<u8>> = Box::default();
        // SAFETY: allocation checked.
        let buffer = unsafe { sys::av_malloc(IO_BUFFER) } as *mut u8;
        if buffer.is_null() {
            return Err(Error::OutOfMemory);
        }
        let opaque = (&mut *out) as *mut Vec<u8> as *mut c_void;
        // SAFETY: the buffer and `out` outlive the AVIO context (freed in Drop first).
        #[allow(clippy::missing_transmute_annotations)]
        let avio = unsafe {
            sys::avio_alloc_context(
                buffer,
                IO_BUFFER as c_int,
                1,
                opaque,
                None,
                Some(std::mem::transmute(
                    write_cb as unsafe extern "C" fn(*mut c_void, *const u8, c_int) -> c_int,
                )),
                None,
            )
        };
        if avio.is_null() {
            // SAFETY: the buffer was not adopted.
            unsafe { sys::av_free(buffer as *mut c_void) };
            return Err(Error::OutOfMemory);
        }
        let mut me = Self {
            oc: ptr::null_mut(),
            avio,
            out,
            enc_tb: sys::AVRational { num: 0, den: 1 },
            header_written: false,
        };
        let name = c"mpegts";
        // SAFETY: on success `oc` is a context we own (stored in `me` at once); the stream
        // parameters are copied from the open encoder.
        unsafe {
            check(
                "avformat_alloc_output_context2",
                sys::avformat_alloc_output_context2(&mut me.oc, ptr::null(), name.as_ptr(), ptr::null()),
            )?;
            if me.oc.is_null() {
                return Err(Error::OutOfMemory);
            }
            (*me.oc).pb = avio;
            (*me.oc).flags |= sys::AVFMT_FLAG_CUSTOM_IO as c_int;
            let st = sys::avformat_new_stream(me.oc, ptr::null());
            if st.is_null() {
                return Err(Error::OutOfMemory);
            }
            check(
                "avcodec_parameters_from_context",
                sys::avcodec_parameters_from_context((*st).codecpar, enc.ctx),
            )?;
            (*st).time_base = (*enc.ctx).time_base;
            me.enc_tb = (*enc.ctx).time_base;
            check("avformat_write_header", sys::avformat_write_header(me.oc, ptr::null_mut()))?;
            me.header_written = true;
        }
        Ok(me)
    }

    /// Writes one encoded packet (timestamps in the encoder time base).
    pub(crate) fn write(&mut self, pkt: &mut AvPacket) -> Result<(), Error> {
        // SAFETY: `oc` has a written header and one stream; `pkt` holds a packet from the
        // encoder; the duration is set before rescaling (FFmpeg needs it for TS timing).
        unsafe {
            let st = *(*self.oc).streams;
            (*pkt.0).stream_index = 0;
            if (*pkt.0).duration <= 0 {
                (*pkt.0).duration = 1;
            }
            sys::av_packet_rescale_ts(pkt.0, self.enc_tb, (*st).time_base);
            check("av_interleaved_write_frame", sys::av_interleaved_write_frame(self.oc, pkt.0))?;
        }
        Ok(())
    }

    /// Bytes written so far (excluding what sits in the AVIO buffer).
    pub(crate) fn written(&self) -> usize {
        self.out.len()
    }

    /// Writes the trailer and returns the muxed bytes.
    pub(crate) fn finish(mut self) -> Result<Vec<u8>, Error> {
        // SAFETY: header was written; trailer then flush push everything to `out`.
        unsafe {
            check("av_write_trailer", sys::av_write_trailer(self.oc))?;
            self.header_written = false;
            sys::avio_flush(self.avio);
        }
        Ok(std::mem::take(&mut *self.out))
    }
}

impl Drop for TsMuxer {
    fn drop(&mut self) {
        // SAFETY: the format context does not own our custom AVIO (CUSTOM_IO), so it is
        // freed first, then the AVIO buffer and context; `out` is dropped after.
        unsafe {
            if !self.oc.is_null() {
                sys::avformat_free_context(self.oc);
                self.oc = ptr::null_mut();
            }
            if !self.avio.is_null() {
                sys::av_freep(&mut (*self.avio).buffer as *mut *mut u8 as *mut c_void);
                sys::avio_context_free(&mut self.avio);
            }
        }
    }
}

/// Silences FFmpeg's own logging to stderr below `level` (e.g. `AV_LOG_ERROR` = 16).
pub(crate) fn set_log_level(level: c_int) {
    // SAFETY: sets a global integer in libavutil.
    unsafe { sys::av_log_set_level(level) };
}
