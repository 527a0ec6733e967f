//! How hpcore puts an output into a JSON message, quirk included, and which
//! outputs a JSON client then does not receive as written.
//!
//! `usrmsg_json.cpp is_json_string` decides per output: bytes that start and
//! end with `""`, `{}` or `[]`, that are `true` or `false`, or that consist of
//! digits with at most one `.` are inserted **raw**, unchecked; everything
//! else (the empty output, `null` and negative numbers included) goes through
//! the JSON encoder as a string. So a raw output reaches a JSON client as a
//! parsed value (`"2"` as the number 2, `{"a":1}` as an object) that the
//! client's output-hash check cannot verify, and a raw output that is not
//! valid JSON (`{abc}`, `007`, `.`) makes the whole message unparsable: the
//! client drops it and the user loses every output of that message.
//!
//! [`raw_problem`] picks out the raw outputs a client cannot get back: the
//! invalid ones, and numbers JavaScript's `JSON.parse` changes. The
//! simulator's report flags them in every run (served or not); a raw value
//! the client reads back as written (an object, `2`, `true`) is not flagged.

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

/// Why a JSON client does not get a raw output as written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RawProblem {
    /// Not valid JSON (`{abc}`, `007`, `1.`): the engine's message carrying
    /// it is unparsable and the client drops it whole.
    Invalid,
    /// Not valid UTF-8: the client decodes the message with replacement
    /// characters, so at best it parses something else.
    NotUtf8,
    /// A number JavaScript reads as another text: the client's `JSON.parse`
    /// makes every number a double, so `1.50` reads as `1.5`, `1.0` as `1`
    /// and digits beyond 2^53 are rounded, inside an object too.
    Number {
        /// The number as the output writes it.
        written: String,
        /// What `String(n)` gives back for the number the client holds.
        read: String,
    },
}

impl std::fmt::Display for RawProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RawProblem::Invalid => f.write_str(
                "it is not valid JSON, so the engine's JSON message carrying it is unparsable: \
                 a JSON-protocol client drops that message whole, with every output in it",
            ),
            RawProblem::NotUtf8 => f.write_str(
                "it is not valid UTF-8: a JSON-protocol client decodes it with replacement characters",
            ),
            RawProblem::Number { written, read } => write!(
                f,
                "a JSON-protocol client parses the number {written} as {read} \
                 (JavaScript numbers are doubles)"
            ),
        }
    }
}

/// What a JSON-protocol client gets wrong about this output, if anything:
/// `None` for outputs sent as strings and for raw values it reads back as
/// written. A bare number counts as read back when JavaScript's `String(n)`
/// gives the same text (`2`, `0.5`; not `1.50`), since a client that needs
/// the text can then always recover it, whichever way the engine embedded it
/// (`-3` comes as a string, `2` as a number).
pub fn raw_problem(output: &[u8]) -> Option<RawProblem> {
    if !embedded_raw(output) {
        return None;
    }
    let Ok(text) = std::str::from_utf8(output) else {
        return Some(RawProblem::NotUtf8);
    };
    if serde_json::from_str::<serde::de::IgnoredAny>(text).is_err() {
        return Some(RawProblem::Invalid);
    }
    if text.bytes().all(|c| c.is_ascii_digit() || c == b'.') {
        let read = js_number_text(text.parse().ok()?);
        return (read != text).then(|| RawProblem::Number {
            written: text.to_owned(),
            read,
        });
    }
    rounded_integer(text)
}

/// The first integer literal outside strings that a double cannot hold.
fn rounded_integer(json: &str) -> Option<RawProblem> {
    let mut in_string = false;
    let mut escaped = false;
    let mut token = String::new();
    // A trailing space ends a literal at the very end.
    for c in json.chars().chain([' ']) {
        if in_string {
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        if c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E') {
            token.push(c);
            continue;
        }
        in_string = c == '"';
        let literal = std::mem::take(&mut token);
        if literal.is_empty() || literal.contains(['.', 'e', 'E']) {
            continue;
        }
        let Ok(n) = literal.parse::<f64>() else {
            continue;
        };
        // Up to 2^53 every integer is exact in a double.
        if n.abs() > 9_007_199_254_740_992.0 && js_number_text(n) != literal {
            return Some(RawProblem::Number {
                written: literal,
                read: js_number_text(n),
            });
        }
    }
    None
}

/// JavaScript's `Number.prototype.toString()` (ECMA-262 Number::toString).
fn js_number_text(n: f64) -> String {
    ryu_js::Buffer::new().format(n).to_owned()
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

    fn number(written: &str, read: &str) -> Option<RawProblem> {
        Some(RawProblem::Number {
            written: written.into(),
            read: read.into(),
        })
    }

    #[test]
    fn outputs_a_json_client_reads_back_are_not_problems() {
        for fine in [
            &b"2"[..],
            b"0",
            b"0.5",
            b"10.25",
            b"9007199254740992",
            b"-3",
            b"hello",
            b"",
            b"true",
            b"\"x\"",
            b"{\"value\":5,\"changes\":1}",
            b"[1,-2,3.50,\"12345678901234567890\"]",
            b"{\"big\":-9007199254740992,\"e\":1e300}",
        ] {
            assert_eq!(raw_problem(fine), None, "{}", String::from_utf8_lossy(fine));
        }
    }

    #[test]
    fn invalid_raw_outputs_and_changed_numbers_are_problems() {
        assert_eq!(raw_problem(b"{abc}"), Some(RawProblem::Invalid));
        assert_eq!(raw_problem(b"007"), Some(RawProblem::Invalid));
        assert_eq!(raw_problem(b"1."), Some(RawProblem::Invalid));
        assert_eq!(raw_problem(b"[\xff]"), Some(RawProblem::NotUtf8));
        assert_eq!(raw_problem(b"1.50"), number("1.50", "1.5"));
        assert_eq!(raw_problem(b"1.0"), number("1.0", "1"));
        assert_eq!(
            raw_problem(b"9007199254740993"),
            number("9007199254740993", "9007199254740992")
        );
        assert_eq!(
            raw_problem(b"100000000000000000000000"),
            number("100000000000000000000000", "1e+23")
        );
        assert_eq!(
            raw_problem(br#"{"note":"9223372036854775807","total":9223372036854775807}"#),
            number("9223372036854775807", "9223372036854776000")
        );
        assert_eq!(
            raw_problem(b"[-9223372036854775807]"),
            number("-9223372036854775807", "-9223372036854776000")
        );
    }

    #[test]
    fn numbers_print_as_javascript_prints_them() {
        for (n, js) in [
            (1.5, "1.5"),
            (100.0, "100"),
            (1e21, "1e+21"),
            (123456789012345680000.0, "123456789012345680000"),
            (0.000001, "0.000001"),
            (0.0000001, "1e-7"),
            (1.25e-7, "1.25e-7"),
            (-2.5e30, "-2.5e+30"),
            (f64::INFINITY, "Infinity"),
        ] {
            assert_eq!(js_number_text(n), js);
        }
    }
}
