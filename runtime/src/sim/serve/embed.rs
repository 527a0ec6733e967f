//! How hpcore puts an output into a JSON message, quirk included.
//!
//! `usrmsg_json.cpp is_json_string` decides per output: bytes that start and
//! end with `""`, `{}` or `[]`, that are `true` or `false`, or that consist of
//! digits with at most one `.` are inserted **raw**, unchecked; everything
//! else (the empty output included) goes through the JSON encoder as a
//! string. So a raw output reaches a JSON client as a parsed value (`"2"`
//! as the number 2, `{"a":1}` as an object) that the client's output-hash
//! check cannot verify, and a raw output that is not valid JSON (`{abc}`,
//! `007`, `.`) makes the whole message unparsable: the client drops it and
//! the user loses every output of that message.

/// How the engine embeds one output in a JSON message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Embedding {
    /// Encoded as a JSON string: the client receives exactly these bytes.
    String,
    /// Inserted raw and valid JSON: the client receives a parsed value, not
    /// the string, and (0.5.7) rejects the output hash.
    RawValue,
    /// Inserted raw and not valid JSON: the engine's message is unparsable
    /// and the client drops it whole.
    RawInvalid,
}

/// hpcore's test: true when the output is inserted raw.
pub fn embedded_raw(output: &[u8]) -> bool {
    let (Some(first), Some(last)) = (output.first(), output.last()) else {
        return false;
    };
    let paired = matches!((first, last), (b'"', b'"') | (b'{', b'}') | (b'[', b']'));
    if paired || output == b"true" || output == b"false" {
        return true;
    }
    let mut dot = false;
    for &c in output {
        match c {
            b'0'..=b'9' => {}
            b'.' if !dot => dot = true,
            _ => return false,
        }
    }
    true
}

/// Classifies an output for the JSON protocol.
pub fn embedding(output: &[u8]) -> Embedding {
    if !embedded_raw(output) {
        Embedding::String
    } else if serde_json::from_slice::<serde_json::Value>(output).is_ok() {
        Embedding::RawValue
    } else {
        Embedding::RawInvalid
    }
}

/// Appends the output to a JSON message exactly as hpcore does: raw, or as
/// a JSON string. Invalid UTF-8 in a string output is written as U+FFFD
/// (hpcore's encoder behaviour there is not known; a JSON client could not
/// verify such bytes anyway).
#[cfg(any(test, feature = "serve"))]
pub(crate) fn push_output(msg: &mut Vec<u8>, output: &[u8]) {
    if embedded_raw(output) {
        msg.extend_from_slice(output);
    } else {
        let text = String::from_utf8_lossy(output);
        // Serialising a str cannot fail.
        let quoted = serde_json::to_string(&*text).unwrap_or_default();
        msg.extend_from_slice(quoted.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_engines_cases() {
        for raw in [
            &b"2"[..],
            b"1.5",
            b"007",
            b".",
            b"true",
            b"false",
            b"{abc}",
            b"{\"a\":1}",
            b"[1]",
            b"\"x\"",
        ] {
            assert!(embedded_raw(raw), "{}", String::from_utf8_lossy(raw));
        }
        for quoted in [
            &b""[..],
            b"-3",
            b"1.2.3",
            b"null",
            b"hello",
            b"{abc",
            b"True",
        ] {
            assert!(!embedded_raw(quoted), "{}", String::from_utf8_lossy(quoted));
        }
    }

    #[test]
    fn classification_and_encoding() {
        assert_eq!(embedding(b"-3"), Embedding::String);
        assert_eq!(embedding(b"2"), Embedding::RawValue);
        assert_eq!(embedding(b"{abc}"), Embedding::RawInvalid);
        assert_eq!(embedding(b"007"), Embedding::RawInvalid);
        let mut m = Vec::new();
        push_output(&mut m, b"2");
        m.push(b',');
        push_output(&mut m, b"say \"hi\"\n");
        m.push(b',');
        push_output(&mut m, b"");
        assert_eq!(m, br#"2,"say \"hi\"\n","""#);
    }
}
