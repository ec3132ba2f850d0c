//! Known answers from Theta's Go reference implementation: the expected sign bytes (and
//! one signed transaction) asserted by Theta's own unit tests in
//! `thetatoken/theta-protocol-ledger` at commit b8f81043434ed708fc467666dfef5ba300f58fe8,
//! file `ledger/types/tx_test.go`; each test below names the Go test it mirrors. The hex
//! is copied verbatim from that file; the fields are the Go test's fields. Together with
//! the theta-js vectors (`known_answer.rs`, types 2 and 7–11) every type has an external
//! known answer.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ledger::*;
use primitives::{Address, SecretKey, U256};

/// Go's `getTestAddress`: the string's bytes copied into the front of a zero address.
fn test_address(s: &str) -> Address {
    let mut a = [0u8; 20];
    a[..s.len()].copy_from_slice(s.as_bytes());
    Address::from(a)
}

fn hex_addr(h: &str) -> Address {
    Address::from(primitives::codec::from_hex_array::<20>(h).unwrap())
}

fn c(theta: u64, tfuel: u64) -> Coins {
    Coins::new(U256::from(theta), U256::from(tfuel))
}

fn assert_sign_bytes(tx: &Transaction, chain_id: &str, role: SignerRole, expected_hex: &str) {
    let got = tx.sign_bytes(chain_id, role).unwrap();
    assert_eq!(primitives::codec::to_hex(&got), format!("0x{}", expected_hex.to_lowercase()));
}

/// `validator1`'s address in Go's tests (`PrivAccountFromSecret("validator1")`), read
/// from the expected bytes.
const VALIDATOR1: &str = "B23369B1225E72332462A75C1B7F509A805E3D6E";

#[test]
fn go_coinbase_tx_signable() {
    let tx = Transaction::Coinbase(CoinbaseTx {
        proposer: TxInput::new(hex_addr(VALIDATOR1), c(0, 0), 1),
        outputs: vec![
            TxOutput::new(test_address("validator1"), c(333, 0)),
            TxOutput::new(test_address("validator1"), c(444, 0)),
        ],
        block_height: 10,
    });
    assert_sign_bytes(
        &tx,
        "test_chain_id",
        SignerRole::Proposer,
        "F87F80808094000000000000000000000000000000000000000080B8648D746573745F636861696E5F696480F853DA94B23369B1225E72332462A75C1B7F509A805E3D6EC280800180F6DA9476616C696461746F723100000000000000000000C482014D80DA9476616C696461746F723100000000000000000000C48201BC800A",
    );
}

#[test]
fn go_slash_tx_signable() {
    let tx = Transaction::Slash(SlashTx {
        proposer: TxInput::new(hex_addr(VALIDATOR1), c(0, 0), 1),
        slashed_address: test_address("014FAB"),
        reserve_sequence: 1,
        slash_proof: b"2345ABC".to_vec(),
    });
    assert_sign_bytes(
        &tx,
        "test_chain",
        SignerRole::Proposer,
        "F86280808094000000000000000000000000000000000000000080B8478A746573745F636861696E01F839DA94B23369B1225E72332462A75C1B7F509A805E3D6EC280800180943031344641420000000000000000000000000000018732333435414243",
    );
}

#[test]
fn go_send_tx_signable() {
    let tx = Transaction::Send(SendTx {
        fee: c(111, 0),
        inputs: vec![
            TxInput::new(test_address("input1"), c(12345, 0), 67890),
            TxInput::new(test_address("input2"), c(111, 0), 222),
        ],
        outputs: vec![
            TxOutput::new(test_address("output1"), c(333, 0)),
            TxOutput::new(test_address("output2"), c(444, 0)),
        ],
    });
    let expected = "F8A180808094000000000000000000000000000000000000000080B8868A746573745F636861696E02F878C26F80F83CDF94696E707574310000000000000000000000000000C4823039808301093280DB94696E707574320000000000000000000000000000C26F8081DE80F6DA946F75747075743100000000000000000000000000C482014D80DA946F75747075743200000000000000000000000000C48201BC80";
    assert_sign_bytes(&tx, "test_chain", SignerRole::Input(0), expected);
    assert_sign_bytes(&tx, "test_chain", SignerRole::Input(1), expected);
}

#[test]
fn go_send_tx_signable2_sign_bytes_and_signed_transaction() {
    let ten18 = U256::from(1_000_000_000_000_000_000u64);
    let theta = U256::from(10u64) * ten18;
    let tfuel = U256::from(20u64) * ten18;
    let fee = U256::from(1_000_000_000_000u64);
    let sender = hex_addr("2E833968E5bB786Ae419c4d13189fB081Cc43bab");
    let mut tx = Transaction::Send(SendTx {
        fee: Coins::new(U256::zero(), fee),
        inputs: vec![TxInput::new(sender, Coins::new(theta, tfuel + fee), 2)],
        outputs: vec![TxOutput::new(
            hex_addr("9F1233798E905E173560071255140b4A8aBd3Ec6"),
            Coins::new(theta, tfuel),
        )],
    });
    assert_sign_bytes(
        &tx,
        "privatenet",
        SignerRole::Input(0),
        "f88980808094000000000000000000000000000000000000000080b86e8a707269766174656e657402f860c78085e8d4a51000eceb942e833968e5bb786ae419c4d13189fb081cc43babd3888ac7230489e800008901158e46f1e87510000280eae9949f1233798e905e173560071255140b4a8abd3ec6d3888ac7230489e800008901158e460913d00000",
    );
    // The Go test signs with this key (go-ethereum's crypto.Sign, RFC 6979) and asserts
    // the signed transaction bytes; our Signer gives the same signature.
    let key =
        SecretKey::from_hex("93a90ea508331dfdf27fb79757d4250b4e84954927ba0073cd67454ac432c737").unwrap();
    assert_eq!(key.address(), sender);
    tx.sign("privatenet", SignerRole::Input(0), &key).unwrap();
    let expected_signed = "02f8a4c78085e8d4a51000f86ff86d942e833968e5bb786ae419c4d13189fb081cc43babd3888ac7230489e800008901158e46f1e875100002b8415a6e9a2e93487c786f07175998493161e61a5d9613745aa0e2fe51e5db1eaf626f72bfae41d971e88ff3b2c217cf611c2addb266e7d7ebda29cb0e9e5a2f482800eae9949f1233798e905e173560071255140b4a8abd3ec6d3888ac7230489e800008901158e460913d00000";
    assert_eq!(primitives::codec::to_hex(tx.encode()), format!("0x{expected_signed}"));
    // And the Go-signed bytes decode and verify here.
    let wire = primitives::codec::from_hex(expected_signed).unwrap();
    let back = Transaction::decode(&wire, MAX_TX_SIZE).unwrap();
    back.verify_all("privatenet").unwrap();
    assert_eq!(back.encode(), wire);
}

#[test]
fn go_reserve_fund_tx_signable() {
    let tx = Transaction::ReserveFund(ReserveFundTx {
        fee: c(0, 111),
        source: TxInput::new(test_address("input1"), c(0, 12345), 67890),
        collateral: c(0, 22897),
        resource_ids: vec!["rid00123".into()],
        duration: 999,
    });
    assert_sign_bytes(
        &tx,
        "test_chain",
        SignerRole::Source,
        "F85D80808094000000000000000000000000000000000000000080B8428A746573745F636861696E03F5C2806FDF94696E707574310000000000000000000000000000C4808230398301093280C480825971C98872696430303132338203E7",
    );
}

#[test]
fn go_release_fund_tx_signable() {
    let tx = Transaction::ReleaseFund(ReleaseFundTx {
        fee: c(0, 111),
        source: TxInput::new(test_address("input1"), c(0, 12345), 67890),
        reserve_sequence: 12,
    });
    assert_sign_bytes(
        &tx,
        "test_chain",
        SignerRole::Source,
        "F84B80808094000000000000000000000000000000000000000080B18A746573745F636861696E04E4C2806FDF94696E707574310000000000000000000000000000C48082303983010932800C",
    );
}

fn go_service_payment() -> Transaction {
    Transaction::ServicePayment(ServicePaymentTx {
        fee: c(0, 111),
        source: TxInput::new(test_address("source"), c(0, 12345), 67890),
        target: TxInput::new(test_address("target"), c(0, 0), 22341),
        payment_sequence: 3,
        reserve_sequence: 12,
        resource_id: "rid00123".into(),
    })
}

#[test]
fn go_service_payment_tx_source_signable() {
    assert_sign_bytes(
        &go_service_payment(),
        "test_chain",
        SignerRole::Source,
        "F86F80808094000000000000000000000000000000000000000080B8548A746573745F636861696E05F846C28080DC94736F757263650000000000000000000000000000C4808230398080DA947461726765740000000000000000000000000000C280808080030C887269643030313233",
    );
}

#[test]
fn go_service_payment_tx_target_signable() {
    assert_sign_bytes(
        &go_service_payment(),
        "test_chain",
        SignerRole::Target,
        "F87480808094000000000000000000000000000000000000000080B8598A746573745F636861696E05F84BC2806FDF94736F757263650000000000000000000000000000C4808230398301093280DC947461726765740000000000000000000000000000C2808082574580030C887269643030313233",
    );
}

#[test]
fn go_split_rule_tx_signable() {
    let tx = Transaction::SplitRule(SplitRuleTx {
        fee: c(0, 111),
        resource_id: "rid00123".into(),
        initiator: TxInput::new(test_address("source"), c(0, 12345), 67890),
        splits: vec![Split { address: test_address("splitaddr1"), percentage: 30 }],
        duration: 99,
    });
    assert_sign_bytes(
        &tx,
        "test_chain",
        SignerRole::Initiator,
        "F86E80808094000000000000000000000000000000000000000080B8538A746573745F636861696E06F845C2806F887269643030313233DF94736F757263650000000000000000000000000000C4808230398301093280D7D69473706C69746164647231000000000000000000001E63",
    );
}
