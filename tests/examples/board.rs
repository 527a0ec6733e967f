//! examples/board.rs on a simulated 3-node cluster: SQL posts stamped with
//! the round's time, a random draw that every node makes alike, read
//! requests, and refusals (a malformed input among them).

use hotpocket::sim::Cluster;

use crate::cargo_example;

fn one(r: &hotpocket::sim::RoundReport, user: &str) -> serde_json::Value {
    let node = &r.nodes[0];
    let out = node.outputs.iter().find(|u| u.user == user).unwrap();
    assert_eq!(out.messages.len(), 1, "{r}");
    serde_json::from_slice(&out.messages[0]).unwrap()
}

#[test]
fn posts_draws_and_reads_agree_on_three_nodes() {
    let mut c = Cluster::builder(cargo_example("board").unwrap())
        .nodes(3)
        .user("alice")
        .user("bob")
        .build()
        .unwrap();
    let alice = c.user_public_key("alice");

    // Before any post: reads see an empty board, a draw has nothing to draw.
    let r = c.read("alice", r#""latest""#).unwrap();
    r.assert_agree().assert_success();
    assert_eq!(one(&r, "alice"), serde_json::json!({"latest": []}));
    c.input("bob", r#""draw""#);
    let r = c.round().unwrap();
    r.assert_agree().assert_success();
    assert_eq!(one(&r, "bob")["error"]["kind"], "no_posts");
    // A malformed input is answered, and changes nothing.
    c.input("bob", "post hello");
    let r = c.round().unwrap();
    r.assert_agree().assert_success();
    assert_eq!(
        one(&r, "bob"),
        serde_json::json!({"error": {"kind": "bad_command", "reason": "expected value at line 1 column 1"}})
    );

    let mut ats = Vec::new();
    for i in 0..6 {
        c.input("alice", format!(r#"{{"post":"hello {i}"}}"#));
        let r = c.round().unwrap();
        r.assert_agree().assert_success();
        let posted = one(&r, "alice");
        assert_eq!(posted["posted"]["id"], i + 1);
        ats.push(posted["posted"]["at"].as_str().unwrap().to_owned());
    }
    // CURRENT_TIMESTAMP is "YYYY-MM-DD HH:MM:SS", the round's time on every node.
    assert!(ats.iter().all(|a| a.len() == 19), "{ats:?}");

    let mut drawn = std::collections::BTreeSet::new();
    for _ in 0..6 {
        c.input("bob", r#""draw""#);
        let r = c.round().unwrap();
        r.assert_agree().assert_success();
        let d = one(&r, "bob");
        assert_eq!(d["drawn"]["author"], alice.as_str());
        drawn.insert(d["drawn"]["id"].as_i64().unwrap());
    }
    // random() follows the lcl, which changes every round.
    assert!(drawn.len() > 1, "{drawn:?}");

    let hash = c.round().unwrap().state_hash().map(str::to_owned);
    let r = c.read("bob", r#""latest""#).unwrap();
    r.assert_agree().assert_success();
    let latest = one(&r, "bob");
    let ids: Vec<i64> = latest["latest"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [6, 5, 4, 3, 2]);
    assert_eq!(latest["latest"][0]["text"], "hello 5");
    let r = c.read("bob", r#"{"post":"sneaky"}"#).unwrap();
    assert_eq!(one(&r, "bob")["error"]["kind"], "read_only");
    c.input("bob", r#"{"post":"  "}"#).input("bob", "nonsense");
    let r = c.round().unwrap();
    r.assert_agree().assert_success();
    let out = &r.nodes[0]
        .outputs
        .iter()
        .find(|u| u.user == "bob")
        .unwrap()
        .messages;
    assert_eq!(out.len(), 2);
    // Refusals and read requests change nothing.
    assert_eq!(r.state_hash().map(str::to_owned), hash);
}
