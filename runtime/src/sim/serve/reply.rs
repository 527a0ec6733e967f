//! The messages a node sends a user, in both protocols, built as hpcore
//! builds them (`usrmsg_json.cpp`, `usrmsg_bson.cpp`).
//!
//! JSON is written field by field in hpcore's order without whitespace.
//! Like hpcore, only output and read-response contents go through an
//! encoder ([`embed`](super::embed)); ids the client chose (`reply_for`) are
//! copied unescaped, as the engine does. Binary values are lowercase hex in
//! JSON and BSON binaries in BSON.

use bson::spec::BinarySubtype;
use bson::{Binary, Bson, Document, doc};

use super::doc::Protocol;
use super::embed::push_output;
use super::hash::{Collapsed, Hash};

/// The `hp_version` a 0.6.4 engine announces (the JS client wants `0.6.`).
pub(crate) const HP_VERSION: &str = "0.6.4";

/// A ledger's identity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LedgerId {
    /// Sequence number (0 is genesis).
    pub(crate) seq_no: u64,
    /// Ledger hash.
    pub(crate) hash: Hash,
}

/// The fields of a ledger record users see (`populate_ledger_fields`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LedgerRecord {
    pub(crate) seq_no: u64,
    pub(crate) timestamp: u64,
    pub(crate) hash: Hash,
    pub(crate) prev_hash: Hash,
    pub(crate) state_hash: Hash,
    pub(crate) config_hash: Hash,
    pub(crate) user_hash: Hash,
    pub(crate) input_hash: Hash,
    pub(crate) output_hash: Hash,
}

fn bin(bytes: &[u8]) -> Bson {
    Bson::Binary(Binary {
        subtype: BinarySubtype::Generic,
        bytes: bytes.to_vec(),
    })
}

fn int(n: u64) -> Bson {
    // jsoncons writes an unsigned value as int32 or int64 by magnitude; the
    // JS client turns either into a number.
    match (i32::try_from(n), i64::try_from(n)) {
        (Ok(small), _) => Bson::Int32(small),
        (_, Ok(big)) => Bson::Int64(big),
        _ => Bson::Int64(i64::MAX),
    }
}

fn bson_bytes(d: &Document) -> Vec<u8> {
    // Serialising an in-memory document of these value types cannot fail.
    d.to_vec().unwrap_or_default()
}

fn hex_list(keys: &[Vec<u8>]) -> String {
    let items: Vec<String> = keys
        .iter()
        .map(|k| format!("\"{}\"", hex::encode(k)))
        .collect();
    format!("[{}]", items.join(","))
}

fn bin_list(keys: &[Vec<u8>]) -> Bson {
    Bson::Array(keys.iter().map(|k| bin(k)).collect())
}

/// `user_challenge` (always JSON).
pub(crate) fn user_challenge(contract_id: &str, version: &str, challenge: &str) -> Vec<u8> {
    format!(
        r#"{{"hp_version":"{HP_VERSION}","type":"user_challenge","contract_id":"{contract_id}","contract_version":"{version}","challenge":"{challenge}"}}"#
    )
    .into_bytes()
}

/// `server_challenge_response` (always JSON); `unl` sorted binary keys.
pub(crate) fn server_challenge_response(sig: &[u8], pubkey: &[u8], unl: &[Vec<u8>]) -> Vec<u8> {
    format!(
        r#"{{"type":"server_challenge_response","sig":"{}","pubkey":"{}","unl":{}}}"#,
        hex::encode(sig),
        hex::encode(pubkey),
        hex_list(unl)
    )
    .into_bytes()
}

/// What `stat_response` reports.
#[derive(Clone, Debug)]
pub(crate) struct Status<'a> {
    pub(crate) lcl: LedgerId,
    pub(crate) round_time: u64,
    pub(crate) unl: &'a [Vec<u8>],
    pub(crate) peers: &'a [String],
    /// The node's vote status (hpcore's `VOTE_STATUSES` name).
    pub(crate) vote_status: &'static str,
}

/// `stat_response`. The simulated node always executes contracts and
/// serves read requests.
pub(crate) fn stat_response(p: Protocol, s: &Status<'_>) -> Vec<u8> {
    match p {
        Protocol::Json => {
            let peers: Vec<String> = s.peers.iter().map(|x| format!("\"{x}\"")).collect();
            format!(
                r#"{{"type":"stat_response","hp_version":"{HP_VERSION}","ledger_seq_no":{},"ledger_hash":"{}","vote_status":"{}","round_time":{},"contract_execution_enabled":true,"read_requests_enabled":true,"is_full_history_node":false,"weakly_connected":false,"current_unl":{},"peers":[{}]}}"#,
                s.lcl.seq_no,
                hex::encode(s.lcl.hash),
                s.vote_status,
                s.round_time,
                hex_list(s.unl),
                peers.join(",")
            )
            .into_bytes()
        }
        Protocol::Bson => bson_bytes(&doc! {
            "type": "stat_response",
            "hp_version": HP_VERSION,
            "ledger_seq_no": int(s.lcl.seq_no),
            "ledger_hash": bin(&s.lcl.hash),
            "vote_status": s.vote_status,
            "round_time": int(s.round_time),
            "contract_execution_enabled": true,
            "read_requests_enabled": true,
            "is_full_history_node": false,
            "weakly_connected": false,
            "current_unl": bin_list(s.unl),
            "peers": s.peers.to_vec(),
        }),
    }
}

/// `lcl_response`.
pub(crate) fn lcl_response(p: Protocol, lcl: LedgerId) -> Vec<u8> {
    match p {
        Protocol::Json => format!(
            r#"{{"type":"lcl_response","ledger_seq_no":{},"ledger_hash":"{}"}}"#,
            lcl.seq_no,
            hex::encode(lcl.hash)
        )
        .into_bytes(),
        Protocol::Bson => bson_bytes(&doc! {
            "type": "lcl_response",
            "ledger_seq_no": int(lcl.seq_no),
            "ledger_hash": bin(&lcl.hash),
        }),
    }
}

/// `contract_input_status`: `accepted` with the ledger, or `rejected` with
/// a reason. `hash` may be empty (hpcore's reply to unparsable messages).
/// The ledger fields appear only for seq no > 0, as in hpcore.
pub(crate) fn input_status(
    p: Protocol,
    reason: Option<&str>,
    hash: &[u8],
    ledger: Option<LedgerId>,
) -> Vec<u8> {
    let status = if reason.is_some() {
        "rejected"
    } else {
        "accepted"
    };
    let ledger = ledger.filter(|l| l.seq_no > 0);
    match p {
        Protocol::Json => {
            let mut m = format!(r#"{{"type":"contract_input_status","status":"{status}","#);
            if let Some(r) = reason {
                m += &format!(r#""reason":"{r}","#);
            }
            m += &format!(r#""input_hash":"{}""#, hex::encode(hash));
            if let Some(l) = ledger {
                m += &format!(
                    r#","ledger_seq_no":{},"ledger_hash":"{}""#,
                    l.seq_no,
                    hex::encode(l.hash)
                );
            }
            m.push('}');
            m.into_bytes()
        }
        Protocol::Bson => {
            let mut d = doc! {"type": "contract_input_status", "status": status};
            if let Some(r) = reason {
                d.insert("reason", r);
            }
            d.insert("input_hash", bin(hash));
            if let Some(l) = ledger {
                d.insert("ledger_seq_no", int(l.seq_no));
                d.insert("ledger_hash", bin(&l.hash));
            }
            bson_bytes(&d)
        }
    }
}

/// `contract_read_response`: one per output of the read request.
pub(crate) fn read_response(p: Protocol, reply_for: &str, content: &[u8]) -> Vec<u8> {
    match p {
        Protocol::Json => {
            let mut m = format!(
                r#"{{"type":"contract_read_response","reply_for":"{reply_for}","content":"#
            )
            .into_bytes();
            push_output(&mut m, content);
            m.push(b'}');
            m
        }
        Protocol::Bson => bson_bytes(&doc! {
            "type": "contract_read_response",
            "reply_for": reply_for,
            "content": bin(content),
        }),
    }
}

/// One user's `contract_output` message.
#[derive(Clone, Debug)]
pub(crate) struct Output<'a> {
    /// The ledger the outputs are sent with (the one after their inputs').
    pub(crate) ledger: LedgerId,
    pub(crate) outputs: &'a [Vec<u8>],
    pub(crate) output_hash: Hash,
    pub(crate) tree: &'a Collapsed,
    /// `(node public key with prefix, signature of the root)`.
    pub(crate) unl_sig: &'a [(Vec<u8>, [u8; 64])],
}

fn tree_json(t: &Collapsed, m: &mut String) {
    match t {
        Collapsed::Own => m.push_str("null"),
        Collapsed::Hash(h) => *m += &format!("\"{}\"", hex::encode(h)),
        Collapsed::Branch(kids) => {
            m.push('[');
            for (i, k) in kids.iter().enumerate() {
                if i > 0 {
                    m.push(',');
                }
                tree_json(k, m);
            }
            m.push(']');
        }
    }
}

fn tree_bson(t: &Collapsed) -> Bson {
    match t {
        Collapsed::Own => Bson::Null,
        Collapsed::Hash(h) => bin(h),
        Collapsed::Branch(kids) => Bson::Array(kids.iter().map(tree_bson).collect()),
    }
}

/// `contract_output`.
pub(crate) fn contract_output(p: Protocol, o: &Output<'_>) -> Vec<u8> {
    match p {
        Protocol::Json => {
            let mut m = format!(
                r#"{{"type":"contract_output","ledger_seq_no":{},"ledger_hash":"{}","outputs":["#,
                o.ledger.seq_no,
                hex::encode(o.ledger.hash)
            )
            .into_bytes();
            for (i, out) in o.outputs.iter().enumerate() {
                if i > 0 {
                    m.push(b',');
                }
                push_output(&mut m, out);
            }
            let mut tail = format!(
                r#"],"output_hash":"{}","hash_tree":"#,
                hex::encode(o.output_hash)
            );
            tree_json(o.tree, &mut tail);
            let sigs: Vec<String> = o
                .unl_sig
                .iter()
                .map(|(k, s)| format!(r#"["{}","{}"]"#, hex::encode(k), hex::encode(s)))
                .collect();
            tail += &format!(r#","unl_sig":[{}]}}"#, sigs.join(","));
            m.extend_from_slice(tail.as_bytes());
            m
        }
        Protocol::Bson => {
            let sigs: Vec<Bson> = o
                .unl_sig
                .iter()
                .map(|(k, s)| Bson::Array(vec![bin(k), bin(s)]))
                .collect();
            bson_bytes(&doc! {
                "type": "contract_output",
                "ledger_seq_no": int(o.ledger.seq_no),
                "ledger_hash": bin(&o.ledger.hash),
                "outputs": Bson::Array(o.outputs.iter().map(|x| bin(x)).collect()),
                "output_hash": bin(&o.output_hash),
                "hash_tree": tree_bson(o.tree),
                "unl_sig": sigs,
            })
        }
    }
}

fn ledger_json(l: &LedgerRecord) -> String {
    format!(
        r#""seq_no":{},"timestamp":{},"hash":"{}","prev_hash":"{}","state_hash":"{}","config_hash":"{}","user_hash":"{}","input_hash":"{}","output_hash":"{}""#,
        l.seq_no,
        l.timestamp,
        hex::encode(l.hash),
        hex::encode(l.prev_hash),
        hex::encode(l.state_hash),
        hex::encode(l.config_hash),
        hex::encode(l.user_hash),
        hex::encode(l.input_hash),
        hex::encode(l.output_hash)
    )
}

fn ledger_bson(l: &LedgerRecord) -> Document {
    doc! {
        "seq_no": int(l.seq_no),
        "timestamp": int(l.timestamp),
        "hash": bin(&l.hash),
        "prev_hash": bin(&l.prev_hash),
        "state_hash": bin(&l.state_hash),
        "config_hash": bin(&l.config_hash),
        "user_hash": bin(&l.user_hash),
        "input_hash": bin(&l.input_hash),
        "output_hash": bin(&l.output_hash),
    }
}

/// `ledger_event` / `ledger_created`.
pub(crate) fn ledger_created(p: Protocol, l: &LedgerRecord) -> Vec<u8> {
    match p {
        Protocol::Json => format!(
            r#"{{"type":"ledger_event","event":"ledger_created","ledger":{{{}}}}}"#,
            ledger_json(l)
        )
        .into_bytes(),
        Protocol::Bson => bson_bytes(&doc! {
            "type": "ledger_event",
            "event": "ledger_created",
            "ledger": ledger_bson(l),
        }),
    }
}

/// `ledger_event` / `vote_status` (`create_vote_status_notification`).
pub(crate) fn vote_status(p: Protocol, status: &str) -> Vec<u8> {
    match p {
        Protocol::Json => {
            format!(r#"{{"type":"ledger_event","event":"vote_status","vote_status":"{status}"}}"#)
                .into_bytes()
        }
        Protocol::Bson => bson_bytes(&doc! {
            "type": "ledger_event",
            "event": "vote_status",
            "vote_status": status,
        }),
    }
}

/// `unl_change` (`create_unl_notification`): the new UNL, sorted binary
/// keys, as hex strings in JSON and binary in BSON.
pub(crate) fn unl_change(p: Protocol, unl: &[Vec<u8>]) -> Vec<u8> {
    match p {
        Protocol::Json => {
            format!(r#"{{"type":"unl_change","unl":{}}}"#, hex_list(unl)).into_bytes()
        }
        Protocol::Bson => bson_bytes(&doc! {
            "type": "unl_change",
            "unl": bin_list(unl),
        }),
    }
}

/// A ledger query's answer: `Err` is hpcore's `exec_failure`. Raw inputs
/// and outputs, when asked for, are the empty lists a node with hpcore's
/// default `max_raw_shards = 0` returns.
pub(crate) fn ledger_query_result(
    p: Protocol,
    reply_for: &str,
    result: Result<Option<&LedgerRecord>, ()>,
    inputs: bool,
    outputs: bool,
) -> Vec<u8> {
    let found = result.ok().flatten();
    match p {
        Protocol::Json => {
            let error = if result.is_err() {
                r#""exec_failure""#
            } else {
                "null"
            };
            let records: Vec<String> = found
                .iter()
                .map(|l| {
                    let mut r = format!("{{{}", ledger_json(l));
                    if inputs {
                        r += r#","inputs":[]"#;
                    }
                    if outputs {
                        r += r#","outputs":[]"#;
                    }
                    r + "}"
                })
                .collect();
            format!(
                r#"{{"type":"ledger_query_result","reply_for":"{reply_for}","error":{error},"results":[{}]}}"#,
                records.join(",")
            )
            .into_bytes()
        }
        Protocol::Bson => {
            let records: Vec<Bson> = found
                .iter()
                .map(|l| {
                    let mut d = ledger_bson(l);
                    if inputs {
                        d.insert("inputs", Bson::Array(vec![]));
                    }
                    if outputs {
                        d.insert("outputs", Bson::Array(vec![]));
                    }
                    Bson::Document(d)
                })
                .collect();
            let error = if result.is_err() {
                Bson::String("exec_failure".into())
            } else {
                Bson::Null
            };
            bson_bytes(&doc! {
                "type": "ledger_query_result",
                "reply_for": reply_for,
                "error": error,
                "results": records,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn parse(b: &[u8]) -> Value {
        serde_json::from_slice(b).unwrap()
    }

    const L: LedgerId = LedgerId {
        seq_no: 4,
        hash: [7; 32],
    };

    #[test]
    fn input_status_fields_as_hpcore_writes_them() {
        let ok = input_status(Protocol::Json, None, &[1; 32], Some(L));
        assert_eq!(
            parse(&ok),
            json!({"type":"contract_input_status","status":"accepted","input_hash":hex::encode([1;32]),"ledger_seq_no":4,"ledger_hash":hex::encode([7;32])})
        );
        let bad = input_status(Protocol::Json, Some("bad_msg_format"), &[], None);
        assert_eq!(
            bad,
            br#"{"type":"contract_input_status","status":"rejected","reason":"bad_msg_format","input_hash":""}"#
        );
        let b = Document::from_reader(
            &mut input_status(Protocol::Bson, None, &[1; 32], Some(L)).as_slice(),
        )
        .unwrap();
        assert_eq!(b.get_binary_generic("input_hash").unwrap(), &vec![1; 32]);
        assert_eq!(b.get_i32("ledger_seq_no").unwrap(), 4);
    }

    #[test]
    fn contract_output_embeds_like_the_engine_and_serialises_the_tree() {
        let tree = Collapsed::Branch(vec![Collapsed::Own, Collapsed::Hash([2; 32])]);
        let outs = vec![b"hi".to_vec(), b"2".to_vec()];
        let sigs = vec![(vec![0xed; 33], [5; 64])];
        let o = Output {
            ledger: L,
            outputs: &outs,
            output_hash: [3; 32],
            tree: &tree,
            unl_sig: &sigs,
        };
        let v = parse(&contract_output(Protocol::Json, &o));
        assert_eq!(v["outputs"], json!(["hi", 2]));
        assert_eq!(v["hash_tree"], json!([null, hex::encode([2; 32])]));
        assert_eq!(v["unl_sig"][0][1], json!(hex::encode([5; 64])));
        let b = Document::from_reader(&mut contract_output(Protocol::Bson, &o).as_slice()).unwrap();
        let t = b.get_array("hash_tree").unwrap();
        assert_eq!(t[0], Bson::Null);
        assert_eq!(b.get_array("outputs").unwrap()[1], bin(b"2"));
        // An output that only looks like JSON breaks the JSON message.
        let broken = vec![b"{abc}".to_vec()];
        let o2 = Output {
            outputs: &broken,
            ..o
        };
        assert!(serde_json::from_slice::<Value>(&contract_output(Protocol::Json, &o2)).is_err());
    }

    #[test]
    fn handshake_stat_and_ledger_messages_parse() {
        let c = parse(&user_challenge("id-1", "1.0", "ab"));
        assert_eq!(
            (c["hp_version"].as_str(), c["challenge"].as_str()),
            (Some("0.6.4"), Some("ab"))
        );
        let unl = vec![vec![0xed; 33]];
        let s = parse(&server_challenge_response(&[1; 64], &[0xed; 33], &unl));
        assert_eq!(s["unl"], json!([hex::encode([0xed; 33])]));
        let st = parse(&stat_response(
            Protocol::Json,
            &Status {
                lcl: L,
                round_time: 1000,
                unl: &unl,
                peers: &[],
                vote_status: "desync",
            },
        ));
        assert_eq!(
            (
                st["ledger_seq_no"].as_u64(),
                st["current_unl"].as_array().map(Vec::len),
                st["vote_status"].as_str()
            ),
            (Some(4), Some(1), Some("desync"))
        );
        assert_eq!(
            parse(&vote_status(Protocol::Json, "synced")),
            json!({"type": "ledger_event", "event": "vote_status", "vote_status": "synced"})
        );
        let rec = LedgerRecord {
            seq_no: 4,
            timestamp: 9,
            hash: [1; 32],
            prev_hash: [2; 32],
            state_hash: [3; 32],
            config_hash: [4; 32],
            user_hash: [5; 32],
            input_hash: [6; 32],
            output_hash: [7; 32],
        };
        assert_eq!(
            parse(&ledger_created(Protocol::Json, &rec))["ledger"]["seq_no"],
            4
        );
        let q = parse(&ledger_query_result(
            Protocol::Json,
            "q1",
            Ok(Some(&rec)),
            true,
            false,
        ));
        assert_eq!(
            (q["error"].is_null(), q["results"][0]["inputs"].clone()),
            (true, json!([]))
        );
        let f = parse(&ledger_query_result(
            Protocol::Json,
            "q1",
            Err(()),
            true,
            false,
        ));
        assert_eq!(
            (f["error"].as_str(), f["results"].clone()),
            (Some("exec_failure"), json!([]))
        );
        let fb = Document::from_reader(
            &mut ledger_query_result(Protocol::Bson, "q1", Err(()), true, false).as_slice(),
        )
        .unwrap();
        assert_eq!(fb.get_str("error").unwrap(), "exec_failure");
    }
}
