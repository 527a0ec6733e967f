//! The bad-input catalogue (`hotpocket::guide::bad_input`), case by case, as
//! real processes under the simulator: the catalogue contract
//! (tests/contracts/catalogue.rs) meets malformed arguments, bad inputs,
//! failing handlers, closed channels and broken state files. Every case
//! checks the message, what is still delivered, the exit status, and that
//! the node's private key appears nowhere.
//!
//! The heavy cases (a kill during a save, 10,000 users, 100 MiB) are in
//! tests/contract/crash_safety.rs and tests/contract/scale.rs.

use crate::support;

use std::path::Path;
use std::sync::Arc;

use crate::support::{BIN, assert_no_secret, edit, first_user, sent_contract_end, stderr};
use hotpocket::sim::{Cluster, Exit, HazardKind, KeyPair, NodeReport, RoundReport, Variant};
use serde_json::{Map, Value, json};

fn alice() -> String {
    KeyPair::user("alice").public_key
}

fn bob() -> String {
    KeyPair::user("bob").public_key
}

// ---------------------------------------------------------------------------
// The round's arguments
// ---------------------------------------------------------------------------

/// Which execution an arguments case runs in.
#[derive(Clone, Copy, Debug)]
enum Exec {
    /// Consensus round, `readonly` variant (hpcore 0.6.4).
    Consensus,
    /// Consensus round, `mode` variant (hpcore fallback branch).
    ConsensusMode,
    /// Fallback round (`mode` variant, no users).
    Fallback,
    /// Read request, `readonly` variant.
    Read,
}

type ArgsEdit = Arc<dyn Fn(&mut Map<String, Value>) + Send + Sync>;

/// Runs one execution of the catalogue contract with its arguments edited,
/// alice sending `{"Echo":"hi"}` (the read request's input is `hi`).
fn with_args(exec: Exec, f: ArgsEdit) -> (Cluster, RoundReport) {
    let variant = match exec {
        Exec::Consensus | Exec::Read => Variant::Readonly,
        Exec::ConsensusMode | Exec::Fallback => Variant::Mode,
    };
    let mut c = Cluster::builder(BIN)
        .user("alice")
        .user("bob")
        .variant(variant)
        .map_args(move |_, json| edit(json, |m| f(m)))
        .build()
        .unwrap();
    let r = match exec {
        Exec::Read => c.read("alice", "hi"),
        Exec::Fallback => c.fallback_round(),
        Exec::Consensus | Exec::ConsensusMode => {
            c.input("alice", r#"{"Echo":"hi"}"#);
            c.round()
        }
    }
    .unwrap();
    assert_no_secret(&r);
    (c, r)
}

/// The outcome of arguments the runtime cannot use: exactly one line on
/// stderr naming the field, exit status 1, nothing delivered (no handler
/// ran, no `contract_end`), the state untouched.
#[track_caller]
fn assert_refused(c: &Cluster, r: &RoundReport, field: &str, fragment: &str) {
    let n = r.node(0);
    let err = stderr(n);
    let prefix = if field.is_empty() {
        "hotpocket: round arguments: ".to_owned()
    } else {
        format!("hotpocket: round arguments: field `{field}`: ")
    };
    assert!(
        err.starts_with(&prefix) && err.contains(fragment) && err.lines().count() == 1,
        "expected {prefix}…{fragment}…, got {err:?}"
    );
    assert_eq!(n.exit, Exit::Code(1), "{r}");
    assert!(n.outputs.iter().all(|u| u.messages.is_empty()), "{r}");
    assert!(n.control.is_empty() && n.npl_sent.is_empty(), "{r}");
    let dir = c.state_dir(0);
    assert!(!dir.join("state.json").exists(), "no state was written");
}

#[test]
fn args_stdin_empty_not_json_or_truncated() {
    for exec in [Exec::Consensus, Exec::Read] {
        let (c, r) = with_args(exec, Arc::new(|m| m.clear()));
        // `{}`: everything is missing; the variant is asked for first.
        assert_refused(&c, &r, "mode", "missing; expected `readonly`");
    }
    for (text, fragment) in [
        (
            "",
            "stdin is empty: a contract is started by the HotPocket engine",
        ),
        ("  \n", "stdin is empty"),
        ("hello", "expected value at line 1 column 1"),
        ("[1,2]", "invalid type: sequence, expected a JSON object"),
        ("{} {}", "trailing data after the arguments object"),
    ] {
        let mut c = Cluster::builder(BIN)
            .user("alice")
            .map_args(move |_, _| text.to_owned())
            .build()
            .unwrap();
        c.input("alice", r#"{"Echo":"hi"}"#);
        let r = c.round().unwrap();
        assert_no_secret(&r);
        assert_refused(&c, &r, "", fragment);
    }
    // Truncated anywhere: inside a key, a number, the private key, the users.
    for cut in [0.1, 0.25, 0.3, 0.5, 0.75, 0.99] {
        let mut c = Cluster::builder(BIN)
            .user("alice")
            .map_args(move |_, json| {
                let at = (json.len() as f64 * cut) as usize;
                json[..at].to_owned()
            })
            .build()
            .unwrap();
        c.input("alice", r#"{"Echo":"hi"}"#);
        let r = c.round().unwrap();
        assert_no_secret(&r);
        let err = stderr(r.node(0));
        assert!(
            err.starts_with("hotpocket: round arguments: ") && err.contains("EOF while parsing"),
            "cut at {cut}: {err}"
        );
        assert_eq!(r.node(0).exit, Exit::Code(1));
    }
}

#[test]
fn args_each_required_field_missing() {
    let common = [
        "hp_version",
        "contract_id",
        "public_key",
        "private_key",
        "timestamp",
        "control_fd",
        "user_in_fd",
        "users",
        "unl",
    ];
    let consensus_only = ["lcl_seq_no", "lcl_hash", "npl_fd"];
    let mut cases: Vec<(Exec, &str, &str)> = Vec::new();
    for exec in [
        Exec::Consensus,
        Exec::ConsensusMode,
        Exec::Fallback,
        Exec::Read,
    ] {
        for field in common.iter().chain(match exec {
            Exec::Read => [].iter(),
            _ => consensus_only.iter(),
        }) {
            cases.push((exec, field, field));
        }
    }
    cases.push((Exec::Consensus, "readonly", "mode"));
    cases.push((Exec::Read, "readonly", "mode"));
    cases.push((Exec::ConsensusMode, "mode", "mode"));
    cases.push((
        Exec::Fallback,
        "non_consensus_rounds",
        "non_consensus_rounds",
    ));
    for (exec, remove, field) in cases {
        let remove = remove.to_owned();
        let (c, r) = with_args(
            exec,
            Arc::new(move |m| {
                m.remove(&remove);
            }),
        );
        assert_refused(&c, &r, field, "missing; expected");
    }
}

#[test]
fn args_each_field_of_the_wrong_type() {
    let cases: Vec<(Exec, &str, Value, &str)> = vec![
        (
            Exec::Consensus,
            "hp_version",
            json!(5),
            "invalid type: integer `5`, expected a string",
        ),
        (
            Exec::Consensus,
            "contract_id",
            json!([]),
            "invalid type: sequence, expected a string",
        ),
        (
            Exec::Consensus,
            "public_key",
            json!(true),
            "invalid type: boolean `true`",
        ),
        (
            Exec::Consensus,
            "public_key",
            json!("not hex"),
            "expected a hex string, found \"not hex\"",
        ),
        (
            Exec::Consensus,
            "private_key",
            json!(12345),
            "expected a hex string, found a number (value not shown)",
        ),
        (
            Exec::Consensus,
            "private_key",
            json!({"k": "v"}),
            "found an object (value not shown)",
        ),
        (
            Exec::Consensus,
            "private_key",
            json!("zz-not-hex"),
            "expected a hex string (value not shown)",
        ),
        (
            Exec::Consensus,
            "timestamp",
            json!("soon"),
            "invalid type: string \"soon\", expected u64",
        ),
        (
            Exec::Consensus,
            "timestamp",
            json!(-1),
            "invalid value: integer `-1`, expected u64",
        ),
        (
            Exec::Consensus,
            "readonly",
            json!("no"),
            "expected a boolean",
        ),
        (
            Exec::ConsensusMode,
            "mode",
            json!(1),
            "invalid type: integer `1`, expected a string",
        ),
        (
            Exec::Consensus,
            "lcl_seq_no",
            json!(1.5),
            "invalid type: floating point `1.5`, expected u64",
        ),
        (
            Exec::Consensus,
            "lcl_hash",
            json!(7),
            "invalid type: integer `7`, expected a string",
        ),
        (
            Exec::Consensus,
            "lcl_hash",
            json!("xyz"),
            "expected a hex string, found \"xyz\"",
        ),
        (
            Exec::Consensus,
            "npl_fd",
            json!("7"),
            "invalid type: string \"7\", expected i64",
        ),
        (
            Exec::Consensus,
            "npl_fd",
            json!(-1),
            "-1 is not a file descriptor number",
        ),
        (
            Exec::Consensus,
            "npl_fd",
            json!(4_294_967_296_u64),
            "4294967296 is not a file descriptor number",
        ),
        (
            Exec::Consensus,
            "control_fd",
            json!(null),
            "invalid type: null, expected i64",
        ),
        (
            Exec::Read,
            "user_in_fd",
            json!(1.0),
            "invalid type: floating point `1.0`, expected i64",
        ),
        (
            Exec::Consensus,
            "users",
            json!("x"),
            "invalid type: string \"x\", expected an object mapping user public keys",
        ),
        (
            Exec::Consensus,
            "unl",
            json!(3),
            "invalid type: integer `3`, expected an object mapping UNL public keys",
        ),
        (
            Exec::Fallback,
            "non_consensus_rounds",
            json!(70000),
            "invalid value: integer `70000`, expected u16",
        ),
    ];
    for (exec, field, value, fragment) in cases {
        let (c, r) = with_args(
            exec,
            Arc::new(move |m| {
                m.insert(field.to_owned(), value.clone());
            }),
        );
        assert_refused(&c, &r, field, fragment);
    }
}

#[test]
fn args_unknown_mode_and_contradictions() {
    let (c, r) = with_args(
        Exec::ConsensusMode,
        Arc::new(|m| {
            m.insert("mode".into(), json!("fast"));
        }),
    );
    assert_refused(
        &c,
        &r,
        "mode",
        "unknown mode \"fast\"; expected \"consensus\", \"consensus_fallback\" or \"read_req\"",
    );
    let (c, r) = with_args(
        Exec::ConsensusMode,
        Arc::new(|m| {
            m.insert("readonly".into(), json!(true));
        }),
    );
    assert_refused(
        &c,
        &r,
        "readonly",
        "`readonly: true` contradicts `mode: \"consensus\"`",
    );
    // A fallback round that lists users.
    let (c, r) = with_args(
        Exec::Fallback,
        Arc::new(|m| {
            m.insert("users".into(), json!({ alice(): [7] }));
        }),
    );
    assert_refused(
        &c,
        &r,
        "users",
        "fallback rounds have no users, but some were listed",
    );
}

#[test]
fn args_users_and_unl_of_the_wrong_shape() {
    let a = alice();
    let node = KeyPair::node(0).public_key;
    let cases: Vec<(ArgsEdit, String, &str)> = vec![
        (
            Arc::new(|m| {
                m.insert("users".into(), json!([]));
            }),
            "users".into(),
            "invalid type: sequence, expected an object",
        ),
        (
            Arc::new(|m| {
                first_user(m).clear();
            }),
            format!("users.{a}"),
            "expected [out_fd, [offset, size], ...], found []",
        ),
        (
            Arc::new(|m| {
                let users = m.get_mut("users").and_then(Value::as_object_mut).unwrap();
                users.insert(alice(), json!({"out_fd": 7}));
            }),
            format!("users.{a}"),
            "invalid type: map, expected an array [out_fd, [offset, size], ...]",
        ),
        (
            Arc::new(|m| {
                first_user(m)[1] = json!([0]);
            }),
            format!("users.{a}[1]"),
            "expected [offset, size], found 1 element",
        ),
        (
            Arc::new(|m| {
                first_user(m)[1] = json!([0, 1, 2]);
            }),
            format!("users.{a}[1]"),
            "expected [offset, size], found 3 elements",
        ),
        (
            Arc::new(|m| {
                first_user(m)[1] = json!([-4096, 2]);
            }),
            format!("users.{a}[1]"),
            "invalid value: integer `-4096`, expected u64",
        ),
        (
            Arc::new(|m| {
                first_user(m)[0] = json!("7");
            }),
            format!("users.{a}[0]"),
            "invalid type: string \"7\", expected i64",
        ),
        (
            Arc::new(|m| {
                let users = m.get_mut("users").and_then(Value::as_object_mut).unwrap();
                let (_, v) = users
                    .iter()
                    .next()
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .unwrap();
                users.clear();
                users.insert("alice".into(), v);
            }),
            "users.alice".into(),
            "expected a hex public key as the key",
        ),
        (
            Arc::new(|m| {
                m.insert("unl".into(), json!([]));
            }),
            "unl".into(),
            "invalid type: sequence, expected an object",
        ),
        (
            Arc::new(move |m| {
                m.insert("unl".into(), json!({ KeyPair::node(0).public_key: [1] }));
            }),
            format!("unl.{node}"),
            "invalid type: sequence, expected an object {\"active_on\": ms}",
        ),
        (
            Arc::new(move |m| {
                m.insert("unl".into(), json!({ KeyPair::node(0).public_key: {} }));
            }),
            format!("unl.{node}"),
            "missing field `active_on`",
        ),
        (
            Arc::new(move |m| {
                m.insert(
                    "unl".into(),
                    json!({ KeyPair::node(0).public_key: {"active_on": 1, "lcl_seq_no": 2} }),
                );
            }),
            format!("unl.{node}"),
            "`lcl_seq_no` and `lcl_hash` must come together",
        ),
    ];
    for (f, field, fragment) in cases {
        let (c, r) = with_args(Exec::Consensus, f);
        assert_refused(&c, &r, &field, fragment);
    }
}

/// Swaps the numbers of two fd fields (`users` = the first user's out fd).
fn swap_fds(m: &mut Map<String, Value>, a: &str, b: &str) {
    fn get(m: &mut Map<String, Value>, k: &str) -> Value {
        if k == "users" {
            first_user(m)[0].clone()
        } else {
            m[k].clone()
        }
    }
    fn set(m: &mut Map<String, Value>, k: &str, v: Value) {
        if k == "users" {
            first_user(m)[0] = v;
        } else {
            m.insert(k.into(), v);
        }
    }
    let (va, vb) = (get(m, a), get(m, b));
    set(m, a, vb);
    set(m, b, va);
}

#[test]
fn args_fd_numbers_closed_or_of_the_wrong_kind() {
    let a = alice();
    // Channels every user needs: the round cannot run.
    let fatal: Vec<(ArgsEdit, String, &str)> = vec![
        (
            Arc::new(|m| {
                m.insert("control_fd".into(), json!(900));
            }),
            "control_fd".into(),
            "file descriptor 900 is not open",
        ),
        (
            Arc::new(|m| {
                m.insert("npl_fd".into(), json!(901));
            }),
            "npl_fd".into(),
            "file descriptor 901 is not open",
        ),
        (
            Arc::new(|m| {
                m.insert("user_in_fd".into(), json!(902));
            }),
            "user_in_fd".into(),
            "file descriptor 902 is not open",
        ),
        (
            Arc::new(|m| swap_fds(m, "control_fd", "user_in_fd")),
            "control_fd".into(),
            "is not a socket",
        ),
        (
            Arc::new(|m| swap_fds(m, "npl_fd", "users")),
            "npl_fd".into(),
            "is a Stream socket; expected SeqPacket",
        ),
        (
            Arc::new(|m| swap_fds(m, "user_in_fd", "users")),
            "user_in_fd".into(),
            "is not a regular file or memfd",
        ),
        (
            Arc::new(|m| {
                let npl = m["npl_fd"].clone();
                m.insert("control_fd".into(), npl);
            }),
            "npl_fd".into(),
            "is also `control_fd`; every channel needs its own",
        ),
        (
            Arc::new(|m| {
                first_user(m)[0] = json!(1);
            }),
            format!("users.{a}[0]"),
            "file descriptor 1 is the contract's stdout, not a channel",
        ),
    ];
    for (f, field, fragment) in fatal {
        let (c, r) = with_args(Exec::Consensus, f);
        assert_refused(&c, &r, &field, fragment);
    }
}

#[test]
fn a_users_closed_output_fd_costs_only_that_users_outputs() {
    let a = alice();
    let mut c = Cluster::builder(BIN)
        .user("alice")
        .user("bob")
        .map_args(|_, json| {
            edit(json, |m| {
                let users = m.get_mut("users").and_then(Value::as_object_mut).unwrap();
                users
                    .get_mut(&alice())
                    .and_then(Value::as_array_mut)
                    .unwrap()[0] = json!(903);
            })
        })
        .build()
        .unwrap();
    c.input("alice", r#"{"Save":[3,4]}"#)
        .input("alice", r#"{"Echo":"lost"}"#)
        .input("bob", r#"{"Echo":"b"}"#);
    let r = c.round().unwrap();
    assert_no_secret(&r);
    let n = r.node(0);
    let err = stderr(n);
    assert!(
        err.contains(&format!(
            "hotpocket: round arguments: field `users.{a}[0]`: file descriptor 903 is not open; \
             user {a}'s inputs still run, but its outputs cannot be sent"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "user {a} input #1: handler returned an error: output to user {a}: no usable output socket"
        )),
        "{err}"
    );
    assert_eq!(n.output_strings("bob"), ["b", "end"]);
    assert_eq!(n.exit, Exit::Code(0));
    assert!(sent_contract_end(n));
    // Alice's input still changed the state, as on the nodes that could answer her.
    let state = std::fs::read_to_string(c.state_dir(0).join("state.json")).unwrap();
    assert_eq!(state, r#"{"version":3,"pad":"dddd"}"#);
}

// ---------------------------------------------------------------------------
// Inputs and handlers
// ---------------------------------------------------------------------------

/// One consensus round of the catalogue contract with these inputs.
fn round_with(inputs: &[(&str, &str)]) -> (Cluster, RoundReport) {
    let mut c = Cluster::builder(BIN)
        .user("alice")
        .user("bob")
        .build()
        .unwrap();
    for (user, input) in inputs {
        c.input(user, input);
    }
    let r = c.round().unwrap();
    assert_no_secret(&r);
    (c, r)
}

#[test]
fn input_range_beyond_the_input_file() {
    let a = alice();
    for (pair, fragment) in [
        (json!([0, 1_u64 << 40]), "lies beyond the input file"),
        (json!([u64::MAX, 2]), "offset + size overflows"),
    ] {
        let mut c = Cluster::builder(BIN)
            .user("alice")
            .user("bob")
            .map_args(move |_, json| edit(json, |m| first_user(m)[1] = pair.clone()))
            .build()
            .unwrap();
        c.input("alice", r#"{"Echo":"first"}"#)
            .input("alice", r#"{"Echo":"second"}"#)
            .input("bob", r#"{"Echo":"b"}"#);
        let r = c.round().unwrap();
        assert_no_secret(&r);
        let n = r.node(0);
        let err = stderr(n);
        assert!(
            err.starts_with(&format!("hotpocket: user {a} input #0: ")) && err.contains(fragment),
            "{err}"
        );
        assert_eq!(n.output_strings("alice"), ["second", "end"]);
        assert_eq!(n.output_strings("bob"), ["b", "end"]);
        assert_eq!(n.exit, Exit::Code(0));
    }
}

#[test]
fn non_utf8_input_to_a_str_handler() {
    let a = alice();
    let mut c = Cluster::builder(BIN).user("alice").build().unwrap();
    for (input, offset) in [(&b"\xff\xfe"[..], 0), (b"ok\xc3(", 2)] {
        let r = c.read("alice", input).unwrap();
        assert_no_secret(&r);
        let n = r.node(0);
        assert_eq!(
            stderr(n),
            format!(
                "hotpocket: user {a} input #0: input is not valid UTF-8: invalid byte at offset {offset}\n"
            )
        );
        // A read request always gets a reply: here the refusal, before the
        // round end's own output.
        assert_eq!(
            n.output_strings("alice"),
            [
                format!("error: input is not valid UTF-8: invalid byte at offset {offset}"),
                "end".to_owned()
            ]
        );
        assert_eq!(n.exit, Exit::Code(0));
    }
    let r = c.read("alice", "fine").unwrap();
    r.assert_outputs("alice", &["read 4 bytes: fine..fine", "end"]);
}

#[test]
fn malformed_json_and_json_of_the_wrong_shape() {
    let a = alice();
    let (_, r) = round_with(&[
        ("alice", r#"{"Echo":"a"}"#),
        ("alice", r#"{"Echo":"#),
        ("alice", "not json"),
        ("alice", r#"{"Echo":5}"#),
        ("alice", r#"{"Launch":1}"#),
        ("alice", ""),
        ("alice", r#"{"Echo":"z"}"#),
        ("bob", r#"{"Echo":"b"}"#),
    ]);
    let n = r.node(0);
    assert_eq!(n.output_strings("alice"), ["a", "z", "end"]);
    assert_eq!(n.output_strings("bob"), ["b", "end"]);
    let err = stderr(n);
    let lines: Vec<&str> = err.lines().collect();
    let p = format!("hotpocket: user {a} input #");
    assert_eq!(
        lines,
        [
            format!(
                "{p}1: input is not a valid JSON command: EOF while parsing a value at line 1 column 8"
            ),
            format!("{p}2: input is not a valid JSON command: expected value at line 1 column 1"),
            format!(
                "{p}3: input is not a valid JSON command: invalid type: integer `5`, expected a string at line 1 column 9"
            ),
            format!(
                "{p}4: input is not a valid JSON command: unknown variant `Launch`, expected one of `Echo`, `Fail`, `Panic`, `PanicAny`, `Npl`, `Peers`, `Config`, `Flood`, `Fds`, `Save`, `Secrets` at line 1 column 9"
            ),
            format!(
                "{p}5: input is not a valid JSON command: EOF while parsing a value at line 1 column 0"
            ),
        ]
    );
    assert_eq!(n.exit, Exit::Code(0));
}

#[test]
fn handler_err_and_panics_lose_nothing_else() {
    let a = alice();
    let (c, r) = round_with(&[
        ("alice", r#"{"Fail":"insufficient funds"}"#),
        ("alice", r#"{"Panic":"boom"}"#),
        ("alice", r#""PanicAny""#),
        ("alice", r#"{"Save":[7,3]}"#),
        ("bob", r#"{"Panic":"bob's bad day"}"#),
        ("bob", r#"{"Echo":"b"}"#),
    ]);
    let n = r.node(0);
    let err = stderr(n);
    let p = format!("hotpocket: user {a} input #");
    assert!(
        err.contains(&format!(
            "{p}0: handler returned an error: insufficient funds\n"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{p}1: handler panicked: boom at tests/contracts/catalogue.rs:"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{p}2: handler panicked: a panic with a non-string payload"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "hotpocket: user {} input #0: handler panicked: bob's bad day",
            bob()
        )),
        "{err}"
    );
    assert!(
        !err.contains("thread 'main' panicked"),
        "the default hook stays quiet: {err}"
    );
    assert_eq!(err.lines().count(), 4, "{err}");
    assert_eq!(n.output_strings("alice"), ["saving 7", "end"]);
    assert_eq!(n.output_strings("bob"), ["b", "end"]);
    assert!(sent_contract_end(n));
    assert_eq!(n.exit, Exit::Code(0));
    let state = std::fs::read_to_string(c.state_dir(0).join("state.json")).unwrap();
    assert_eq!(state, r#"{"version":7,"pad":"hhh"}"#);
}

#[test]
fn a_panic_in_on_round_start_loses_nothing_else() {
    let mut c = Cluster::builder(BIN)
        .user("alice")
        .env("CATALOGUE_START", "panic")
        .build()
        .unwrap();
    c.input("alice", r#"{"Echo":"a"}"#);
    let r = c.round().unwrap();
    assert_no_secret(&r);
    let n = r.node(0);
    assert!(
        stderr(n).starts_with(
            "hotpocket: on_round_start: handler panicked: on_round_start was told to panic at tests/contracts/catalogue.rs:"
        ),
        "{}",
        stderr(n)
    );
    assert_eq!(n.output_strings("alice"), ["a", "end"]);
    assert!(sent_contract_end(n));
    assert_eq!(n.exit, Exit::Code(0));
}

#[test]
fn secrets_stay_out_of_debug_output_and_panic_messages() {
    let (_, r) = round_with(&[("alice", r#""Secrets""#)]);
    let n = r.node(0);
    let out = n.output_strings("alice");
    assert!(out[0].contains("PrivateKey(<redacted>)"), "{out:?}");
    assert!(
        stderr(n).contains("handler panicked: Round {"),
        "{}",
        stderr(n)
    );
    assert!(stderr(n).contains("PrivateKey(<redacted>)"));
    // assert_no_secret (in round_with) checked outputs and stderr.
}

// ---------------------------------------------------------------------------
// Channels
// ---------------------------------------------------------------------------

#[test]
fn the_engine_closes_a_users_output_socket_mid_round() {
    let a = alice();
    let mut c = Cluster::builder(BIN)
        .user("alice")
        .user("bob")
        .configure(|c| c.round_limits.user_output_bytes = 20_000)
        .build()
        .unwrap();
    c.input("alice", r#"{"Flood":1000}"#)
        .input("alice", r#"{"Echo":"after"}"#)
        .input("bob", r#"{"Echo":"b"}"#);
    let r = c.round().unwrap();
    assert_no_secret(&r);
    r.assert_hazard(HazardKind::UserOutputLimit);
    let n = r.node(0);
    let err = stderr(n);
    // The contract keeps state, so its outputs are held until the save and
    // the closed socket shows when they are released, in one report.
    assert_eq!(
        err,
        format!(
            "hotpocket: output to user {a}: the engine closed the socket (user_output_bytes limit reached?)\n"
        )
    );
    let got = n.outputs_to("alice").len();
    assert!(
        (19..1000).contains(&got),
        "{got} of alice's outputs arrived"
    );
    assert_eq!(n.output_strings("bob"), ["b", "end"]);
    assert!(sent_contract_end(n));
    assert_eq!(n.exit, Exit::Code(0));
}

#[test]
fn npl_and_control_messages_over_128_kib_and_empty_npl_messages() {
    let (_, r) = round_with(&[
        ("alice", r#"{"Npl":131073}"#),
        ("alice", r#"{"Npl":131072}"#),
        ("alice", r#"{"Npl":0}"#),
        ("alice", r#"{"Peers":10000}"#),
        ("alice", r#"{"Peers":2}"#),
    ]);
    let a = alice();
    let n = r.node(0);
    let err = stderr(n);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 3, "{err}");
    assert_eq!(
        lines[0],
        format!(
            "hotpocket: user {a} input #0: handler returned an error: NPL: message of 131073 bytes exceeds the engine's 131072-byte packet limit"
        )
    );
    assert_eq!(
        lines[1],
        format!(
            "hotpocket: user {a} input #2: handler returned an error: NPL: empty messages are not delivered by the engine; refused"
        )
    );
    assert!(
        lines[2].starts_with(&format!(
            "hotpocket: user {a} input #3: handler returned an error: control channel: message of "
        )) && lines[2].ends_with("bytes exceeds the engine's 131072-byte packet limit"),
        "{}",
        lines[2]
    );
    assert_eq!(
        n.output_strings("alice"),
        ["npl sent 131072", "peers sent 2", "end"]
    );
    assert_eq!(n.npl_sent.len(), 1);
    assert_eq!(n.npl_sent[0].len(), 131_072);
    // Nothing the engine would truncate or drop ever left the contract.
    assert!(!r.has_hazard(HazardKind::OversizedNplPacket));
    assert!(!r.has_hazard(HazardKind::OversizedControlPacket));
    assert!(!r.has_hazard(HazardKind::EmptyNplPacket));
    assert_eq!(n.exit, Exit::Code(0));
}

/// The engine closing NPL or control before the contract is done (it does
/// so when it stops the round, or after `npl_output_bytes`) cannot be set
/// up in the simulator, whose host keeps both open; here the channels are
/// made by hand and closed before the contract starts.
fn by_hand(inputs: &[&str], close_control: bool, close_npl: bool) -> support::HandRun {
    let dir = std::env::temp_dir().join(format!(
        "hotpocket-by-hand-{}-{close_control}-{close_npl}",
        std::process::id()
    ));
    let state = dir.join("state");
    std::fs::create_dir_all(&state).unwrap();
    let run = support::HandRound::spawn(&state, inputs, close_control, close_npl).finish();
    let _ = std::fs::remove_dir_all(&dir);
    run
}

#[test]
fn the_engine_closes_npl_or_control_early() {
    let a = alice();
    let inputs = [r#"{"Npl":5}"#, r#"{"Peers":1}"#, r#"{"Echo":"still here"}"#];
    // Both open: the baseline.
    let run = by_hand(&inputs, false, false);
    assert_eq!(run.stderr, "");
    assert_eq!(
        run.outputs,
        ["npl sent 5", "peers sent 1", "still here", "end"]
    );
    assert_eq!(run.code, Some(0));

    let run = by_hand(&inputs, false, true);
    assert_eq!(
        run.stderr,
        format!(
            "hotpocket: user {a} input #0: handler returned an error: NPL: the engine closed the channel\n"
        )
    );
    assert_eq!(run.outputs, ["peers sent 1", "still here", "end"]);
    assert_eq!(run.code, Some(0));

    // The farewell `contract_end` on a closed control channel is no error.
    let run = by_hand(&inputs, true, false);
    assert_eq!(
        run.stderr,
        format!(
            "hotpocket: user {a} input #1: handler returned an error: control channel: the engine closed the channel\n"
        )
    );
    assert_eq!(run.outputs, ["npl sent 5", "still here", "end"]);
    assert_eq!(run.code, Some(0));
}

#[test]
fn a_broken_stderr_costs_only_the_reports() {
    // The engine's log pipeline (`tee`) gone: every report fails to be
    // written, and the round goes on regardless.
    let dir = std::env::temp_dir().join(format!("hotpocket-stderr-{}", std::process::id()));
    let state = dir.join("state");
    std::fs::create_dir_all(&state).unwrap();
    let run = support::HandRound::spawn_stderr_broken(
        &state,
        &[
            r#"{"Fail":"reported into the void"}"#,
            r#"{"Panic":"also"}"#,
            r#"{"Save":[9,1]}"#,
        ],
    )
    .finish();
    assert_eq!(run.code, Some(0));
    assert_eq!(run.outputs, ["saving 9", "end"]);
    assert_eq!(
        std::fs::read_to_string(state.join("state.json")).unwrap(),
        r#"{"version":9,"pad":"j"}"#
    );
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------------------
// State and patch.cfg
// ---------------------------------------------------------------------------

#[test]
fn state_file_corrupt_or_of_the_wrong_shape() {
    for (content, fragment) in [
        (
            r#"{"version":"#,
            "corrupt: EOF while parsing a value at line 1 column 11",
        ),
        (
            r#"{"version":"one","pad":""}"#,
            "corrupt: invalid type: string \"one\", expected u64 at line 1 column 16",
        ),
    ] {
        let mut c = Cluster::builder(BIN)
            .user("alice")
            .seed_file("state.json", content)
            .build()
            .unwrap();
        c.input("alice", r#"{"Save":[1,1]}"#);
        let r = c.round().unwrap();
        assert_no_secret(&r);
        let n = r.node(0);
        assert_eq!(
            stderr(n),
            format!(
                "hotpocket: state file `state.json`: {fragment}; no handlers were run and the state file was left as it is\n"
            )
        );
        assert!(n.output_strings("alice").is_empty());
        assert!(sent_contract_end(n));
        assert_eq!(n.exit, Exit::Code(1));
        let dir = c.state_dir(0);
        assert_eq!(
            std::fs::read_to_string(dir.join("state.json")).unwrap(),
            content
        );
    }
}

#[test]
fn state_file_unreadable() {
    let mut c = Cluster::builder(BIN).user("alice").build().unwrap();
    c.round().unwrap().assert_success();
    let file = c.state_dir(0).join("state.json");
    std::fs::remove_file(&file).unwrap();
    std::fs::create_dir(&file).unwrap();
    c.input("alice", r#"{"Echo":"x"}"#);
    let r = c.round().unwrap();
    assert_no_secret(&r);
    let n = r.node(0);
    assert_eq!(
        stderr(n),
        "hotpocket: state file `state.json`: cannot read: Is a directory (os error 21); \
         no handlers were run and the state file was left as it is\n"
    );
    assert!(n.output_strings("alice").is_empty());
    assert_eq!(n.exit, Exit::Code(1));
}

/// Makes a directory unwritable for the contract, and writable again on
/// drop: `chmod 0555`, and for root (whom modes do not stop) the
/// immutable attribute. `None` when neither works here.
struct ReadOnlyDir(std::path::PathBuf, bool);

impl ReadOnlyDir {
    fn writable(dir: &Path) -> bool {
        let probe = dir.join(".probe");
        let ok = std::fs::write(&probe, b"").is_ok();
        let _ = std::fs::remove_file(&probe);
        ok
    }

    fn new(dir: &Path) -> Option<ReadOnlyDir> {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o555)).ok()?;
        let mut guard = ReadOnlyDir(dir.to_owned(), false);
        if Self::writable(dir) {
            guard.1 = set_immutable(dir, true);
            if !guard.1 || Self::writable(dir) {
                return None;
            }
        }
        Some(guard)
    }
}

impl Drop for ReadOnlyDir {
    fn drop(&mut self) {
        use std::os::unix::fs::PermissionsExt;
        if self.1 {
            set_immutable(&self.0, false);
        }
        let _ = std::fs::set_permissions(&self.0, std::fs::Permissions::from_mode(0o755));
    }
}

/// Sets or clears `FS_IMMUTABLE_FL` (needs CAP_LINUX_IMMUTABLE and a
/// filesystem that has the attribute).
fn set_immutable(dir: &Path, on: bool) -> bool {
    use std::os::fd::AsRawFd;
    const FS_IOC_GETFLAGS: nix::libc::c_ulong = 0x8008_6601;
    const FS_IOC_SETFLAGS: nix::libc::c_ulong = 0x4008_6602;
    const FS_IMMUTABLE_FL: nix::libc::c_int = 0x10;
    let Ok(f) = std::fs::File::open(dir) else {
        return false;
    };
    let mut flags: nix::libc::c_int = 0;
    // SAFETY: both ioctls read or write one int through a valid pointer.
    unsafe {
        if nix::libc::ioctl(f.as_raw_fd(), FS_IOC_GETFLAGS as _, &mut flags) != 0 {
            return false;
        }
        flags = if on {
            flags | FS_IMMUTABLE_FL
        } else {
            flags & !FS_IMMUTABLE_FL
        };
        nix::libc::ioctl(f.as_raw_fd(), FS_IOC_SETFLAGS as _, &flags) == 0
    }
}

#[test]
fn state_directory_read_only() {
    let mut c = Cluster::builder(BIN)
        .user("alice")
        .user("bob")
        .build()
        .unwrap();
    c.input("alice", r#"{"Save":[1,2]}"#);
    c.round().unwrap().assert_success();
    let dir = c.state_dir(0);
    let before = std::fs::read_to_string(dir.join("state.json")).unwrap();
    let Some(guard) = ReadOnlyDir::new(&dir) else {
        eprintln!(
            "state_directory_read_only: cannot make a directory read-only here (root on a filesystem \
             without the immutable attribute); case not exercised"
        );
        return;
    };
    c.input("alice", r#"{"Save":[2,2]}"#)
        .input("bob", r#"{"Echo":"b"}"#);
    let r = c.round().unwrap();
    drop(guard);
    assert_no_secret(&r);
    let n = r.node(0);
    let err = stderr(n);
    assert!(
        err.starts_with("hotpocket: state file `state.json`: cannot write: ")
            && err.ends_with(
                "; the previous state was kept and none of this round's outputs were sent\n"
            ),
        "{err}"
    );
    // The handlers ran, but the save failed: no user hears of the round.
    assert!(n.output_strings("alice").is_empty());
    assert!(n.output_strings("bob").is_empty());
    assert!(sent_contract_end(n));
    assert_eq!(n.exit, Exit::Code(1));
    assert_eq!(
        std::fs::read_to_string(dir.join("state.json")).unwrap(),
        before
    );
}

#[test]
fn patch_cfg_missing_or_invalid() {
    let a = alice();
    let mut c = Cluster::builder(BIN).user("alice").build().unwrap();
    c.input("alice", r#""Config""#);
    c.round()
        .unwrap()
        .assert_outputs("alice", &["roundtime 1000", "end"]);
    let patch = c.root().join("node0").join("patch.cfg");
    let good = std::fs::read_to_string(&patch).unwrap();
    let mut doc: Value = serde_json::from_str(&good).unwrap();
    doc["consensus"]["roundtime"] = json!("fast");
    let wrong_type = doc.to_string();
    for (content, fragment) in [
        (
            None,
            "patch.cfg: cannot read ../patch.cfg: No such file or directory (os error 2)",
        ),
        (
            Some("{".to_owned()),
            "patch.cfg: not valid JSON: EOF while parsing an object at line 1 column 1",
        ),
        (Some(wrong_type), "patch.cfg: `consensus.roundtime`: "),
    ] {
        match &content {
            None => std::fs::remove_file(&patch).unwrap(),
            Some(text) => std::fs::write(&patch, text).unwrap(),
        }
        c.input("alice", r#""Config""#)
            .input("alice", r#"{"Echo":"e"}"#);
        let r = c.round().unwrap();
        assert_no_secret(&r);
        let n = r.node(0);
        let err = stderr(n);
        assert!(
            err.starts_with(&format!(
                "hotpocket: user {a} input #0: handler returned an error: {fragment}"
            )),
            "{err}"
        );
        assert_eq!(n.output_strings("alice"), ["e", "end"]);
        assert_eq!(n.exit, Exit::Code(0));
    }
    std::fs::write(&patch, &good).unwrap();
}

// ---------------------------------------------------------------------------
// Descriptors the engine leaks
// ---------------------------------------------------------------------------

/// The fds open in the contract while its handler ran, without the one its
/// own listing of `/proc/self/fd` used.
fn open_fds(n: &NodeReport, user: &str) -> Vec<(i32, String)> {
    let listing = n
        .output_strings(user)
        .into_iter()
        .next()
        .unwrap_or_default();
    let mut fds: Vec<(i32, String)> = listing
        .lines()
        .filter_map(|l| {
            let (fd, target) = l.split_once('=')?;
            Some((fd.parse().ok()?, target.to_owned()))
        })
        .filter(|(_, target)| !target.starts_with("/proc/"))
        .collect();
    fds.sort();
    fds
}

/// The fds the round's arguments name, plus stdio.
fn named_fds(n: &NodeReport) -> Vec<i32> {
    let args: Value = serde_json::from_str(&n.args_json).unwrap();
    let mut fds = vec![0, 1, 2];
    for k in ["control_fd", "npl_fd", "user_in_fd"] {
        fds.extend(args[k].as_i64().map(|f| f as i32));
    }
    for u in args["users"].as_object().unwrap().values() {
        fds.push(u[0].as_i64().unwrap() as i32);
    }
    fds.sort_unstable();
    fds
}

#[test]
fn inherited_descriptors_are_closed_before_contract_code_runs() {
    let leak = std::env::temp_dir().join(format!("hotpocket-leak-{}", std::process::id()));
    let round = |keep: bool| {
        let mut c = Cluster::builder(BIN)
            .user("alice")
            .user("bob")
            .leak_engine_fds()
            .leak_file(&leak);
        if keep {
            c = c.env("HOTPOCKET_KEEP_FDS", "1");
        }
        let mut c = c.build().unwrap();
        c.input("alice", r#""Fds""#);
        let r = c.round().unwrap();
        assert_no_secret(&r);
        r
    };
    let r = round(false);
    let n = r.node(0);
    assert_eq!(n.leaked_fds.len(), 3, "hp.cfg, /dev/null and the leak file");
    let open = open_fds(n, "alice");
    let numbers: Vec<i32> = open.iter().map(|(fd, _)| *fd).collect();
    assert_eq!(numbers, named_fds(n), "{open:?}");
    for (_, target) in &open {
        assert!(
            !target.ends_with("hp.cfg") && !target.contains("hotpocket-leak"),
            "{open:?}"
        );
    }
    assert_eq!(n.exit, Exit::Code(0));

    // Opted out: the leaked descriptors stay open.
    let r = round(true);
    let n = r.node(0);
    let open = open_fds(n, "alice");
    for fd in &n.leaked_fds {
        assert!(open.iter().any(|(o, _)| o == fd), "{fd} kept: {open:?}");
    }
    assert!(open.iter().any(|(_, t)| t.ends_with("hp.cfg")), "{open:?}");
    let _ = std::fs::remove_file(leak);
}
