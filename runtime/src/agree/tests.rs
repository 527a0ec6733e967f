//! The agreement primitive on hand-fed rounds: what it sends, what it takes
//! in, when it decides and what it records otherwise.

use super::*;
use crate::round::Outbox;
use crate::testing::TestRound;

const KEYS: [&str; 3] = ["ed01", "ed02", "ed03"];
const ALL: Topic = Topic::new("t", Rule::All);

fn round(me: &str, seq: u64) -> Round {
    TestRound::new()
        .unl(KEYS)
        .node_key(me)
        .lcl(seq, &format!("{seq:064x}"))
        .into_parts()
        .0
}

fn sent(r: &mut Round) -> Vec<String> {
    match r.outbox_mut() {
        Outbox::Memory { npl, .. } => std::mem::take(npl)
            .into_iter()
            .map(|m| String::from_utf8(m).unwrap())
            .collect(),
        Outbox::Engine { .. } => Vec::new(),
    }
}

fn node(r: &Round, key: &str) -> Node {
    r.unl()
        .iter()
        .find(|n| n.public_key() == key)
        .unwrap()
        .clone()
}

fn env(topic: &str, n: u64, value: u64) -> Vec<u8> {
    format!(r#"{{"hp_agree":"{topic}","n":{n},"value":{value}}}"#).into_bytes()
}

fn feed(a: &mut Agreement, r: &mut Round, from: &str, msg: &[u8]) -> Received {
    let from = node(r, from);
    a.receive(r, &from, msg).unwrap()
}

fn values(a: &Agreement, r: &Round, t: &Topic) -> Option<Vec<u64>> {
    a.outcome::<u64>(r, t)
        .unwrap()
        .values()
        .map(|v| v.into_iter().copied().collect())
}

#[test]
fn decides_on_every_member_whatever_the_order_and_duplicates() {
    let mut r = round("ed02", 1);
    let mut a = Agreement::new();
    a.contribute(&mut r, &ALL, &2u64).unwrap();
    assert_eq!(sent(&mut r), [r#"{"hp_agree":"t","n":0,"value":2}"#]);
    assert_eq!(values(&a, &r, &ALL), None);
    // Own echo, then ed03 twice (the second copy with another value is
    // ignored: the first counts), then ed01.
    feed(&mut a, &mut r, "ed02", &env("t", 0, 2));
    feed(&mut a, &mut r, "ed03", &env("t", 0, 3));
    feed(&mut a, &mut r, "ed03", &env("t", 1, 99));
    assert_eq!(a.npl(), Npl::Continue);
    feed(&mut a, &mut r, "ed01", &env("t", 0, 1));
    assert_eq!(a.npl(), Npl::Done);
    assert_eq!(values(&a, &r, &ALL), Some(vec![1, 2, 3]), "UNL order");
    let Outcome::Decided(c) = a.outcome::<u64>(&r, &ALL).unwrap() else {
        panic!("decided")
    };
    assert_eq!((c[0].node.as_str(), c[0].value), ("ed01", 1));
}

#[test]
fn re_sends_own_contributions_once_per_peer_heard_first() {
    let mut r = round("ed01", 1);
    let mut a = Agreement::new();
    a.contribute(&mut r, &ALL, &1u64).unwrap();
    a.contribute(&mut r, &Topic::new("u", Rule::All), &5u64)
        .unwrap();
    assert_eq!(sent(&mut r).len(), 2);
    feed(&mut a, &mut r, "ed01", &env("t", 0, 1));
    assert!(sent(&mut r).is_empty(), "its own echo is not a peer");
    // A raw message counts as hearing from the peer too.
    assert_eq!(feed(&mut a, &mut r, "ed03", b"hello"), Received::Other);
    assert_eq!(
        sent(&mut r),
        [
            r#"{"hp_agree":"t","n":2,"value":1}"#,
            r#"{"hp_agree":"u","n":3,"value":5}"#
        ],
        "every copy differs from the first (the engine collapses identical ones)"
    );
    assert_eq!(
        feed(&mut a, &mut r, "ed03", &env("t", 0, 3)),
        Received::Agreement
    );
    assert!(sent(&mut r).is_empty(), "once per peer");
    feed(&mut a, &mut r, "ed02", &env("t", 0, 2));
    assert_eq!(sent(&mut r).len(), 2);
}

#[test]
fn a_threshold_decides_without_the_others_but_waits_to_hear_them() {
    let first2 = Topic::new("f", Rule::First(2));
    let mut r = round("ed01", 1);
    let mut a = Agreement::new();
    a.contribute(&mut r, &first2, &1u64).unwrap();
    feed(&mut a, &mut r, "ed02", &env("f", 0, 2));
    assert!(a.is_decided(&r, &first2));
    assert_eq!(values(&a, &r, &first2), Some(vec![1, 2]));
    assert_eq!(a.npl(), Npl::Continue, "ed03 may be a late starter");
    feed(&mut a, &mut r, "ed03", &env("f", 0, 3));
    assert_eq!(a.npl(), Npl::Done);
    assert_eq!(
        values(&a, &r, &first2),
        Some(vec![1, 2]),
        "ed03 is no member"
    );

    // A node lacking a member waits (the timeout ends it) and is undecided.
    let mut r = round("ed03", 1);
    let mut a = Agreement::new();
    a.contribute(&mut r, &first2, &3u64).unwrap();
    feed(&mut a, &mut r, "ed02", &env("f", 0, 2));
    assert_eq!(a.npl(), Npl::Continue);
    assert_eq!(values(&a, &r, &first2), None);
}

#[test]
fn nodes_missing_different_members_record_the_same_outcome() {
    let mut outcomes = Vec::new();
    for (me, other) in [("ed01", "ed02"), ("ed02", "ed03"), ("ed03", "ed01")] {
        let mut r = round(me, 4);
        let mut a = Agreement::new();
        a.contribute(&mut r, &ALL, &7u64).unwrap();
        feed(&mut a, &mut r, other, &env("t", 0, 7));
        outcomes.push(a.outcome::<u64>(&r, &ALL).unwrap());
    }
    assert!(
        outcomes.iter().all(|o| *o == Outcome::Undecided),
        "{outcomes:?}"
    );
}

#[test]
fn a_new_round_starts_afresh() {
    let mut r = round("ed01", 1);
    let mut a = Agreement::new();
    a.contribute(&mut r, &ALL, &1u64).unwrap();
    for k in ["ed02", "ed03"] {
        feed(&mut a, &mut r, k, &env("t", 0, 1));
    }
    assert!(a.is_decided(&r, &ALL));
    let mut r2 = round("ed01", 2);
    assert!(!a.is_decided(&r2, &ALL), "another lcl");
    assert_eq!(values(&a, &r2, &ALL), None);
    a.contribute(&mut r2, &ALL, &1u64).unwrap();
    assert_eq!(sent(&mut r2), [r#"{"hp_agree":"t","n":0,"value":1}"#]);
    feed(&mut a, &mut r2, "ed02", &env("t", 0, 1));
    assert_eq!(sent(&mut r2).len(), 1, "peers are heard afresh");
}

#[test]
fn misuse_and_bad_messages_are_errors() {
    let mut r = round("ed01", 1);
    let mut a = Agreement::new();
    a.contribute(&mut r, &ALL, &1u64).unwrap();
    let again = a.contribute(&mut r, &ALL, &1u64).unwrap_err();
    assert!(again.to_string().contains("already contributed"), "{again}");

    // A malformed envelope is an error, but the re-send still happened.
    sent(&mut r);
    let from = node(&r, "ed02");
    let bad = a.receive(&mut r, &from, br#"{"hp_agree":1}"#).unwrap_err();
    assert!(bad.to_string().contains("malformed"), "{bad}");
    assert_eq!(sent(&mut r).len(), 1);

    // A member's value that is not a T.
    feed(
        &mut a,
        &mut r,
        "ed02",
        br#"{"hp_agree":"t","n":0,"value":"x"}"#,
    );
    feed(&mut a, &mut r, "ed03", &env("t", 0, 3));
    let e = a.outcome::<u64>(&r, &ALL).unwrap_err();
    assert!(e.to_string().contains("node ed02's contribution"), "{e}");

    let (mut read, _) = TestRound::read_request().into_parts();
    let e = Agreement::new()
        .contribute(&mut read, &ALL, &1u64)
        .unwrap_err();
    assert!(e.to_string().contains("read requests"), "{e}");
}

#[test]
fn strangers_are_ignored_and_observers_only_listen() {
    let mut r = round("ed01", 1);
    let mut a = Agreement::new();
    a.contribute(&mut r, &ALL, &1u64).unwrap();
    sent(&mut r);
    let stranger = Node::new("ed99".into(), 0, None, false, false);
    assert_eq!(
        a.receive(&mut r, &stranger, &env("t", 0, 9)).unwrap(),
        Received::Agreement
    );
    assert!(sent(&mut r).is_empty(), "no re-send to a stranger");

    // An observer (not in the UNL) sends nothing and decides on the members.
    let mut r = TestRound::new().unl(KEYS).node_key("ed09").into_parts().0;
    let mut a = Agreement::new();
    a.contribute(&mut r, &ALL, &9u64).unwrap();
    assert!(sent(&mut r).is_empty());
    for (i, k) in KEYS.iter().enumerate() {
        assert_eq!(a.npl(), Npl::Continue);
        feed(&mut a, &mut r, k, &env("t", 0, i as u64));
    }
    assert!(sent(&mut r).is_empty());
    assert_eq!(a.npl(), Npl::Done);
    assert_eq!(values(&a, &r, &ALL), Some(vec![0, 1, 2]));
}

#[test]
fn later_phases_may_arrive_before_they_are_declared() {
    let commit = Topic::new("commit", Rule::All);
    let reveal = Topic::new("reveal", Rule::All);
    let mut r = TestRound::new()
        .unl(["ed01", "ed02"])
        .node_key("ed01")
        .into_parts()
        .0;
    let mut a = Agreement::new();
    a.contribute(&mut r, &commit, &1u64).unwrap();
    // The peer decided first and already revealed.
    feed(&mut a, &mut r, "ed02", &env("commit", 0, 2));
    feed(&mut a, &mut r, "ed02", &env("reveal", 1, 20));
    assert!(a.is_decided(&r, &commit) && !a.has_contributed(&reveal));
    assert_eq!(a.npl(), Npl::Done, "only commit is declared so far");
    a.contribute(&mut r, &reveal, &10u64).unwrap();
    assert_eq!(a.npl(), Npl::Done);
    assert_eq!(values(&a, &r, &reveal), Some(vec![10, 20]));
}
