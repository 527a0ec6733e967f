//! Helpers shared by the bad-input catalogue's test files: the catalogue
//! contract, JSON edits of the round's arguments, and the secret check every
//! case runs.

#![allow(dead_code, unreachable_pub)]

use hotpocket::sim::{KeyPair, NodeReport, RoundReport};
use serde_json::Value;

/// The catalogue contract (tests/contracts/catalogue.rs).
pub const BIN: &str = env!("CARGO_BIN_EXE_test-catalogue");

/// A node's stderr as text.
pub fn stderr(n: &NodeReport) -> String {
    String::from_utf8_lossy(&n.stderr).into_owned()
}

/// Rewrites the args JSON through a `serde_json::Value` (key order is lost,
/// which the runtime does not care about).
pub fn edit(json: &str, f: impl FnOnce(&mut serde_json::Map<String, Value>)) -> String {
    let mut v: Value = serde_json::from_str(json).expect("the simulator's args are JSON");
    f(v.as_object_mut().expect("an object"));
    v.to_string()
}

/// The first user's entry (`[out_fd, [offset, size], ...]`) in the args.
pub fn first_user(args: &mut serde_json::Map<String, Value>) -> &mut Vec<Value> {
    args.get_mut("users")
        .and_then(Value::as_object_mut)
        .and_then(|u| u.values_mut().next())
        .and_then(Value::as_array_mut)
        .expect("a user")
}

/// True when the contract said goodbye on the control channel, which the
/// runtime does at the end of every round that got past its arguments.
pub fn sent_contract_end(n: &NodeReport) -> bool {
    n.control
        .iter()
        .any(|c| c.raw == br#"{"type":"contract_end"}"#)
}

/// Pieces of a private key worth searching for. An ed25519 secret key in
/// the engine's form is `ed` + seed (64 hex) + public key (64 hex); the
/// public half is no secret (it appears in UNL paths of error messages), so
/// the needles are the seed and both its halves (a partial leak is still a
/// leak).
fn secret_needles(private_key: &str) -> Vec<String> {
    let hex = private_key.trim_start_matches("ed");
    [0..64, 0..32, 32..64]
        .into_iter()
        .filter_map(|r| hex.get(r).map(str::to_owned))
        .collect()
}

/// Fails if any node's private key, or a piece of it, appears in anything
/// the node's contract made visible: stdout, stderr, outputs, control and
/// NPL messages.
#[track_caller]
pub fn assert_no_secret(r: &RoundReport) {
    for n in &r.nodes {
        let key = KeyPair::node(n.index).private_key;
        let mut seen: Vec<(String, Vec<u8>)> = vec![
            ("stdout".into(), n.stdout.clone()),
            ("stderr".into(), n.stderr.clone()),
        ];
        for u in &n.outputs {
            for (i, m) in u.messages.iter().enumerate() {
                seen.push((format!("output #{i} to {}", u.user), m.clone()));
            }
        }
        for (i, c) in n.control.iter().enumerate() {
            seen.push((format!("control message #{i}"), c.raw.clone()));
        }
        for (i, m) in n.npl_sent.iter().enumerate() {
            seen.push((format!("NPL message #{i}"), m.clone()));
        }
        for needle in secret_needles(&key) {
            for (what, bytes) in &seen {
                let text = String::from_utf8_lossy(bytes);
                assert!(
                    !text.contains(&needle),
                    "node {}'s private key leaked into its {what}",
                    n.index
                );
            }
        }
    }
}
