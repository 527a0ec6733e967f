//! Peer changesets: the one control message the engine acts on
//! (`{"type":"peer_changeset","add":[..],"remove":[..]|"*"}`, [`guide::protocol`](crate::guide::protocol#control-socket)).
//!
//! Peers are checked here with the engine's rules, because the engine drops a
//! bad changeset with nothing more than a log line. It also ignores every
//! changeset while `mesh.peer_discovery.enabled` is true, which is its default.

use std::fmt;
use std::str::FromStr;

use serde_json::Value;

use crate::error::{Error, Result};

/// A peer address, `host:port`: a non-empty host without `:` (so no IPv6
/// literals, as in the engine) and a port in `1..=65535`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Peer {
    host: String,
    port: u16,
}

impl Peer {
    /// A peer from its parts, checked like a parsed `"host:port"`.
    pub fn new(host: impl Into<String>, port: u16) -> Result<Self> {
        let host = host.into();
        if host.is_empty() {
            return Err(bad_peer(&format!("{host}:{port}"), "the host is empty"));
        }
        if host.contains(':') {
            return Err(bad_peer(
                &format!("{host}:{port}"),
                "the host must not contain ':' (the engine splits on it; IPv6 literals are not supported)",
            ));
        }
        if port == 0 {
            return Err(bad_peer(
                &format!("{host}:{port}"),
                "the port must be 1..=65535",
            ));
        }
        Ok(Peer { host, port })
    }

    /// The host name or IPv4 address.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The port, never 0.
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl FromStr for Peer {
    type Err = Error;

    /// Parses `"host:port"`, with exactly one `:` and the port in decimal
    /// digits only (no sign, no spaces).
    fn from_str(s: &str) -> Result<Self> {
        let mut parts = s.split(':');
        let (Some(host), Some(port), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(bad_peer(s, "expected \"host:port\" with exactly one ':'"));
        };
        if host.is_empty() {
            return Err(bad_peer(s, "the host is empty"));
        }
        let port = if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) {
            port.parse::<u16>().ok().filter(|p| *p != 0)
        } else {
            None
        };
        match port {
            Some(port) => Ok(Peer {
                host: host.to_owned(),
                port,
            }),
            None => Err(bad_peer(s, "the port must be a number in 1..=65535")),
        }
    }
}

impl TryFrom<&str> for Peer {
    type Error = Error;

    fn try_from(s: &str) -> Result<Self> {
        s.parse()
    }
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

fn bad_peer(peer: &str, rule: &str) -> Error {
    Error::Control(format!("peer {}: {rule}", Value::String(peer.to_owned())))
}

/// Which peers a changeset removes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Remove {
    /// These peers (serialised as a JSON array, possibly empty).
    Peers(Vec<Peer>),
    /// Every known peer, before the additions (serialised as `"*"`): the
    /// changeset then overwrites the peer list.
    All,
}

impl Default for Remove {
    fn default() -> Self {
        Remove::Peers(Vec::new())
    }
}

/// A change to the node's known peers, sent to the engine on the control
/// channel.
///
/// ```
/// use hotpocket::peers::PeerChangeset;
/// # fn main() -> hotpocket::Result<()> {
/// let change = PeerChangeset::add(["10.0.0.5:22861"])?.and_remove(["10.0.0.9:22861"])?;
/// assert_eq!(
///     change.to_control_json(),
///     br#"{"type":"peer_changeset","add":["10.0.0.5:22861"],"remove":["10.0.0.9:22861"]}"#
/// );
/// let overwrite = PeerChangeset::replace_all(["a.example:22861", "b.example:22861"])?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PeerChangeset {
    /// Peers to add, in order.
    pub add: Vec<Peer>,
    /// Peers to remove, or all of them.
    pub remove: Remove,
}

impl PeerChangeset {
    /// A changeset that changes nothing; extend it with
    /// [`and_add`](Self::and_add) / [`and_remove`](Self::and_remove).
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds these peers (`"host:port"` each). Fails on the first bad peer.
    pub fn add<I>(peers: I) -> Result<Self>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        Self::new().and_add(peers)
    }

    /// Removes these peers (`"host:port"` each). Fails on the first bad peer.
    pub fn remove<I>(peers: I) -> Result<Self>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        Self::new().and_remove(peers)
    }

    /// Replaces every known peer with these (`"remove": "*"`). An empty list
    /// removes every peer.
    pub fn replace_all<I>(peers: I) -> Result<Self>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        Ok(PeerChangeset {
            add: parse_peers(peers)?,
            remove: Remove::All,
        })
    }

    /// Also adds these peers.
    pub fn and_add<I>(mut self, peers: I) -> Result<Self>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        self.add.extend(parse_peers(peers)?);
        Ok(self)
    }

    /// Also removes these peers. After [`replace_all`](Self::replace_all)
    /// every peer is removed already, and this only checks the peers.
    pub fn and_remove<I>(mut self, peers: I) -> Result<Self>
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let peers = parse_peers(peers)?;
        if let Remove::Peers(list) = &mut self.remove {
            list.extend(peers);
        }
        Ok(self)
    }

    /// True when sending it would change nothing.
    pub fn is_empty(&self) -> bool {
        self.add.is_empty() && self.remove == Remove::Peers(Vec::new())
    }

    /// The control message, `{"type":"peer_changeset","add":[..],"remove":[..]|"*"}`,
    /// compact, with both keys always present (the engine requires them).
    pub fn to_control_json(&self) -> Vec<u8> {
        // Built by hand: serde_json's Map would sort the keys, and `type`
        // first reads best in logs. Strings go through Value for escaping.
        let mut out = String::from(r#"{"type":"peer_changeset","add":"#);
        push_peer_array(&mut out, &self.add);
        out.push_str(r#","remove":"#);
        match &self.remove {
            Remove::Peers(list) => push_peer_array(&mut out, list),
            Remove::All => out.push_str(r#""*""#),
        }
        out.push('}');
        out.into_bytes()
    }
}

fn parse_peers<I>(peers: I) -> Result<Vec<Peer>>
where
    I: IntoIterator,
    I::Item: AsRef<str>,
{
    peers.into_iter().map(|p| p.as_ref().parse()).collect()
}

fn push_peer_array(out: &mut String, peers: &[Peer]) {
    out.push('[');
    for (i, peer) in peers.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&Value::String(peer.to_string()).to_string());
    }
    out.push(']');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn control_message(result: Result<impl fmt::Debug>) -> String {
        match result {
            Err(Error::Control(message)) => message,
            other => panic!("expected Error::Control, got {other:?}"),
        }
    }

    #[test]
    fn parses_good_peers() {
        let p: Peer = "a:1".parse().unwrap();
        assert_eq!((p.host(), p.port()), ("a", 1));
        let p: Peer = "node-3.example.com:65535".parse().unwrap();
        assert_eq!((p.host(), p.port()), ("node-3.example.com", 65535));
        assert_eq!(p.to_string(), "node-3.example.com:65535");
        assert_eq!(Peer::try_from("10.0.0.1:22861").unwrap().port(), 22861);
    }

    #[test]
    fn rejects_bad_peers_naming_them() {
        let cases = [
            (":1", "host is empty"),
            ("a:", "port must be"),
            ("a:0", "port must be"),
            ("a:65536", "port must be"),
            ("a:b:1", "exactly one ':'"),
            ("a", "exactly one ':'"),
            ("", "exactly one ':'"),
            ("a:+1", "port must be"),
            ("a: 1", "port must be"),
            ("a:1x", "port must be"),
            ("::1", "exactly one ':'"),
        ];
        for (peer, rule) in cases {
            let message = control_message(peer.parse::<Peer>());
            assert!(message.contains(&format!("{peer:?}")), "{message}");
            assert!(message.contains(rule), "{peer}: {message}");
        }
    }

    #[test]
    fn new_checks_like_parse() {
        assert!(Peer::new("a", 1).is_ok());
        control_message(Peer::new("", 1));
        control_message(Peer::new("a", 0));
        control_message(Peer::new("a:b", 1));
    }

    #[test]
    fn control_json_is_byte_exact() {
        let change = PeerChangeset::add(["a:1", "b.example:22861"])
            .unwrap()
            .and_remove(["c:2"])
            .unwrap();
        assert_eq!(
            String::from_utf8(change.to_control_json()).unwrap(),
            r#"{"type":"peer_changeset","add":["a:1","b.example:22861"],"remove":["c:2"]}"#
        );
        assert_eq!(
            PeerChangeset::remove(["c:2"]).unwrap().to_control_json(),
            br#"{"type":"peer_changeset","add":[],"remove":["c:2"]}"#
        );
        assert_eq!(
            PeerChangeset::new().to_control_json(),
            br#"{"type":"peer_changeset","add":[],"remove":[]}"#
        );
    }

    #[test]
    fn replace_all_serialises_remove_as_star() {
        let change = PeerChangeset::replace_all(["a:1"]).unwrap();
        assert_eq!(
            change.to_control_json(),
            br#"{"type":"peer_changeset","add":["a:1"],"remove":"*"}"#
        );
        let change = change.and_remove(["b:2"]).unwrap();
        assert_eq!(change.remove, Remove::All);
        let cleared = PeerChangeset::replace_all(Vec::<String>::new()).unwrap();
        assert!(!cleared.is_empty());
        assert_eq!(
            cleared.to_control_json(),
            br#"{"type":"peer_changeset","add":[],"remove":"*"}"#
        );
    }

    #[test]
    fn output_is_valid_json_with_escaped_hosts() {
        let change = PeerChangeset::add(["we\"ird\\host:7"]).unwrap();
        let parsed: Value = serde_json::from_slice(&change.to_control_json()).unwrap();
        assert_eq!(parsed["add"][0], "we\"ird\\host:7");
        assert_eq!(parsed["type"], "peer_changeset");
    }

    #[test]
    fn first_bad_peer_fails_the_whole_changeset() {
        let message = control_message(PeerChangeset::add(["a:1", "b:0", "c:x"]));
        assert!(message.contains("\"b:0\""), "{message}");
        control_message(PeerChangeset::replace_all(["a"]));
        control_message(PeerChangeset::new().and_remove([":1"]));
    }

    #[test]
    fn empty_changeset() {
        assert!(PeerChangeset::new().is_empty());
        assert!(!PeerChangeset::add(["a:1"]).unwrap().is_empty());
    }
}
