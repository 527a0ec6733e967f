//! The wire format of a contribution: one small JSON object per NPL
//! message, `{"hp_agree":"<topic>","n":<send number>,"value":<JSON>}`. The
//! leading key tags it, so raw `#[on_npl]` messages of the contract's own
//! travel on the same line and are told apart by a prefix check.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};

/// What every envelope starts with (serde_json writes fields in order).
const TAG: &[u8] = b"{\"hp_agree\":";

/// One contribution as sent over NPL.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Envelope {
    /// The topic's name.
    pub(crate) hp_agree: String,
    /// How many envelopes the sender sent before this one in the round.
    /// A re-sent contribution is thus never byte-identical to its first
    /// copy: the engine collapses identical payloads sent within one
    /// millisecond, which would swallow the re-send.
    pub(crate) n: u64,
    /// The sender's contribution.
    pub(crate) value: Value,
}

impl Envelope {
    /// The envelope's bytes.
    pub(crate) fn encode(&self) -> Result<Vec<u8>> {
        serde_json::to_vec(self)
            .map_err(|e| Error::Npl(format!("encoding an agreement envelope: {e}")))
    }

    /// `Ok(None)` for a message that is not an envelope (the contract's own
    /// NPL traffic); an error for one tagged as an envelope but malformed.
    pub(crate) fn decode(message: &[u8]) -> Result<Option<Envelope>> {
        if !message.starts_with(TAG) {
            return Ok(None);
        }
        serde_json::from_slice(message)
            .map(Some)
            .map_err(|e| Error::Npl(format!("malformed agreement envelope: {e}")))
    }
}

/// The topic of an agreement envelope; `None` for any other message (and
/// for a malformed envelope). Fault rules pick messages by it.
pub(crate) fn topic_of(message: &[u8]) -> Option<String> {
    Envelope::decode(message).ok().flatten().map(|e| e.hp_agree)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_round_trip_and_are_told_from_other_messages() {
        let e = Envelope {
            hp_agree: "price".into(),
            n: 2,
            value: serde_json::json!({"a": [1, 2]}),
        };
        let bytes = e.encode().unwrap();
        assert_eq!(bytes, br#"{"hp_agree":"price","n":2,"value":{"a":[1,2]}}"#);
        let back = Envelope::decode(&bytes).unwrap().unwrap();
        assert_eq!((back.hp_agree.as_str(), back.n), ("price", 2));
        assert_eq!(back.value, e.value);
        assert!(Envelope::decode(b"hello").unwrap().is_none());
        assert!(
            Envelope::decode(br#"{"ledger":3,"value":1}"#)
                .unwrap()
                .is_none()
        );
        assert_eq!(topic_of(&bytes).as_deref(), Some("price"));
        assert_eq!(topic_of(b"hello"), None);
        let bad = Envelope::decode(br#"{"hp_agree":7}"#).unwrap_err();
        assert!(
            bad.to_string().contains("malformed agreement envelope"),
            "{bad}"
        );
    }
}
