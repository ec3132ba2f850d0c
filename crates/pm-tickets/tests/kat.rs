//! Known-answer tests for the ticket hash, the signature and the win test, each
//! cross-checked against independent implementations: keccak256 from `sha3` used
//! directly, secp256k1 from `k256` (pure Rust; `primitives` uses libsecp256k1), and the
//! byte layout assembled by hand from the Solidity `abi.encodePacked` rules. Hash
//! vectors from go-livepeer's `pm/ticket_test.go` pin the field layout.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use k256::ecdsa::{SigningKey, VerifyingKey};
use pm_tickets::{Price, SignedTicket, Ticket, TicketExpirationParams, TicketParams, is_winning, win_hash};
use primitives::codec::{from_hex, from_hex_array};
use primitives::{Address, H256, SecretKey, Signature, U256};
use sha3::{Digest, Keccak256};

fn keccak(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Keccak256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().as_slice().try_into().unwrap()
}

fn word(v: U256) -> [u8; 32] {
    v.to_big_endian()
}

/// abi.encodePacked by hand, field by field.
fn packed_by_hand(t: &Ticket) -> Vec<u8> {
    let mut v = Vec::new();
    v.extend_from_slice(t.recipient.as_bytes());
    v.extend_from_slice(t.sender.as_bytes());
    v.extend_from_slice(&word(t.face_value));
    v.extend_from_slice(&word(t.win_prob));
    v.extend_from_slice(&word(U256::from(t.sender_nonce)));
    v.extend_from_slice(t.recipient_rand_hash.as_bytes());
    v.extend_from_slice(&word(U256::from(t.expiration_params.creation_round)));
    v.extend_from_slice(t.expiration_params.creation_round_block_hash.as_bytes());
    v
}

fn zero_ticket() -> Ticket {
    Ticket {
        recipient: Address::zero(),
        sender: Address::zero(),
        face_value: U256::zero(),
        win_prob: U256::zero(),
        sender_nonce: 0,
        recipient_rand_hash: H256::zero(),
        expiration_params: TicketExpirationParams::default(),
    }
}

/// go-livepeer `TestHash`: tickets without auxData (creationRound 0 and a zero block
/// hash), which go-livepeer hashes over the first 168 bytes only. Our layout's first
/// 168 bytes must hash to the same values.
#[test]
fn go_livepeer_hash_vectors_pin_the_layout() {
    let rand_hash: [u8; 32] =
        from_hex_array("41b1a0649752af1b28b3dc29a1556eee781e4a4c3a1f7f53f90fa834de098c4d").unwrap();
    let cases: Vec<(Ticket, &str)> = vec![
        (
            Ticket { sender_nonce: 1, ..zero_ticket() },
            "ce0918ba94518293e9712effbe5fca4f1f431089833a5b8c257cb1e024595f68",
        ),
        (
            Ticket { face_value: 1.into(), win_prob: 500.into(), ..zero_ticket() },
            "87ef13f2d37e4d5352a01d3c77b8179d80e0887f1953bfabfd0bfd7b0f689ddd",
        ),
        (
            Ticket { face_value: 500.into(), win_prob: 1.into(), ..zero_ticket() },
            "aa4b35071043587992ac8b9dd1b2cf1d8311130e6458cf0b2342484e21af5f5b",
        ),
        (
            Ticket {
                recipient: Address::from_slice(
                    &from_hex("73AEd7b5dEb30222fa896f399d46cC99c7BEe57F").unwrap(),
                ),
                ..zero_ticket()
            },
            "81e353ae39046e2b77b9f996abbaeed527fda559b61ef90f299c4499dd508ccc",
        ),
        (
            Ticket { recipient_rand_hash: H256(rand_hash), ..zero_ticket() },
            "be5eaf9a49a39540b9bb02f1a21904f61324a29819e2c032824bfaa10c100b17",
        ),
    ];
    for (t, expected) in cases {
        let packed = t.packed();
        assert_eq!(hex(&keccak(&[&packed[..168]])), expected);
        assert_eq!(&packed[168..], &[0u8; 64], "auxData of round 0 is 64 zero bytes");
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn sample_ticket(key: &SecretKey) -> Ticket {
    let params = TicketParams {
        recipient: Address::from_slice(&from_hex("0x73AEd7b5dEb30222fa896f399d46cC99c7BEe57F").unwrap()),
        face_value: U256::from_dec_str("1000000000000000000").unwrap(),
        win_prob: U256::MAX / 1000,
        recipient_rand_hash: H256(keccak(&[&[0x42u8; 32]])),
        seed: H256::zero(),
        expiration_block: 100,
        price: Price::new(1.into(), 1.into()).unwrap(),
        expiration_params: TicketExpirationParams {
            creation_round: 2417,
            creation_round_block_hash: H256::repeat_byte(0xab),
        },
    };
    Ticket::new(&params, key.address(), 7)
}

/// The web3.js documentation key: its address is published.
const WEB3_KEY: &str = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318";

#[test]
fn hash_matches_independent_keccak_and_fixture() {
    let key = SecretKey::from_hex(WEB3_KEY).unwrap();
    let t = sample_ticket(&key);
    let by_hand = packed_by_hand(&t);
    assert_eq!(by_hand.len(), 232);
    assert_eq!(t.packed().as_slice(), by_hand.as_slice());
    assert_eq!(t.hash().0, keccak(&[&by_hand]));
    // Conformance fixture: changes only on purpose.
    assert_eq!(format!("{:x}", t.hash()), hex(&keccak(&[&by_hand])));
    // EIP-191 digest, built independently.
    let digest = keccak(&[b"\x19Ethereum Signed Message:\n32", &keccak(&[&by_hand])]);
    assert_eq!(t.sign_digest().0, digest);
}

#[test]
fn signature_matches_k256_and_recovers_with_it() {
    for seed in 1u8..=20 {
        let secret = [seed; 32];
        let key = SecretKey::from_bytes(secret).unwrap();
        let t = sample_ticket(&key);
        let sig = t.sign(&key).unwrap();
        assert!(sig.v() == 27 || sig.v() == 28);
        // Same RFC 6979 nonce, so k256 produces the same bytes (after low-S).
        let k_key = SigningKey::from_slice(&secret).unwrap();
        let (k_sig, k_id) = k_key.sign_prehash_recoverable(t.sign_digest().as_bytes());
        let (k_sig, k_id) = match k_sig.normalize_s() {
            n if n == k_sig => (k_sig, k_id),
            n => (n, k256::ecdsa::RecoveryId::from_byte(k_id.to_byte() ^ 1).unwrap()),
        };
        let mut k_bytes = k_sig.to_bytes().to_vec();
        k_bytes.push(27 + k_id.to_byte());
        assert_eq!(sig.to_bytes().as_slice(), k_bytes.as_slice(), "key seed {seed}");
        // k256 recovers the signer of our signature; its address is keccak of the
        // uncompressed point computed with sha3 directly.
        let rs = k256::ecdsa::Signature::from_slice(&sig.to_bytes()[..64]).unwrap();
        let id = k256::ecdsa::RecoveryId::from_byte(sig.v() - 27).unwrap();
        let vk = VerifyingKey::recover_from_prehash(t.sign_digest().as_bytes(), &rs, id).unwrap();
        let point = vk.to_sec1_point(false);
        let addr = Address::from_slice(&keccak(&[&point.as_bytes()[1..]])[12..]);
        assert_eq!(addr, key.address());
        assert_eq!(t.verify_signature(&sig).unwrap(), t.hash());
    }
    assert_eq!(
        format!("{:?}", SecretKey::from_hex(WEB3_KEY).unwrap().address()),
        "0x2c7536e3605d9c16a7a3d7b1898e529396a65c23"
    );
}

#[test]
fn win_test_matches_independent_keccak() {
    let key = SecretKey::from_hex(WEB3_KEY).unwrap();
    let t = sample_ticket(&key);
    let sig = t.sign(&key).unwrap();
    let mut wins = 0;
    for i in 0u8..=255 {
        let rand = H256::repeat_byte(i);
        let h = U256::from_big_endian(&keccak(&[&sig.to_bytes(), rand.as_bytes()]));
        assert_eq!(win_hash(&sig, &rand), h);
        for wp in [U256::zero(), U256::MAX / 2, U256::MAX, h, h + 1] {
            assert_eq!(is_winning(&sig, &rand, wp), h < wp);
        }
        wins += usize::from(is_winning(&sig, &rand, U256::MAX / 2));
    }
    // 256 fair coin flips: far inside (0, 256).
    assert!(wins > 80 && wins < 176, "{wins}");
}

#[test]
fn signed_ticket_checks_like_the_contract() {
    let key = SecretKey::from_hex(WEB3_KEY).unwrap();
    let rand = H256::repeat_byte(0x42);
    let mut t = sample_ticket(&key);
    t.win_prob = U256::MAX;
    let sig = t.sign(&key).unwrap();
    let st = SignedTicket { ticket: t, sig, recipient_rand: rand };
    assert_eq!(st.check_winning().unwrap(), t.hash());
    let bad_rand = SignedTicket { recipient_rand: H256::repeat_byte(1), ..st };
    assert!(matches!(bad_rand.check_winning(), Err(pm_tickets::Error::RecipientRandMismatch { .. })));
    let loser = SignedTicket { ticket: Ticket { win_prob: U256::zero(), ..t }, ..st };
    assert!(matches!(loser.check_winning(), Err(pm_tickets::Error::BadSignature { .. })));
    // High-S form of a valid signature is refused at parse time.
    let mut high = sig.to_bytes();
    let n =
        U256::from_str_radix("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141", 16).unwrap();
    let s = U256::from_big_endian(&high[32..64]);
    (n - s).write_as_big_endian(&mut high[32..64]);
    high[64] = if high[64] == 27 { 28 } else { 27 };
    assert_eq!(Signature::from_bytes(&high), Err(primitives::Error::HighS));
}

/// The exact line `examples/pm_ticket.rs` prints for the sample input in
/// `docs/pm-tickets.md`, reproduced here with sha3 and k256 only (no pm-tickets code on
/// the independent side), then with pm-tickets.
#[test]
fn pm_ticket_example_vector() {
    const HASH: &str = "ab689b6b45de5f558fdf8ed39ba07ccc881e42b6487284d5074df8c62227fcfc";
    const SIG: &str = "9bb040d3bddf61aed5de663f7d553f911eb3ab176f45ed0efe93332980f9674f\
                       7831693c8d9fb254ff37f2a11190d57ec430a966ee8070011c37df3b8a80e9441c";
    let secret: [u8; 32] = from_hex_array(WEB3_KEY).unwrap();
    // Independent side.
    let mut packed = Vec::new();
    packed.extend_from_slice(&from_hex("73AEd7b5dEb30222fa896f399d46cC99c7BEe57F").unwrap());
    packed.extend_from_slice(&from_hex("2c7536E3605D9C16a7a3D7b1898e529396a65c23").unwrap());
    let mut face = [0u8; 32];
    face[24..].copy_from_slice(&1_000_000_000_000_000_000u64.to_be_bytes());
    packed.extend_from_slice(&face);
    packed.extend_from_slice(&[0xff; 32]);
    let mut nonce = [0u8; 32];
    nonce[31] = 7;
    packed.extend_from_slice(&nonce);
    packed.extend_from_slice(&[0u8; 32]);
    let mut round = [0u8; 32];
    round[30..].copy_from_slice(&2417u16.to_be_bytes());
    packed.extend_from_slice(&round);
    packed.extend_from_slice(&[0xab; 32]);
    let hash = keccak(&[&packed]);
    assert_eq!(hex(&hash), HASH);
    let digest = keccak(&[b"\x19Ethereum Signed Message:\n32", &hash]);
    let (k_sig, k_id) = SigningKey::from_slice(&secret).unwrap().sign_prehash_recoverable(&digest);
    assert_eq!(k_sig.normalize_s(), k_sig, "k256 already returns low-S here");
    let mut k_bytes = k_sig.to_bytes().to_vec();
    k_bytes.push(27 + k_id.to_byte());
    assert_eq!(hex(&k_bytes), SIG);
    let win = U256::from_big_endian(&keccak(&[&k_bytes, &[0x42u8; 32]]));
    assert!(win < U256::MAX);
    // pm-tickets side.
    let key = SecretKey::from_bytes(secret).unwrap();
    let t = Ticket {
        recipient: Address::from_slice(&packed[..20]),
        sender: key.address(),
        face_value: U256::from(1_000_000_000_000_000_000u64),
        win_prob: U256::MAX,
        sender_nonce: 7,
        recipient_rand_hash: H256::zero(),
        expiration_params: TicketExpirationParams {
            creation_round: 2417,
            creation_round_block_hash: H256::repeat_byte(0xab),
        },
    };
    assert_eq!(format!("{:x}", t.hash()), HASH);
    let sig = t.sign(&key).unwrap();
    assert_eq!(hex(&sig.to_bytes()), SIG);
    assert!(is_winning(&sig, &H256::repeat_byte(0x42), U256::MAX));
}
