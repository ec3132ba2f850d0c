//! keccak256, the hash of every hashed or signed structure (DESIGN.md section 3).

use primitive_types::H256;
use sha3::{Digest, Keccak256};

/// keccak256 of `data` (the original Keccak padding, as in Ethereum; not SHA3-256).
///
/// ```
/// use primitives::keccak256;
/// assert_eq!(
///     format!("{:x}", keccak256(b"")),
///     "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
/// );
/// ```
pub fn keccak256(data: impl AsRef<[u8]>) -> H256 {
    H256::from_slice(Keccak256::digest(data.as_ref()).as_slice())
}

/// keccak256 over the concatenation of `parts`, without allocating the concatenation.
pub fn keccak256_concat<'a>(parts: impl IntoIterator<Item = &'a [u8]>) -> H256 {
    let mut hasher = Keccak256::new();
    for part in parts {
        hasher.update(part);
    }
    H256::from_slice(hasher.finalize().as_slice())
}

/// The keccak256 of the RLP encoding of the empty string: the root of an empty
/// Merkle Patricia trie.
pub const EMPTY_TRIE_ROOT: H256 = H256([
    0x56, 0xe8, 0x1f, 0x17, 0x1b, 0xcc, 0x55, 0xa6, 0xff, 0x83, 0x45, 0xe6, 0x92, 0xc0, 0xf8, 0x6e, 0x5b,
    0x48, 0xe0, 0x1b, 0x99, 0x6c, 0xad, 0xc0, 0x01, 0x62, 0x2f, 0xb5, 0xe3, 0x63, 0xb4, 0x21,
]);

/// keccak256 of the empty byte string.
pub const KECCAK_EMPTY: H256 = H256([
    0xc5, 0xd2, 0x46, 0x01, 0x86, 0xf7, 0x23, 0x3c, 0x92, 0x7e, 0x7d, 0xb2, 0xdc, 0xc7, 0x03, 0xc0, 0xe5,
    0x00, 0xb6, 0x53, 0xca, 0x82, 0x27, 0x3b, 0x7b, 0xfa, 0xd8, 0x04, 0x5d, 0x85, 0xa4, 0x70,
]);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answers() {
        assert_eq!(keccak256(b""), KECCAK_EMPTY);
        assert_eq!(keccak256([0x80u8]), EMPTY_TRIE_ROOT);
        // keccak256("hello world"), as printed by web3.utils.keccak256.
        assert_eq!(
            format!("{:x}", keccak256(b"hello world")),
            "47173285a8d7341e5e972fc677286384f802f8ef42a5ec5f03bbfa254cb01fad"
        );
        assert_eq!(keccak256_concat([&b"hello"[..], b" ", b"world"]), keccak256(b"hello world"));
    }
}
