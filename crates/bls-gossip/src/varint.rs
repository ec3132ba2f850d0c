//! LEB128 unsigned varints with canonical (minimal) decoding.

use crate::Error;

/// Appends `v` as LEB128.
pub(crate) fn put(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Bytes `put` writes for `v`.
pub(crate) fn len(v: u64) -> usize {
    let bits = 64 - v.leading_zeros() as usize;
    bits.div_ceil(7).max(1)
}

/// Reads one minimal LEB128 value from the front of `bytes`.
pub(crate) fn get(bytes: &mut &[u8], what: &'static str) -> Result<u64, Error> {
    let mut v = 0u64;
    for i in 0..10 {
        let (&b, rest) = bytes.split_first().ok_or(Error::Truncated { what })?;
        *bytes = rest;
        let low = u64::from(b & 0x7f);
        if i == 9 && b > 1 {
            return Err(Error::Malformed { reason: "varint overflows 64 bits" });
        }
        v |= low << (7 * i);
        if b & 0x80 == 0 {
            if b == 0 && i > 0 {
                return Err(Error::Malformed { reason: "non-minimal varint" });
            }
            return Ok(v);
        }
    }
    Err(Error::Malformed { reason: "varint longer than 10 bytes" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_minimality() {
        for v in [0u64, 1, 127, 128, 300, 16_383, 16_384, u64::MAX] {
            let mut out = Vec::new();
            put(&mut out, v);
            assert_eq!(out.len(), len(v));
            let mut s = out.as_slice();
            assert_eq!(get(&mut s, "v").unwrap(), v);
            assert!(s.is_empty());
        }
        assert!(matches!(get(&mut &[0x80u8, 0x00][..], "v"), Err(Error::Malformed { .. })));
        assert!(matches!(get(&mut &[0x80u8][..], "v"), Err(Error::Truncated { .. })));
        assert!(get(&mut &[0xffu8; 11][..], "v").is_err());
    }
}
