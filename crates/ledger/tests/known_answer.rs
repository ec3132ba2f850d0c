//! Known-answer tests against `@thetalabs/theta-js` 0.0.86, an independent implementation
//! of Theta's wire format. The vectors in `fixtures/theta_js.json` were produced by
//! `fixtures/gen_theta_js.js` (see its header for the command); Node is not needed here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ledger::json::{TxJson, decode_line, sign_json, to_json};
use ledger::{MAX_TX_SIZE, SignerRole, Transaction, theta_signature_bytes};
use primitives::SecretKey;
use serde::Deserialize;

#[derive(Deserialize)]
struct Fixtures {
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    chain_id: String,
    keys: Vec<String>,
    fields: serde_json::Value,
    sign_bytes: String,
    signature: String,
    tx: String,
    #[serde(default)]
    holder_key: Option<String>,
}

fn fixtures() -> Vec<Case> {
    let text = include_str!("fixtures/theta_js.json");
    let f: Fixtures = serde_json::from_str(text).expect("fixture file parses");
    assert!(f.cases.len() >= 5, "fixture file lost cases");
    f.cases
}

fn bytes(h: &str) -> Vec<u8> {
    primitives::codec::from_hex(h).expect("fixture hex")
}

fn case(name: &str) -> Case {
    fixtures().into_iter().find(|c| c.name == name).expect("fixture case exists")
}

fn signer_role(tx: &Transaction) -> SignerRole {
    tx.signers()[0].0
}

#[test]
fn every_theta_js_transaction_decodes_verifies_and_round_trips_byte_for_byte() {
    for c in fixtures() {
        let wire = bytes(&c.tx);
        let tx = Transaction::decode(&wire, MAX_TX_SIZE).unwrap_or_else(|e| panic!("{}: {e}", c.name));
        assert_eq!(tx.encode(), wire, "{}: re-encoding differs", c.name);
        tx.verify_all(&c.chain_id).unwrap_or_else(|e| panic!("{}: {e}", c.name));
        let role = signer_role(&tx);
        assert_eq!(tx.sign_bytes(&c.chain_id, role).expect("sign bytes"), bytes(&c.sign_bytes), "{}", c.name);
        let sig = tx.input(role).expect("input").signature.expect("signed");
        assert_eq!(theta_signature_bytes(&sig).to_vec(), bytes(&c.signature), "{}", c.name);
        // Another chain id gives other sign bytes: the signature no longer verifies.
        assert!(tx.verify_all("some_other_chain").is_err(), "{}", c.name);
    }
}

#[test]
fn our_signing_of_the_same_fields_and_key_gives_theta_js_bytes_exactly() {
    for c in fixtures() {
        let j: TxJson = serde_json::from_value(c.fields.clone()).expect("fields parse");
        let keys: Vec<SecretKey> = c.keys.iter().map(|k| SecretKey::from_hex(k).expect("key")).collect();
        let ours = sign_json(&j, &c.chain_id, &keys).expect("sign").encode();
        assert_eq!(primitives::codec::to_hex(&ours), format!("0x{}", c.tx), "{}", c.name);
    }
}

#[test]
fn decode_json_of_a_theta_js_send_is_the_documented_shape() {
    let c = case("send_two_outputs_privatenet");
    let line = decode_line(&c.tx, &c.chain_id, MAX_TX_SIZE);
    let got: serde_json::Value = serde_json::from_str(&line).expect("decode prints JSON");
    let mut want = c.fields.clone();
    want["inputs"][0]["signature_valid"] = serde_json::Value::Bool(true);
    assert_eq!(got, want);
    assert!(line.starts_with("{\"type\":\"send\",\"fee\":"), "type comes first: {line}");
    // With 0x prefix too, and on the wrong chain the signature is reported invalid.
    let other: serde_json::Value =
        serde_json::from_str(&decode_line(&format!("0x{}", c.tx), "mainnet", MAX_TX_SIZE)).expect("json");
    assert_eq!(other["inputs"][0]["signature_valid"], serde_json::Value::Bool(false));
}

#[test]
fn a_tampered_theta_js_send_no_longer_verifies() {
    let c = case("send_large_theta_mainnet");
    let tx = Transaction::decode(&bytes(&c.tx), MAX_TX_SIZE).expect("decodes");
    let Transaction::Send(mut send) = tx else { panic!("a send") };
    send.outputs[0].coins.theta_wei += primitives::U256::one();
    let tampered = Transaction::Send(send);
    assert!(matches!(
        tampered.verify_role(&c.chain_id, SignerRole::Input(0)),
        Err(ledger::Error::WrongSigner { .. })
    ));
}

#[test]
fn deposit_stake_v2_holder_signature_from_theta_js_verifies_and_is_reproduced() {
    let c = case("deposit_stake_v2_guardian");
    let Transaction::DepositStakeV2(tx) = Transaction::decode(&bytes(&c.tx), MAX_TX_SIZE).expect("decodes")
    else {
        panic!("a deposit_stake_v2")
    };
    tx.verify_holder().expect("holder signed keccak256(pop)");
    // Without the holder signature in the JSON, the holder key makes the same one.
    let mut fields = c.fields.clone();
    fields["holder_sig"] = serde_json::Value::String("0x".into());
    let j: TxJson = serde_json::from_value(fields).expect("fields parse");
    let mut keys: Vec<SecretKey> = c.keys.iter().map(|k| SecretKey::from_hex(k).expect("key")).collect();
    keys.push(SecretKey::from_hex(c.holder_key.as_deref().expect("holder key")).expect("key"));
    let ours = sign_json(&j, &c.chain_id, &keys).expect("sign").encode();
    assert_eq!(ours, bytes(&c.tx));
}

#[test]
fn to_json_then_sign_json_round_trips_every_fixture() {
    for c in fixtures() {
        let tx = Transaction::decode(&bytes(&c.tx), MAX_TX_SIZE).expect("decodes");
        let j = to_json(&tx, &c.chain_id);
        let keys: Vec<SecretKey> = c.keys.iter().map(|k| SecretKey::from_hex(k).expect("key")).collect();
        assert_eq!(sign_json(&j, &c.chain_id, &keys).expect("sign"), tx, "{}", c.name);
    }
}

#[test]
fn theta_js_sends_execute_on_a_ledger() {
    // The independent implementation's signed Sends decode, verify and execute: genesis
    // funds each input with the sequence the transaction follows on (the vectors carry
    // sequences 7 and 1). theta-js signed these with Theta's pre-2021 fees, so the
    // configured minimum is lowered to 0.2 TFUEL (a three-account Send then needs 0.3)
    // and to 10^12 wei for the main-net vector.
    use ledger::{Genesis, GenesisAccount, Ledger, LedgerConfig, PruningPolicy};
    use mpt_refcount::MemoryStore;
    use primitives::U256;
    for (name, min_fee) in [
        ("send_two_outputs_privatenet", 200_000_000_000_000_000u64),
        ("send_large_theta_mainnet", 1_000_000_000_000),
    ] {
        let c = case(name);
        let tx = Transaction::decode(&bytes(&c.tx), MAX_TX_SIZE).expect("decodes");
        let Transaction::Send(send) = &tx else { panic!("{name}: not a Send") };
        let input = &send.inputs[0];
        let genesis = Genesis {
            chain_id: c.chain_id.clone(),
            accounts: vec![GenesisAccount {
                address: primitives::codec::to_hex(input.address.as_bytes()),
                theta: input.coins.theta_wei.to_string(),
                tfuel: input.coins.tfuel_wei.to_string(),
                sequence: input.sequence - 1,
            }],
            validators: vec![],
            guardians: vec![],
        };
        let mut config = LedgerConfig::theta(&c.chain_id);
        config.min_fee = U256::from(min_fee);
        let mut l = Ledger::from_genesis(MemoryStore::new(), config, &genesis, PruningPolicy::default())
            .expect("genesis");
        let out = l.execute_block(1, std::slice::from_ref(&tx)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(out.fees_burned, send.fee, "{name}");
        let spent = l.account(&input.address).expect("account");
        assert_eq!(spent.sequence, input.sequence, "{name}");
        assert!(spent.coins.is_zero(), "{name}: the input spent everything it held");
        for o in &send.outputs {
            assert_eq!(l.account(&o.address).expect("account").coins, o.coins, "{name}");
        }
        // The same bytes again are a replay.
        assert!(l.execute_block(2, std::slice::from_ref(&tx)).is_err(), "{name}");
    }
}
