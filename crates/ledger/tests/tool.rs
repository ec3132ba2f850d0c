//! The `theta_tx` line functions (`ledger::json`): the interface other programs drive.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use common::*;
use ledger::json::{decode_line, sign_line};
use ledger::{MAX_TX_SIZE, Transaction};
use serde_json::Value;

fn hex(b: &[u8]) -> String {
    primitives::codec::to_hex(b)[2..].to_owned()
}

#[test]
fn every_type_goes_through_decode_json_and_back_through_sign() {
    let keys = [key(1), key(2), key(3)];
    for tx in all_types_signed(CHAIN) {
        let line = decode_line(&hex(&tx.encode()), CHAIN, MAX_TX_SIZE);
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["type"], tx.tx_type().name(), "{line}");
        assert!(line.starts_with(&format!("{{\"type\":\"{}\"", tx.tx_type().name())));
        assert!(!line.contains("false"), "every signature is valid: {line}");
        // The decode output, fed to sign with the keys, reproduces the transaction.
        let signed = sign_line(&line, CHAIN, &keys);
        assert_eq!(signed, hex(&tx.encode()), "{:?}: {signed}", tx.tx_type());
    }
}

#[test]
fn decode_reports_each_signer_and_amounts_as_decimal_strings() {
    let tx =
        all_types_signed(CHAIN).into_iter().find(|t| matches!(t, Transaction::ServicePayment(_))).unwrap();
    let v: Value = serde_json::from_str(&decode_line(&hex(&tx.encode()), CHAIN, MAX_TX_SIZE)).unwrap();
    assert_eq!(v["source"]["signature_valid"], true);
    assert_eq!(v["target"]["signature_valid"], true);
    assert_eq!(v["source"]["coins"]["tfuel"], "1000");
    assert_eq!(v["fee"]["tfuel"], "300000000000000000");
    assert_eq!(v["payment_sequence"], 2);
    assert_eq!(v["resource_id"], "vid123");
    let addr = v["source"]["address"].as_str().unwrap();
    assert_eq!(addr, addr.to_lowercase());
    assert_eq!(addr.len(), 42);
    // Unsigned inputs are reported, not refused.
    let unsigned = service_payment_unsigned(&key(1), &key(2));
    let v: Value = serde_json::from_str(&decode_line(&hex(&unsigned.encode()), CHAIN, MAX_TX_SIZE)).unwrap();
    assert_eq!(v["source"]["signature_valid"], false);
}

#[test]
fn undecodable_lines_print_an_error_object() {
    for bad in ["", "zz", "0x02", "02c0", &format!("{}00", hex(&send_tx().encode()))] {
        let v: Value = serde_json::from_str(&decode_line(bad, CHAIN, MAX_TX_SIZE)).unwrap();
        let obj = v.as_object().unwrap();
        assert_eq!(obj.len(), 1, "{bad}: {v}");
        assert!(obj["error"].as_str().is_some_and(|e| !e.is_empty()));
    }
    // The limit is the caller's.
    let v: Value = serde_json::from_str(&decode_line(&hex(&send_tx().encode()), CHAIN, 10)).unwrap();
    assert!(v["error"].as_str().unwrap().contains("exceeds the limit"));
}

#[test]
fn sign_reports_bad_json_as_an_error_object() {
    let keys = [key(1)];
    let cases = [
        "not json",
        r#"{"type":"mystery"}"#,
        r#"{"type":"send","fee":{"theta":"0","tfuel":"-1"},"inputs":[],"outputs":[]}"#,
        r#"{"type":"send","fee":{"theta":"0","tfuel":"1"},"inputs":[{"address":"0x12","coins":{"theta":"0","tfuel":"0"},"sequence":1}],"outputs":[]}"#,
        r#"{"type":"deposit_stake","fee":{"theta":"0","tfuel":"1"},"source":{"address":"0x1111111111111111111111111111111111111111","coins":{"theta":"0","tfuel":"0"},"sequence":1},"holder":"1111111111111111111111111111111111111111","purpose":0}"#,
        r#"{"type":"send","fee":{"theta":"115792089237316195423570985008687907853269984665640564039457584007913129639936","tfuel":"1"},"inputs":[],"outputs":[]}"#,
    ];
    for c in cases {
        let v: Value = serde_json::from_str(&sign_line(c, CHAIN, &keys)).unwrap();
        assert!(v["error"].as_str().is_some_and(|e| !e.is_empty()), "{c}: {v}");
    }
}

#[test]
fn sign_keeps_given_signatures_and_adds_the_keys_own() {
    // A payee countersigning: the payer's signature comes in the JSON, the payee's key
    // adds the target signature.
    let (payer, payee) = (key(1), key(2));
    let mut tx = service_payment_unsigned(&payer, &payee);
    tx.sign(CHAIN, ledger::SignerRole::Source, &payer).unwrap();
    let mut v: Value = serde_json::from_str(&decode_line(&hex(&tx.encode()), CHAIN, MAX_TX_SIZE)).unwrap();
    let sig =
        ledger::theta_signature_bytes(&tx.input(ledger::SignerRole::Source).unwrap().signature.unwrap());
    v["source"]["signature"] = Value::String(primitives::codec::to_hex(sig));
    let out = sign_line(&v.to_string(), CHAIN, &[payee]);
    let back = Transaction::decode(&primitives::codec::from_hex(&out).unwrap(), MAX_TX_SIZE).unwrap();
    back.verify_all(CHAIN).unwrap();
}
