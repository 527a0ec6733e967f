//! The challenge handshake, with real ed25519 signatures both ways
//! (`usrmsg_json.cpp verify_user_challenge`, `usr.cpp verify_challenge`).
//!
//! The node sends `user_challenge` with 16 random bytes as hex; the user
//! signs that hex *string* and names its protocol; the node, if the user
//! sent a challenge of its own, signs `server_challenge ‖ contract id ‖
//! contract version` and lists the UNL. Any failure closes the session
//! without a reply, as on the engine. The handshake is JSON in both
//! protocols.

use std::io::Read;

use super::doc::{Doc, Protocol};
use crate::crypto;

/// A user who passed the challenge.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Verified {
    /// The user's key as sent: prefix byte and 32 key bytes.
    pub(crate) pubkey: Vec<u8>,
    /// The protocol the session uses from now on.
    pub(crate) protocol: Protocol,
    /// The user's challenge for the node, when it sent one.
    pub(crate) server_challenge: Option<String>,
}

/// A fresh challenge: 16 bytes from the OS as 32 lowercase hex characters.
/// (Protocol randomness only: it reaches no contract, output or state.)
pub(crate) fn new_challenge() -> std::io::Result<String> {
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(hex::encode(bytes))
}

/// Checks a `user_challenge_response` against the issued challenge; `Err`
/// says why (for the log line), and the session must then be closed.
pub(crate) fn verify_response(message: &[u8], issued: &str) -> Result<Verified, String> {
    let doc = Doc::parse(Protocol::Json, message).ok_or("not a JSON object")?;
    if doc.str("type") != Some("user_challenge_response") {
        return Err("`type` is not \"user_challenge_response\"".into());
    }
    let (Some(sig), Some(pubkey)) = (doc.str("sig"), doc.str("pubkey")) else {
        return Err("`sig` or `pubkey` missing or not a string".into());
    };
    let server_challenge = match doc.str("server_challenge") {
        None if !doc_has(&doc, "server_challenge") => None,
        Some(c) if !c.is_empty() && c.len() <= 32 => Some(c.to_owned()),
        _ => return Err("`server_challenge` is not a string of 1 to 32 characters".into()),
    };
    let protocol = match doc.str("protocol") {
        Some("json") => Protocol::Json,
        Some("bson") => Protocol::Bson,
        _ => return Err("`protocol` is not \"json\" or \"bson\"".into()),
    };
    let key = hex::decode(pubkey).map_err(|_| "`pubkey` is not hex".to_owned())?;
    let key32: [u8; 32] = key
        .get(1..)
        .and_then(|k| k.try_into().ok())
        .ok_or("`pubkey` is not 33 bytes")?;
    let sig: [u8; 64] = hex::decode(sig)
        .ok()
        .and_then(|s| s.try_into().ok())
        .ok_or("`sig` is not 64 bytes of hex")?;
    crypto::verify_bytes(&key32, issued.as_bytes(), &sig)
        .map_err(|e| format!("challenge signature: {e}"))?;
    Ok(Verified {
        pubkey: key,
        protocol,
        server_challenge,
    })
}

fn doc_has(doc: &Doc, key: &str) -> bool {
    match doc {
        Doc::Json(m) => m.contains_key(key),
        Doc::Bson(d) => d.contains_key(key),
    }
}

/// The node's signature for `server_challenge_response`.
pub(crate) fn sign_server_challenge(
    node_private_key: &str,
    server_challenge: &str,
    contract_id: &str,
    contract_version: &str,
) -> Result<[u8; 64], crypto::CryptoError> {
    let content = format!("{server_challenge}{contract_id}{contract_version}");
    crypto::sign_bytes(node_private_key, content.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::KeyPair;

    fn response(key: &KeyPair, challenge: &str, extra: &str) -> Vec<u8> {
        format!(
            r#"{{"type":"user_challenge_response","sig":"{}","pubkey":"{}","protocol":"bson"{extra}}}"#,
            key.sign(challenge.as_bytes()).unwrap(),
            key.public_key
        )
        .into_bytes()
    }

    #[test]
    fn a_real_signature_over_the_hex_string_passes() {
        let alice = KeyPair::user("alice");
        let c = new_challenge().unwrap();
        assert_eq!(c.len(), 32);
        let v = verify_response(&response(&alice, &c, r#","server_challenge":"abc""#), &c).unwrap();
        assert_eq!(hex::encode(&v.pubkey), alice.public_key);
        assert_eq!(v.protocol, Protocol::Bson);
        assert_eq!(v.server_challenge.as_deref(), Some("abc"));
    }

    #[test]
    fn every_failure_is_named() {
        let alice = KeyPair::user("alice");
        let c = "00112233445566778899aabbccddeeff";
        let err = |m: &[u8]| verify_response(m, c).unwrap_err();
        assert!(err(&response(&alice, "other", "")).contains("signature"));
        assert!(
            err(&response(
                &alice,
                c,
                &format!(r#","server_challenge":"{}""#, "x".repeat(33))
            ))
            .contains("server_challenge")
        );
        assert!(
            err(&response(&alice, c, r#","server_challenge":"""#)).contains("server_challenge")
        );
        assert!(err(b"not json").contains("JSON"));
        assert!(err(br#"{"type":"stat"}"#).contains("type"));
        let xml = String::from_utf8(response(&alice, c, ""))
            .unwrap()
            .replace("bson", "xml");
        assert!(err(xml.as_bytes()).contains("protocol"));
    }

    #[test]
    fn the_server_signature_verifies_with_the_node_key() {
        let node = KeyPair::node(0);
        let sig = sign_server_challenge(&node.private_key, "abc", "id", "1.0").unwrap();
        let pk = crypto::public_key_bytes(&node.public_key).unwrap();
        assert!(crypto::verify_bytes(&pk, b"abcid1.0", &sig).is_ok());
    }
}
