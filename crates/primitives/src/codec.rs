//! Size-limited decoders for the two encodings (DESIGN.md section 3).
//!
//! * Hashed or signed bytes are **RLP** ([`rlp_decode`]).
//! * Wire frames and storage records are **SCALE** behind a version byte
//!   ([`encode_frame`], [`decode_frame`]).
//!
//! Peer input is hostile: every decoder takes an explicit byte limit, rejects trailing
//! bytes, and returns a typed [`Error`] instead of panicking.

use parity_scale_codec::{Decode, DecodeLimit, Encode};

use crate::Error;

/// Nesting depth allowed when decoding SCALE frames.
pub const MAX_SCALE_DEPTH: u32 = 32;

/// Encodes `value` as a versioned SCALE frame: one version byte, then the SCALE bytes.
pub fn encode_frame<T: Encode>(version: u8, value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + value.size_hint());
    out.push(version);
    value.encode_to(&mut out);
    out
}

/// Decodes a versioned SCALE frame written by [`encode_frame`].
///
/// Fails if the frame is longer than `limit`, carries another version, is malformed,
/// or has bytes left over.
///
/// ```
/// use primitives::codec::{decode_frame, encode_frame};
/// let frame = encode_frame(1, &(7u32, vec![1u8, 2, 3]));
/// let back: (u32, Vec<u8>) = decode_frame(&frame, 1, 1024).unwrap();
/// assert_eq!(back, (7, vec![1, 2, 3]));
/// assert!(decode_frame::<(u32, Vec<u8>)>(&frame, 2, 1024).is_err());
/// ```
pub fn decode_frame<T: Decode>(bytes: &[u8], version: u8, limit: usize) -> Result<T, Error> {
    if bytes.len() > limit {
        return Err(Error::TooLong { len: bytes.len(), limit });
    }
    let (&found, mut rest) = bytes.split_first().ok_or(Error::BadLength { expected: 1, got: 0 })?;
    if found != version {
        return Err(Error::UnsupportedVersion { found, expected: version });
    }
    let value = T::decode_with_depth_limit(MAX_SCALE_DEPTH, &mut rest)?;
    if !rest.is_empty() {
        return Err(Error::TrailingBytes { extra: rest.len() });
    }
    Ok(value)
}

/// Decodes one RLP item of type `T` that must span all of `bytes`, which may be at most
/// `limit` bytes long.
#[cfg(feature = "eth")]
pub fn rlp_decode<T: rlp::Decodable>(bytes: &[u8], limit: usize) -> Result<T, Error> {
    if bytes.len() > limit {
        return Err(Error::TooLong { len: bytes.len(), limit });
    }
    let item = rlp::Rlp::new(bytes);
    let info = item.payload_info()?;
    let total = info.header_len + info.value_len;
    if total != bytes.len() {
        return Err(Error::TrailingBytes { extra: bytes.len().saturating_sub(total) });
    }
    Ok(T::decode(&item)?)
}

/// Parses hexadecimal with an optional `0x` prefix.
#[cfg(feature = "eth")]
pub fn from_hex(s: &str) -> Result<Vec<u8>, Error> {
    let s = s.trim();
    let s = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")).unwrap_or(s);
    hex::decode(s).map_err(|e| Error::Hex(e.to_string()))
}

/// Parses hexadecimal (optional `0x`) into exactly `N` bytes.
#[cfg(feature = "eth")]
pub fn from_hex_array<const N: usize>(s: &str) -> Result<[u8; N], Error> {
    let v = from_hex(s)?;
    <[u8; N]>::try_from(v.as_slice()).map_err(|_| Error::BadLength { expected: N, got: v.len() })
}

/// `0x`-prefixed lower-case hexadecimal.
#[cfg(feature = "eth")]
pub fn to_hex(bytes: impl AsRef<[u8]>) -> String {
    format!("0x{}", hex::encode(bytes.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_limits_and_trailing_bytes() {
        let frame = encode_frame(3, &vec![9u64; 4]);
        assert_eq!(decode_frame::<Vec<u64>>(&frame, 3, 1000).unwrap(), vec![9u64; 4]);
        assert!(matches!(decode_frame::<Vec<u64>>(&frame, 3, 4), Err(Error::TooLong { limit: 4, .. })));
        let mut long = frame.clone();
        long.push(0);
        assert_eq!(decode_frame::<Vec<u64>>(&long, 3, 1000), Err(Error::TrailingBytes { extra: 1 }));
        assert!(matches!(decode_frame::<Vec<u64>>(&[], 3, 10), Err(Error::BadLength { .. })));
        // A length prefix claiming 2^30 elements must fail without allocating them.
        let bomb = [3u8, 0xfe, 0xff, 0xff, 0xff];
        assert!(decode_frame::<Vec<u64>>(&bomb, 3, 1000).is_err());
    }

    #[cfg(feature = "eth")]
    #[test]
    fn rlp_rejects_trailing_and_oversized() {
        let bytes = rlp::encode(&42u64).to_vec();
        assert_eq!(rlp_decode::<u64>(&bytes, 16).unwrap(), 42);
        let mut extra = bytes.clone();
        extra.push(1);
        assert!(matches!(rlp_decode::<u64>(&extra, 16), Err(Error::TrailingBytes { .. })));
        assert!(matches!(rlp_decode::<u64>(&bytes, 0), Err(Error::TooLong { .. })));
        assert!(rlp_decode::<u64>(&[0xb8], 16).is_err());
    }

    #[cfg(feature = "eth")]
    #[test]
    fn hex_round_trip() {
        assert_eq!(from_hex("0xdeadBEEF").unwrap(), vec![0xde, 0xad, 0xbe, 0xef]);
        assert_eq!(to_hex([1u8, 2]), "0x0102");
        assert!(from_hex("0xabc").is_err());
        assert!(matches!(from_hex_array::<4>("0x01"), Err(Error::BadLength { expected: 4, got: 1 })));
    }
}
