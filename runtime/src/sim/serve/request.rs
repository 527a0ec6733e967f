//! What a connected (verified) user's message asks for, with hpcore's
//! acceptance rules (`usr.cpp handle_authed_user_message` and the
//! `extract_*` functions of `usrmsg_json.cpp` / `usrmsg_bson.cpp`).

use super::doc::{Doc, Protocol};
use super::hash::{Hash, hash};

/// The engine's rejection reasons (`usrmsg_common.hpp`), exactly.
pub(crate) mod reason {
    /// Unparsable message, missing `type`, or a malformed field.
    pub(crate) const BAD_MSG_FORMAT: &str = "bad_msg_format";
    /// A `type` the engine does not know.
    pub(crate) const INVALID_MSG_TYPE: &str = "invalid_msg_type";
    /// The input's signature does not verify (found at consensus).
    pub(crate) const BAD_SIG: &str = "bad_sig";
    /// `max_ledger_seq_no` is not past the current ledger.
    pub(crate) const MAX_LEDGER_EXPIRED: &str = "max_ledger_expired";
    /// `max_ledger_seq_no` is too far ahead.
    pub(crate) const MAX_LEDGER_OFFSET_EXCEEDED: &str = "max_ledger_offset_exceeded";
    /// The nonce is not above the user's last accepted one.
    pub(crate) const NONCE_EXPIRED: &str = "nonce_expired";
    /// The user's last accepted input, sent again.
    pub(crate) const ALREADY_SUBMITTED: &str = "already_submitted";
}

/// A notification channel a user can subscribe to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Channel {
    /// `ledger_event`: `ledger_created` (and `vote_status`) notifications.
    LedgerEvent,
    /// `unl_change`.
    UnlChange,
}

/// A signed input as it arrived: the container's exact bytes and the
/// signature, before the container is read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SignedInput {
    /// The container bytes the signature covers.
    pub(crate) container: Vec<u8>,
    /// The signature bytes (empty when the hex did not decode).
    pub(crate) sig: Vec<u8>,
    /// The protocol the container is in.
    pub(crate) protocol: Protocol,
}

impl SignedInput {
    /// The input hash that ties status replies to the input: BLAKE3 of the
    /// signature bytes.
    pub(crate) fn hash(&self) -> Hash {
        hash(&self.sig)
    }
}

/// The fields of an input container.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Container {
    /// The input's bytes.
    pub(crate) input: Vec<u8>,
    /// Orders a user's inputs; never 0.
    pub(crate) nonce: u64,
    /// The last ledger the input may be included in... exclusive: the input
    /// expires once a ledger with this seq no closes.
    pub(crate) max_ledger_seq_no: u64,
}

/// A parsed user message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Request {
    /// `stat`.
    Stat,
    /// `lcl`.
    Lcl,
    /// `contract_input` with its fields present.
    Input(SignedInput),
    /// `contract_read_request`.
    Read { id: String, content: Vec<u8> },
    /// `subscription`.
    Subscribe { channel: Channel, enabled: bool },
    /// `ledger_query` by seq no.
    LedgerQuery {
        id: String,
        seq_no: u64,
        inputs: bool,
        outputs: bool,
    },
    /// Answered with `contract_input_status rejected <reason>`; `hash` is
    /// `None` for hpcore's empty input hash, else the hash to report.
    Reject {
        reason: &'static str,
        hash: Option<Hash>,
    },
    /// Not answered at all (a bad subscription or ledger query); counts as
    /// a bad message.
    Ignore(&'static str),
}

/// Reads one message of a verified session.
pub(crate) fn parse(protocol: Protocol, bytes: &[u8]) -> Request {
    let reject = |reason| Request::Reject { reason, hash: None };
    let Some(doc) = Doc::parse(protocol, bytes) else {
        return reject(reason::BAD_MSG_FORMAT);
    };
    match doc.str("type") {
        None => reject(reason::BAD_MSG_FORMAT),
        Some("stat") => Request::Stat,
        Some("lcl") => Request::Lcl,
        Some("contract_input") => signed_input(&doc, protocol),
        Some("contract_read_request") => match (doc.str("id"), doc.blob("content")) {
            (Some(id), Some(content)) => Request::Read {
                id: id.to_owned(),
                content,
            },
            _ => reject(reason::BAD_MSG_FORMAT),
        },
        Some("subscription") => subscription(&doc),
        Some("ledger_query") => ledger_query(&doc),
        Some(_) => reject(reason::INVALID_MSG_TYPE),
    }
}

fn signed_input(doc: &Doc, protocol: Protocol) -> Request {
    match (doc.blob("input_container"), doc.hex_blob("sig")) {
        (Some(container), Some(sig)) => Request::Input(SignedInput {
            container,
            sig,
            protocol,
        }),
        // hpcore replies with the hash of the signature it could not
        // extract: BLAKE3 of nothing.
        _ => Request::Reject {
            reason: reason::BAD_MSG_FORMAT,
            hash: Some(hash(b"")),
        },
    }
}

fn subscription(doc: &Doc) -> Request {
    let channel = match doc.str("channel") {
        Some("ledger_event") => Channel::LedgerEvent,
        Some("unl_change") => Channel::UnlChange,
        // health_event needs debug-only settings a real node never has.
        _ => return Request::Ignore("subscription: unknown or unavailable channel"),
    };
    match doc.bool("enabled") {
        Some(enabled) => Request::Subscribe { channel, enabled },
        None => Request::Ignore("subscription: `enabled` is not a boolean"),
    }
}

fn ledger_query(doc: &Doc) -> Request {
    let id = doc.str("id").unwrap_or_default();
    let (Some(params), Some(include)) = (doc.object("params"), doc.strings("include")) else {
        return Request::Ignore("ledger_query: `params` or `include` missing or mistyped");
    };
    if id.is_empty() || doc.str("filter_by") != Some("seq_no") {
        return Request::Ignore("ledger_query: empty `id` or `filter_by` is not \"seq_no\"");
    }
    match params.uint("seq_no") {
        Some(seq_no) => Request::LedgerQuery {
            id: id.to_owned(),
            seq_no,
            inputs: include.iter().any(|s| s == "inputs"),
            outputs: include.iter().any(|s| s == "outputs"),
        },
        None => Request::Ignore("ledger_query: `params.seq_no` is not an unsigned integer"),
    }
}

/// Reads an input container (hpcore `extract_input_container`); `None` is
/// `bad_msg_format`.
pub(crate) fn container(input: &SignedInput) -> Option<Container> {
    let doc = Doc::parse(input.protocol, &input.container)?;
    let nonce = doc.uint("nonce").filter(|n| *n != 0)?;
    Some(Container {
        input: doc.blob("input")?,
        nonce,
        max_ledger_seq_no: doc.uint("max_ledger_seq_no")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json(s: &str) -> Request {
        parse(Protocol::Json, s.as_bytes())
    }

    fn rejected(reason: &'static str) -> Request {
        Request::Reject { reason, hash: None }
    }

    #[test]
    fn message_types_and_the_engines_rejections() {
        assert_eq!(json(r#"{"type":"stat"}"#), Request::Stat);
        assert_eq!(json(r#"{"type":"lcl"}"#), Request::Lcl);
        assert_eq!(json("not json"), rejected(reason::BAD_MSG_FORMAT));
        assert_eq!(json(r#"{"type":7}"#), rejected(reason::BAD_MSG_FORMAT));
        assert_eq!(json(r#"{"kind":"stat"}"#), rejected(reason::BAD_MSG_FORMAT));
        assert_eq!(
            json(r#"{"type":"hello"}"#),
            rejected(reason::INVALID_MSG_TYPE)
        );
        assert_eq!(
            json(r#"{"type":"contract_read_request","id":"1"}"#),
            rejected(reason::BAD_MSG_FORMAT)
        );
        assert_eq!(
            json(r#"{"type":"contract_input","input_container":"{}"}"#),
            Request::Reject {
                reason: reason::BAD_MSG_FORMAT,
                hash: Some(hash(b""))
            }
        );
        assert!(matches!(
            json(r#"{"type":"subscription","channel":"health_event","enabled":true}"#),
            Request::Ignore(_)
        ));
        assert_eq!(
            json(r#"{"type":"subscription","channel":"unl_change","enabled":true}"#),
            Request::Subscribe {
                channel: Channel::UnlChange,
                enabled: true
            }
        );
        assert_eq!(
            json(
                r#"{"type":"ledger_query","id":"q","filter_by":"seq_no","params":{"seq_no":3},"include":["inputs"]}"#
            ),
            Request::LedgerQuery {
                id: "q".into(),
                seq_no: 3,
                inputs: true,
                outputs: false
            }
        );
        assert!(matches!(
            json(
                r#"{"type":"ledger_query","id":"","filter_by":"seq_no","params":{"seq_no":3},"include":[]}"#
            ),
            Request::Ignore(_)
        ));
    }

    #[test]
    fn json_and_bson_input_containers() {
        let Request::Input(i) = json(
            r#"{"type":"contract_input","input_container":"{\"input\":\"hi\",\"nonce\":5,\"max_ledger_seq_no\":12}","sig":"abcd"}"#,
        ) else {
            panic!()
        };
        assert_eq!(i.sig, vec![0xab, 0xcd]);
        assert_eq!(i.hash(), hash(&[0xab, 0xcd]));
        assert_eq!(
            container(&i),
            Some(Container {
                input: b"hi".to_vec(),
                nonce: 5,
                max_ledger_seq_no: 12
            })
        );
        let bad = |c: &str| SignedInput {
            container: c.as_bytes().to_vec(),
            sig: vec![],
            protocol: Protocol::Json,
        };
        for c in [
            r#"{"input":"hi","nonce":0,"max_ledger_seq_no":12}"#,
            r#"{"input":"hi","nonce":-1,"max_ledger_seq_no":12}"#,
            r#"{"input":1,"nonce":1,"max_ledger_seq_no":12}"#,
            r#"{"input":"hi","nonce":1}"#,
            "nope",
        ] {
            assert_eq!(container(&bad(c)), None, "{c}");
        }
        let inner = bson::doc! {
            "input": bson::Binary { subtype: bson::spec::BinarySubtype::Generic, bytes: vec![1, 2] },
            "nonce": 9_i64,
            "max_ledger_seq_no": 20_i64,
        };
        let outer = bson::doc! {
            "type": "contract_input",
            "input_container": bson::Binary { subtype: bson::spec::BinarySubtype::Generic, bytes: inner.to_vec().unwrap() },
            "sig": bson::Binary { subtype: bson::spec::BinarySubtype::Generic, bytes: vec![7; 64] },
        };
        let Request::Input(i) = parse(Protocol::Bson, &outer.to_vec().unwrap()) else {
            panic!()
        };
        assert_eq!(
            container(&i).map(|c| (c.input, c.nonce)),
            Some((vec![1, 2], 9))
        );
    }
}
