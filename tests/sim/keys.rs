//! The simulator's keys are real ed25519 key pairs: a contract signs with
//! its node's private key and its peers verify with that node's public key;
//! a test signs as a user and the contract verifies.

use std::collections::BTreeMap;

use hotpocket::crypto;
use hotpocket::sim::{Cluster, KeyPair};

const BIN: &str = env!("CARGO_BIN_EXE_test-signer");

#[test]
fn nodes_verify_each_others_signatures_made_with_the_round_private_key() {
    let mut c = Cluster::builder(BIN)
        .nodes(3)
        .user("alice")
        .build()
        .unwrap();
    let r = c.round().unwrap();
    r.assert_success().assert_no_hazards().assert_agree();
    let expected: BTreeMap<String, bool> = (0..3)
        .map(|i| (KeyPair::node(i).public_key, true))
        .collect();
    for n in &r.nodes {
        let outs = n.output_strings("alice");
        assert_eq!(outs.len(), 1, "node {}", n.index);
        let got: BTreeMap<String, bool> = serde_json::from_str(&outs[0]).unwrap();
        assert_eq!(got, expected, "node {}", n.index);
        // The signature each node sent is node-local (its own key) and
        // verifies with that node's public key, outside the contract too.
        let sent: serde_json::Value = serde_json::from_slice(&n.npl_sent[0]).unwrap();
        let (msg, sig) = (sent["msg"].as_str().unwrap(), sent["sig"].as_str().unwrap());
        assert_eq!(msg, format!("ledger {}", r.lcl_seq_no));
        let own = &c.node_keys(n.index).public_key;
        assert_eq!(crypto::verify(own, msg.as_bytes(), sig), Ok(()));
        let other = &c.node_keys((n.index + 1) % 3).public_key;
        assert!(crypto::verify(other, msg.as_bytes(), sig).is_err());
    }
}

#[test]
fn contract_verifies_a_signature_made_as_the_user() {
    let mut c = Cluster::builder(BIN)
        .nodes(2)
        .user("alice")
        .user("bob")
        .build()
        .unwrap();
    let alice = KeyPair::user("alice");
    let signed = |msg: &str, key: &KeyPair| {
        serde_json::json!({"msg": msg, "sig": key.sign(msg.as_bytes()).unwrap()}).to_string()
    };
    c.input("alice", signed("pay bob 5", &alice));
    // Bob sends a message signed with alice's key: it must not verify as his.
    c.input("bob", signed("pay bob 500", &alice));
    let r = c.round().unwrap();
    r.assert_success().assert_agree();
    let first = |u: &str| r.node(0).output_strings(u)[0].clone();
    assert_eq!(first("alice"), "valid: pay bob 5");
    assert_eq!(first("bob"), "invalid: signature does not verify");
}
