//! One view of a client message whether it came as JSON or BSON, so the
//! message rules are written once.
//!
//! The protocols differ in how a value is typed, not in field names: a
//! string field is a string in both; a byte field is a JSON string (its UTF-8
//! bytes, or hex for signatures and hashes) and a BSON binary; an integer
//! must pass jsoncons' `is<uint64_t>` (non-negative and integral: a JSON
//! integer, or a BSON int32/int64).

use bson::{Bson, Document};
use serde_json::{Map, Value};

/// The session's protocol, fixed by the handshake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// JSON text (sent in binary frames).
    Json,
    /// One BSON document per frame.
    Bson,
}

/// A parsed message object of either protocol.
#[derive(Clone, Debug)]
pub(crate) enum Doc {
    Json(Map<String, Value>),
    Bson(Document),
}

impl Doc {
    /// Parses a whole message; `None` when it is not one object of the
    /// protocol (hpcore's strict JSON parse or `decode_bson`).
    pub(crate) fn parse(protocol: Protocol, bytes: &[u8]) -> Option<Doc> {
        match protocol {
            Protocol::Json => match serde_json::from_slice::<Value>(bytes) {
                Ok(Value::Object(m)) => Some(Doc::Json(m)),
                _ => None,
            },
            Protocol::Bson => {
                let mut reader = bytes;
                let doc = Document::from_reader(&mut reader).ok()?;
                // One document, nothing after it.
                reader.is_empty().then_some(Doc::Bson(doc))
            }
        }
    }

    /// A string field.
    pub(crate) fn str(&self, key: &str) -> Option<&str> {
        match self {
            Doc::Json(m) => m.get(key)?.as_str(),
            Doc::Bson(d) => d.get_str(key).ok(),
        }
    }

    /// A byte field: a JSON string's UTF-8 bytes, a BSON binary.
    pub(crate) fn blob(&self, key: &str) -> Option<Vec<u8>> {
        match self {
            Doc::Json(m) => Some(m.get(key)?.as_str()?.as_bytes().to_vec()),
            Doc::Bson(d) => bson_binary(d.get(key)?),
        }
    }

    /// A binary field that JSON carries as hex (a signature). Invalid hex
    /// decodes to nothing, as libsodium's `sodium_hex2bin` leaves it.
    pub(crate) fn hex_blob(&self, key: &str) -> Option<Vec<u8>> {
        match self {
            Doc::Json(m) => Some(hex::decode(m.get(key)?.as_str()?).unwrap_or_default()),
            Doc::Bson(d) => bson_binary(d.get(key)?),
        }
    }

    /// A non-negative integer field.
    pub(crate) fn uint(&self, key: &str) -> Option<u64> {
        match self {
            Doc::Json(m) => m.get(key)?.as_u64(),
            Doc::Bson(d) => match d.get(key)? {
                Bson::Int32(n) => u64::try_from(*n).ok(),
                Bson::Int64(n) => u64::try_from(*n).ok(),
                _ => None,
            },
        }
    }

    /// A boolean field.
    pub(crate) fn bool(&self, key: &str) -> Option<bool> {
        match self {
            Doc::Json(m) => m.get(key)?.as_bool(),
            Doc::Bson(d) => d.get_bool(key).ok(),
        }
    }

    /// An object field, as a document of the same protocol.
    pub(crate) fn object(&self, key: &str) -> Option<Doc> {
        match self {
            Doc::Json(m) => Some(Doc::Json(m.get(key)?.as_object()?.clone())),
            Doc::Bson(d) => Some(Doc::Bson(d.get_document(key).ok()?.clone())),
        }
    }

    /// An array field's string items (other items are skipped); `None` when
    /// the field is not an array.
    pub(crate) fn strings(&self, key: &str) -> Option<Vec<String>> {
        match self {
            Doc::Json(m) => Some(
                m.get(key)?
                    .as_array()?
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect(),
            ),
            Doc::Bson(d) => Some(
                d.get_array(key)
                    .ok()?
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect(),
            ),
        }
    }
}

fn bson_binary(v: &Bson) -> Option<Vec<u8>> {
    match v {
        Bson::Binary(b) => Some(b.bytes.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;
    use bson::spec::BinarySubtype;

    fn bin(b: &[u8]) -> Bson {
        Bson::Binary(bson::Binary {
            subtype: BinarySubtype::Generic,
            bytes: b.to_vec(),
        })
    }

    #[test]
    fn json_fields() {
        let d = Doc::parse(
            Protocol::Json,
            br#"{"type":"x","sig":"0aff","n":5,"neg":-1,"f":1.5,"b":true,"o":{"k":1},"a":["p",1]}"#,
        )
        .unwrap();
        assert_eq!(d.str("type"), Some("x"));
        assert_eq!(d.hex_blob("sig"), Some(vec![0x0a, 0xff]));
        assert_eq!(d.blob("type"), Some(b"x".to_vec()));
        assert_eq!(
            (d.uint("n"), d.uint("neg"), d.uint("f")),
            (Some(5), None, None)
        );
        assert_eq!(d.bool("b"), Some(true));
        assert_eq!(d.object("o").and_then(|o| o.uint("k")), Some(1));
        assert_eq!(d.strings("a"), Some(vec!["p".to_owned()]));
        assert!(Doc::parse(Protocol::Json, b"[1]").is_none());
        assert!(Doc::parse(Protocol::Json, b"{\"a\":1,}").is_none());
    }

    #[test]
    fn bson_fields_and_trailing_bytes() {
        let d = doc! {"type": "x", "sig": bin(&[1, 2]), "n": 5_i64, "m": 7_i32, "neg": -3_i64, "s": "str"};
        let bytes = d.to_vec().unwrap();
        let p = Doc::parse(Protocol::Bson, &bytes).unwrap();
        assert_eq!(p.str("type"), Some("x"));
        assert_eq!(p.hex_blob("sig"), Some(vec![1, 2]));
        assert_eq!(
            (p.uint("n"), p.uint("m"), p.uint("neg")),
            (Some(5), Some(7), None)
        );
        // A string is no binary in BSON.
        assert_eq!(p.blob("s"), None);
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(Doc::parse(Protocol::Bson, &longer).is_none());
        assert!(Doc::parse(Protocol::Bson, br#"{"type":"stat"}"#).is_none());
    }
}
