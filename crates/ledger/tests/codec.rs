//! Every transaction type round-trips and signs; every decode and signing error is
//! reachable and typed (given / when / then).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use ledger::*;
use primitives::rlp::RlpStream;
use primitives::{Address, SecretKey, Signer, U256, keccak256};

#[test]
fn every_type_round_trips_signs_and_verifies() {
    for tx in all_types_signed(CHAIN) {
        let wire = tx.encode();
        let prefix = primitives::rlp::encode(&tx.tx_type().number()).to_vec();
        assert!(wire.starts_with(&prefix), "{:?}", tx.tx_type());
        let back =
            Transaction::decode(&wire, MAX_TX_SIZE).unwrap_or_else(|e| panic!("{:?}: {e}", tx.tx_type()));
        assert_eq!(back, tx);
        assert!(!back.signers().is_empty());
        for check in back.verify(CHAIN) {
            assert_eq!(check.result, Ok(()), "{:?} {}", tx.tx_type(), check.role);
        }
        assert!(back.verify_all("other_chain").is_err(), "{:?}", tx.tx_type());
        assert_eq!(TxType::from_number(tx.tx_type().number()), Ok(tx.tx_type()));
    }
}

#[test]
fn type_numbers_are_thetas() {
    let types: Vec<u64> = all_types_signed(CHAIN).iter().map(|t| t.tx_type().number()).collect();
    assert_eq!(types, (0..=11).collect::<Vec<_>>());
    assert_eq!(TxType::DepositStakeV2.name(), "deposit_stake_v2");
    assert_eq!(TxType::from_number(12), Err(Error::UnknownType(12)));
}

#[test]
fn coinbase_wire_bytes_start_with_rlp_zero() {
    // Type 0 is RLP's empty string, 0x80, as Go's rlp writes the integer 0.
    let tx = all_types_signed(CHAIN).remove(0);
    assert_eq!(tx.tx_type(), TxType::Coinbase);
    assert_eq!(tx.encode()[0], 0x80);
}

#[test]
fn sign_bytes_have_the_documented_layout() {
    // Given a Send, when its sign bytes are built, then they are the zero Ethereum tx
    // wrapping RLP(chain id) ‖ RLP(2) ‖ RLP(struct with the empty signature).
    let tx = send_tx();
    let sb = tx.sign_bytes(CHAIN, SignerRole::Input(0)).unwrap();
    let mut unsigned = tx.clone();
    if let Transaction::Send(t) = &mut unsigned {
        t.inputs[0].signature = None;
    }
    let mut payload = primitives::rlp::encode(&CHAIN.as_bytes()).to_vec();
    payload.extend_from_slice(&unsigned.encode());
    let mut s = RlpStream::new_list(6);
    s.append(&0u8).append(&0u8).append(&0u8).append(&[0u8; 20].as_slice()).append(&0u8).append(&payload);
    assert_eq!(sb, s.out().to_vec());
    // nonce, gas price, gas are the empty string; `to` is 20 zero bytes.
    assert_eq!(&sb[2..6], &[0x80, 0x80, 0x80, 0x94]);
    assert_eq!(&sb[6..26], &[0u8; 20]);
}

#[test]
fn all_send_inputs_sign_the_same_bytes_and_each_is_checked() {
    let (a, b) = (key(1), key(2));
    let mut tx = Transaction::Send(SendTx {
        fee: fee(),
        inputs: vec![TxInput::new(a.address(), coins(5, 1), 1), TxInput::new(b.address(), coins(0, 9), 4)],
        outputs: vec![TxOutput::new(addr(9), coins(5, 10))],
    });
    assert_eq!(tx.sign_bytes(CHAIN, SignerRole::Input(0)), tx.sign_bytes(CHAIN, SignerRole::Input(1)));
    assert_eq!(tx.sign_all(CHAIN, &a), Ok(1));
    let checks = tx.verify(CHAIN);
    assert_eq!(checks[0].result, Ok(()));
    assert_eq!(checks[1].result, Err(Error::MissingSignature { address: b.address() }));
    tx.sign(CHAIN, SignerRole::Input(1), &b).unwrap();
    // Signing the second input did not invalidate the first.
    tx.verify_all(CHAIN).unwrap();
}

#[test]
fn service_payment_source_signs_the_cheque_and_target_countersigns_everything() {
    let (payer, payee) = (key(1), key(2));
    let mut tx = service_payment_unsigned(&payer, &payee);
    tx.sign(CHAIN, SignerRole::Source, &payer).unwrap();
    let source_sig = tx.input(SignerRole::Source).unwrap().signature;
    // The cheque does not cover the fee, the source sequence or the target's fields
    // other than its address: the payee may set them without the payer re-signing.
    if let Transaction::ServicePayment(t) = &mut tx {
        t.fee = coins(0, 77);
        t.source.sequence = 99;
        t.target.sequence = 5;
        t.target.coins = coins(0, 3);
    }
    assert_eq!(tx.verify_role(CHAIN, SignerRole::Source), Ok(()));
    // It does cover the amount.
    let mut more = tx.clone();
    if let Transaction::ServicePayment(t) = &mut more {
        t.source.coins = coins(0, 1_001);
    }
    assert!(matches!(more.verify_role(CHAIN, SignerRole::Source), Err(Error::WrongSigner { .. })));
    tx.sign(CHAIN, SignerRole::Target, &payee).unwrap();
    tx.verify_all(CHAIN).unwrap();
    // The target signature covers the source signature: replacing it breaks the target.
    if let Transaction::ServicePayment(t) = &mut tx {
        t.source.signature = Some(payer.sign_digest(&keccak256(b"another cheque")));
    }
    assert!(matches!(tx.verify_role(CHAIN, SignerRole::Target), Err(Error::WrongSigner { .. })));
    assert_ne!(tx.input(SignerRole::Source).unwrap().signature, source_sig);
    // The id is the keccak of the target's sign bytes.
    assert_eq!(tx.id(CHAIN).unwrap(), keccak256(tx.sign_bytes(CHAIN, SignerRole::Target).unwrap()));
}

#[test]
fn deposit_stake_v2_for_a_validator_signs_the_v1_deposit_bytes() {
    let (staker, holder) = (key(1), key(3));
    let mut v2 = deposit_v2_unsigned(&staker, &holder, STAKE_FOR_VALIDATOR);
    let Transaction::DepositStakeV2(t) = &v2 else { unreachable!() };
    let v1 = Transaction::DepositStake(StakeTx {
        fee: t.fee,
        source: t.source.clone(),
        holder: t.holder.clone(),
        purpose: t.purpose,
    });
    assert_eq!(v2.sign_bytes(CHAIN, SignerRole::Source), v1.sign_bytes(CHAIN, SignerRole::Source));
    v2.sign(CHAIN, SignerRole::Source, &staker).unwrap();
    v2.verify_all(CHAIN).unwrap();
}

#[test]
fn deposit_stake_v2_for_a_guardian_covers_the_bls_fields_and_holder_signature() {
    let (staker, holder) = (key(1), key(3));
    let mut tx = deposit_v2_unsigned(&staker, &holder, STAKE_FOR_GUARDIAN);
    if let Transaction::DepositStakeV2(t) = &mut tx {
        assert_eq!(t.verify_holder(), Err(Error::MissingSignature { address: holder.address() }));
        assert!(matches!(t.sign_holder(&staker), Err(Error::SignerMismatch { .. })));
        t.sign_holder(&holder).unwrap();
        t.verify_holder().unwrap();
    }
    tx.sign(CHAIN, SignerRole::Source, &staker).unwrap();
    tx.verify_all(CHAIN).unwrap();
    let mut changed = tx.clone();
    if let Transaction::DepositStakeV2(t) = &mut changed {
        t.bls_pubkey = Some([7u8; BLS_PUBKEY_LEN]);
    }
    assert!(changed.verify_all(CHAIN).is_err(), "the BLS key is signed");
    let mut changed = tx.clone();
    if let Transaction::DepositStakeV2(t) = &mut changed {
        t.holder_sig = None;
    }
    assert!(changed.verify_all(CHAIN).is_err(), "the holder signature is signed");
    let mut changed = tx.clone();
    if let Transaction::DepositStakeV2(t) = &mut changed {
        t.bls_pop = Some([8u8; BLS_POP_LEN]);
        assert!(matches!(t.verify_holder(), Err(Error::WrongSigner { .. })));
        t.bls_pop = None;
        assert!(matches!(t.verify_holder(), Err(Error::BadLength { .. })));
        assert!(matches!(t.sign_holder(&holder), Err(Error::BadLength { .. })));
    }
}

#[test]
fn deposit_stake_v2_with_an_unknown_purpose_has_no_sign_bytes() {
    let (staker, holder) = (key(1), key(3));
    let mut tx = deposit_v2_unsigned(&staker, &holder, 3);
    assert_eq!(tx.sign_bytes(CHAIN, SignerRole::Source), Err(Error::InvalidStakePurpose(3)));
    assert_eq!(tx.sign(CHAIN, SignerRole::Source, &staker), Err(Error::InvalidStakePurpose(3)));
    // It still decodes: Theta's decoder takes any uint8 purpose.
    let back = Transaction::decode(&tx.encode(), MAX_TX_SIZE).unwrap();
    assert_eq!(back, tx);
}

#[test]
fn the_v2_wrapper_is_accepted_too() {
    let a = key(1);
    let mut tx = send_tx_from(&a);
    let digest = keccak256(tx.sign_bytes_with(CHAIN, SignerRole::Input(0), Wrapper::V2).unwrap());
    if let Transaction::Send(t) = &mut tx {
        t.inputs[0].signature = Some(a.sign_digest(&digest));
    }
    tx.verify_all(CHAIN).unwrap();
    let v2 = tx.sign_bytes_with(CHAIN, SignerRole::Input(0), Wrapper::V2).unwrap();
    assert!(v2.ends_with(&[0x01, 0x80, 0x80]));
}

#[test]
fn signing_errors_are_typed() {
    let (a, b) = (key(1), key(2));
    let mut tx = send_tx_from(&a);
    assert_eq!(
        tx.sign(CHAIN, SignerRole::Input(0), &b),
        Err(Error::SignerMismatch { key: b.address(), input: a.address() })
    );
    assert_eq!(
        tx.sign(CHAIN, SignerRole::Source, &a),
        Err(Error::NoSuchSigner { tx_type: TxType::Send, role: "source".into() })
    );
    assert!(matches!(tx.sign(CHAIN, SignerRole::Input(3), &a), Err(Error::NoSuchSigner { .. })));
    assert_eq!(tx.verify_all(CHAIN), Err(Error::MissingSignature { address: a.address() }));
    // A signature by the wrong key recovers to that key.
    let digest = keccak256(tx.sign_bytes(CHAIN, SignerRole::Input(0)).unwrap());
    if let Transaction::Send(t) = &mut tx {
        t.inputs[0].signature = Some(b.sign_digest(&digest));
    }
    assert_eq!(
        tx.verify_all(CHAIN),
        Err(Error::WrongSigner { recovered: b.address(), expected: a.address() })
    );
    assert_eq!(tx.sign_all(CHAIN, &key(7)), Ok(0));
}

#[test]
fn smart_contract_decodes_but_is_unsupported() {
    let tx = all_types_signed(CHAIN).into_iter().find(|t| t.tx_type() == TxType::SmartContract).unwrap();
    let back = Transaction::decode(&tx.encode(), MAX_TX_SIZE).unwrap();
    assert_eq!(back.check_supported(), Err(Error::Unsupported { tx_type: TxType::SmartContract }));
    for other in all_types_signed(CHAIN).into_iter().filter(|t| t.tx_type() != TxType::SmartContract) {
        assert_eq!(other.check_supported(), Ok(()));
    }
}

#[test]
fn theta_signatures_use_v_zero_or_one() {
    let a = key(1);
    let sig = a.sign_digest(&keccak256(b"x"));
    let theta = theta_signature_bytes(&sig);
    assert!(theta[64] <= 1);
    assert_eq!(parse_theta_signature(&theta), Ok(sig));
    let eth = sig.to_bytes();
    assert_eq!(parse_theta_signature(&eth), Err(primitives::Error::BadRecoveryByte(eth[64])));
}

// ---------------------------------------------------------------- decode errors

fn with_body(tx_type: u8, body: Vec<u8>) -> Vec<u8> {
    let mut v = vec![tx_type];
    v.extend(body);
    v
}

#[test]
fn too_long_and_empty_inputs_are_refused() {
    let wire = send_tx().encode();
    assert_eq!(
        Transaction::decode(&wire, wire.len() - 1),
        Err(Error::TooLong { len: wire.len(), limit: wire.len() - 1 })
    );
    assert_eq!(Transaction::decode(&[], 10), Err(Error::Empty));
    assert!(matches!(Transaction::decode(&[0x02], 10), Err(Error::Rlp { .. })));
    // A body whose header claims more bytes than there are.
    assert!(matches!(Transaction::decode(&[0x02, 0xc5, 0x80], 10), Err(Error::Rlp { .. })));
}

#[test]
fn unknown_types_are_refused() {
    let body = send_tx().encode()[1..].to_vec();
    assert_eq!(Transaction::decode(&with_body(12, body.clone()), MAX_TX_SIZE), Err(Error::UnknownType(12)));
    let mut big = vec![0x82, 0x01, 0x00];
    big.extend(&body);
    assert_eq!(Transaction::decode(&big, MAX_TX_SIZE), Err(Error::UnknownType(256)));
}

#[test]
fn trailing_bytes_are_refused() {
    let mut wire = send_tx().encode();
    wire.push(0x80);
    assert_eq!(Transaction::decode(&wire, MAX_TX_SIZE), Err(Error::TrailingBytes { extra: 1 }));
}

#[test]
fn wrong_field_counts_are_refused() {
    // A Send with a fourth field, and a Send with two.
    let mut s = RlpStream::new_list(4);
    s.begin_list(2).append(&0u8).append(&0u8);
    s.begin_list(0);
    s.begin_list(0);
    s.append(&1u8);
    assert!(matches!(
        Transaction::decode(&with_body(2, s.out().to_vec()), MAX_TX_SIZE),
        Err(Error::WrongItemCount { expected: 3, got: 4, .. })
    ));
    let mut s = RlpStream::new_list(2);
    s.begin_list(2).append(&0u8).append(&0u8);
    s.begin_list(0);
    assert!(matches!(
        Transaction::decode(&with_body(2, s.out().to_vec()), MAX_TX_SIZE),
        Err(Error::WrongItemCount { expected: 3, got: 2, .. })
    ));
    // Coins with three amounts.
    let mut s = RlpStream::new_list(3);
    s.begin_list(3).append(&0u8).append(&0u8).append(&0u8);
    s.begin_list(0);
    s.begin_list(0);
    assert!(matches!(
        Transaction::decode(&with_body(2, s.out().to_vec()), MAX_TX_SIZE),
        Err(Error::WrongItemCount { expected: 2, got: 3, .. })
    ));
}

fn send_body_with_input(address: &[u8], sequence_raw: &[u8], sig: &[u8]) -> Vec<u8> {
    let mut s = RlpStream::new_list(3);
    s.begin_list(2).append(&0u8).append(&0u8);
    s.begin_list(1);
    s.begin_list(4);
    s.append(&address);
    s.begin_list(2).append(&0u8).append(&0u8);
    s.append_raw(sequence_raw, 1);
    s.append(&sig);
    s.begin_list(0);
    with_body(2, s.out().to_vec())
}

#[test]
fn bad_addresses_are_refused() {
    let wire = send_body_with_input(&[1u8; 19], &[0x01], &[]);
    assert_eq!(
        Transaction::decode(&wire, MAX_TX_SIZE),
        Err(Error::BadLength { field: "send.inputs".into(), expected: 20, got: 19 })
    );
    // A list where a byte string belongs.
    let mut s = RlpStream::new_list(3);
    s.begin_list(2).append(&0u8).append(&0u8);
    s.begin_list(1);
    s.begin_list(4);
    s.begin_list(0);
    s.begin_list(2).append(&0u8).append(&0u8);
    s.append(&1u8);
    s.append_empty_data();
    s.begin_list(0);
    assert!(matches!(
        Transaction::decode(&with_body(2, s.out().to_vec()), MAX_TX_SIZE),
        Err(Error::Rlp { .. })
    ));
}

#[test]
fn non_canonical_integers_are_refused() {
    // Sequence 1 written with a leading zero byte, and as a one-byte string header.
    let wire = send_body_with_input(&[1u8; 20], &[0x82, 0x00, 0x01], &[]);
    assert!(matches!(Transaction::decode(&wire, MAX_TX_SIZE), Err(Error::NonCanonical | Error::Rlp { .. })));
    let wire = send_body_with_input(&[1u8; 20], &[0x81, 0x01], &[]);
    assert!(matches!(Transaction::decode(&wire, MAX_TX_SIZE), Err(Error::NonCanonical | Error::Rlp { .. })));
    // The integer 0 as the byte 0x00 rather than the empty string.
    let wire = send_body_with_input(&[1u8; 20], &[0x00], &[]);
    assert_eq!(Transaction::decode(&wire, MAX_TX_SIZE), Err(Error::NonCanonical));
    // A nine-byte sequence does not fit u64.
    let wire = send_body_with_input(&[1u8; 20], &[0x89, 1, 0, 0, 0, 0, 0, 0, 0, 0], &[]);
    assert!(matches!(Transaction::decode(&wire, MAX_TX_SIZE), Err(Error::IntegerOverflow { .. })));
    // A 33-byte amount does not fit U256.
    let mut s = RlpStream::new_list(3);
    s.begin_list(2).append(&[1u8; 33].as_slice()).append(&0u8);
    s.begin_list(0);
    s.begin_list(0);
    assert!(matches!(
        Transaction::decode(&with_body(2, s.out().to_vec()), MAX_TX_SIZE),
        Err(Error::IntegerOverflow { .. })
    ));
}

#[test]
fn a_long_form_list_header_is_refused() {
    // The canonical Send body with its one-byte long header rewritten with two bytes.
    let wire = send_tx().encode();
    let body = &wire[1..];
    assert_eq!(body[0], 0xf8, "the sample body uses a one-byte long header");
    let mut long = vec![0x02, 0xf9, 0x00, body[1]];
    long.extend_from_slice(&body[2..]);
    assert!(matches!(Transaction::decode(&long, MAX_TX_SIZE), Err(Error::NonCanonical | Error::Rlp { .. })));
}

#[test]
fn bad_signatures_are_refused_at_decode() {
    let a = key(1);
    let sig = theta_signature_bytes(&a.sign_digest(&keccak256(b"m")));
    // v = 27 (Ethereum style) is not Theta's wire form.
    let mut eth = sig;
    eth[64] += 27;
    assert!(matches!(
        Transaction::decode(&send_body_with_input(&[1u8; 20], &[0x01], &eth), MAX_TX_SIZE),
        Err(Error::BadSignature { .. })
    ));
    // 64 bytes.
    assert!(matches!(
        Transaction::decode(&send_body_with_input(&[1u8; 20], &[0x01], &sig[..64]), MAX_TX_SIZE),
        Err(Error::BadSignature { .. })
    ));
    // High S: s' = n - s with the recovery bit flipped is the malleable twin.
    let n = U256::from_big_endian(&[
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe, 0xba,
        0xae, 0xdc, 0xe6, 0xaf, 0x48, 0xa0, 0x3b, 0xbf, 0xd2, 0x5e, 0x8c, 0xd0, 0x36, 0x41, 0x41,
    ]);
    let s = U256::from_big_endian(&sig[32..64]);
    let mut twin = sig;
    twin[32..64].copy_from_slice(&(n - s).to_big_endian());
    twin[64] ^= 1;
    assert!(matches!(
        Transaction::decode(&send_body_with_input(&[1u8; 20], &[0x01], &twin), MAX_TX_SIZE),
        Err(Error::BadSignature { .. })
    ));
    // The canonical signature itself decodes.
    assert!(Transaction::decode(&send_body_with_input(&[1u8; 20], &[0x01], &sig), MAX_TX_SIZE).is_ok());
}

#[test]
fn out_of_range_and_non_utf8_fields_are_refused() {
    let (staker, holder) = (key(1), key(3));
    // A purpose of 256 in a DepositStake.
    let mut s = RlpStream::new_list(4);
    s.begin_list(2).append(&0u8).append(&0u8);
    s.begin_list(4).append(&staker.address().as_bytes());
    s.begin_list(2).append(&0u8).append(&0u8);
    s.append(&1u8).append_empty_data();
    s.begin_list(2).append(&holder.address().as_bytes());
    s.begin_list(2).append(&0u8).append(&0u8);
    s.append(&256u64);
    assert_eq!(
        Transaction::decode(&with_body(8, s.out().to_vec()), MAX_TX_SIZE),
        Err(Error::IntegerOverflow { field: "deposit_stake.purpose".into() })
    );
    // A resource id that is not UTF-8.
    let sp = service_payment_unsigned(&key(1), &key(2));
    let mut wire = sp.encode();
    let pos = wire.windows(3).rposition(|w| w == b"vid").unwrap();
    wire[pos] = 0xff;
    assert_eq!(
        Transaction::decode(&wire, MAX_TX_SIZE),
        Err(Error::NotUtf8 { field: "service_payment.resource_id".into() })
    );
    // A BLS key of 47 bytes.
    let mut s = RlpStream::new_list(7);
    s.begin_list(2).append(&0u8).append(&0u8);
    s.begin_list(4).append(&staker.address().as_bytes());
    s.begin_list(2).append(&0u8).append(&0u8);
    s.append(&1u8).append_empty_data();
    s.begin_list(2).append(&holder.address().as_bytes());
    s.begin_list(2).append(&0u8).append(&0u8);
    s.append(&1u8);
    s.append(&[1u8; 47].as_slice());
    s.append_empty_data();
    s.append_empty_data();
    assert_eq!(
        Transaction::decode(&with_body(10, s.out().to_vec()), MAX_TX_SIZE),
        Err(Error::BadLength { field: "deposit_stake_v2.bls_pubkey".into(), expected: 48, got: 47 })
    );
}

#[test]
fn id_ignores_signatures_but_not_fields() {
    let a = key(1);
    let unsigned = send_tx_from(&a);
    let mut signed = unsigned.clone();
    signed.sign(CHAIN, SignerRole::Input(0), &a).unwrap();
    assert_eq!(unsigned.id(CHAIN), signed.id(CHAIN));
    assert_ne!(signed.id(CHAIN), signed.id("other"));
    let empty = Transaction::Send(SendTx { fee: fee(), inputs: vec![], outputs: vec![] });
    assert!(empty.id(CHAIN).is_ok());
}

#[test]
fn coins_arithmetic_is_checked() {
    let max = Coins::new(U256::MAX, U256::zero());
    assert_eq!(max.checked_add(&coins(1, 0)), None);
    assert_eq!(coins(1, 1).checked_sub(&coins(0, 2)), None);
    assert_eq!(coins(3, 4).checked_sub(&coins(1, 1)), Some(coins(2, 3)));
    assert!(Coins::zero().is_zero());
    let _: Address = SecretKey::from_bytes([1; 32]).unwrap().address();
}

#[test]
fn verifying_a_send_with_many_inputs_encodes_it_once_not_per_input() {
    // 2 000 inputs by one key, all over the one shared digest. This checks the results;
    // the linear cost (one encoding, not one per input) shows as this test's run time
    // (under a second in a debug build; the per-input encoding it replaced was quadratic).
    let a = key(1);
    let n = 2_000;
    let mut tx = Transaction::Send(SendTx {
        fee: fee(),
        inputs: (0..n).map(|i| TxInput::new(a.address(), coins(1, 1), i)).collect(),
        outputs: vec![TxOutput::new(addr(2), coins(n, n))],
    });
    let digest = keccak256(tx.sign_bytes(CHAIN, SignerRole::Input(0)).unwrap());
    let sig = a.sign_digest(&digest);
    if let Transaction::Send(t) = &mut tx {
        t.inputs.iter_mut().for_each(|i| i.signature = Some(sig));
    }
    let wire = tx.encode();
    let back = Transaction::decode(&wire, MAX_TX_SIZE).unwrap();
    let checks = back.verify(CHAIN);
    assert_eq!(checks.len(), n as usize);
    assert!(checks.iter().all(|c| c.result.is_ok()));
    let json = ledger::json::to_json(&back, CHAIN);
    let ledger::json::TxJson::Send { inputs, .. } = json else { panic!("a send") };
    assert!(inputs.iter().all(|i| i.signature_valid == Some(true)));
}

#[test]
fn sign_with_keys_signs_in_role_order_whatever_the_key_order() {
    // Keys given payee first: the payer's cheque must still be signed before the payee
    // countersigns, or the target signature would not cover the source signature.
    let (payer, payee) = (key(1), key(2));
    let mut tx = service_payment_unsigned(&payer, &payee);
    assert_eq!(tx.sign_with_keys(CHAIN, &[&payee, &payer]), Ok(2));
    tx.verify_all(CHAIN).unwrap();
    // A Send with inputs of two keys, interleaved, all valid; an unknown key signs nothing.
    let (a, b) = (key(1), key(2));
    let mut send = Transaction::Send(SendTx {
        fee: fee(),
        inputs: (0..6)
            .map(|i| TxInput::new(if i % 2 == 0 { a.address() } else { b.address() }, coins(1, 1), i))
            .collect(),
        outputs: vec![],
    });
    assert_eq!(send.sign_with_keys(CHAIN, &[&key(9)]), Ok(0));
    assert_eq!(send.sign_with_keys(CHAIN, &[&b, &a]), Ok(6));
    send.verify_all(CHAIN).unwrap();
}
