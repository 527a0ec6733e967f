//! How the engine reads a control packet (`sc.cpp handle_control_msg`), and
//! which readings are hazards. Pure: no process needed to test it.

use super::super::report::{ControlMeaning, Hazard, IgnoredControl, IgnoredKind};
use crate::wire::MAX_PACKET;

/// Interprets one control packet the way the engine does.
pub(crate) fn interpret_control(raw: &[u8]) -> ControlMeaning {
    let ignored = |kind, reason: String| ControlMeaning::Ignored(IgnoredControl { kind, reason });
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(raw) else {
        return ignored(IgnoredKind::NotJson, "not valid JSON".into());
    };
    let Some(ty) = v.get("type").and_then(|t| t.as_str()) else {
        return ignored(IgnoredKind::NoType, "no string `type`".into());
    };
    if ty != "peer_changeset" {
        return ignored(
            IgnoredKind::UnknownType,
            format!("unknown type `{ty}` (the engine handles only peer_changeset)"),
        );
    }
    let Some(add) = v.get("add").and_then(peers) else {
        return ignored(
            IgnoredKind::BadAdd,
            "peer_changeset needs `add`: an array of \"host:port\"".into(),
        );
    };
    let remove = match v.get("remove") {
        Some(serde_json::Value::String(s)) if s == "*" => None,
        Some(r) => match peers(r) {
            Some(list) => Some(list),
            None => {
                return ignored(
                    IgnoredKind::BadRemove,
                    "peer_changeset needs `remove`: an array of \"host:port\" or \"*\"".into(),
                );
            }
        },
        None => {
            return ignored(
                IgnoredKind::NoRemove,
                "peer_changeset without `remove`".into(),
            );
        }
    };
    ControlMeaning::PeerChangeset { add, remove }
}

/// A JSON array of `"host:port"` strings with a non-zero port.
fn peers(v: &serde_json::Value) -> Option<Vec<String>> {
    v.as_array()?
        .iter()
        .map(|p| {
            let s = p.as_str()?;
            let (host, port) = s.split_once(':')?;
            let ok =
                !host.is_empty() && !port.contains(':') && port.parse::<u16>().is_ok_and(|p| p > 0);
            ok.then(|| s.to_owned())
        })
        .collect()
}

/// The hazards one control packet of `real` bytes with this meaning raises.
pub(crate) fn control_hazards(real: usize, meaning: &ControlMeaning) -> Vec<Hazard> {
    let mut hazards = Vec::new();
    if real > MAX_PACKET {
        hazards.push(Hazard::OversizedControlPacket { bytes: real });
    }
    // Unknown types (e.g. the retired `contract_end`) are dropped silently by
    // the engine too; only what it logs as broken is a hazard.
    if let ControlMeaning::Ignored(ignored) = meaning
        && ignored.kind.engine_logs()
    {
        hazards.push(Hazard::IgnoredControlMessage {
            reason: ignored.reason.clone(),
        });
    }
    hazards
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(raw: &[u8]) -> Option<IgnoredKind> {
        match interpret_control(raw) {
            ControlMeaning::Ignored(i) => Some(i.kind),
            ControlMeaning::PeerChangeset { .. } => None,
        }
    }

    #[test]
    fn a_well_formed_changeset_is_understood() {
        let m = interpret_control(br#"{"type":"peer_changeset","add":["a:1"],"remove":"*"}"#);
        assert_eq!(
            m,
            ControlMeaning::PeerChangeset {
                add: vec!["a:1".into()],
                remove: None
            }
        );
        let m = interpret_control(br#"{"type":"peer_changeset","add":[],"remove":["b:2"]}"#);
        assert!(matches!(m, ControlMeaning::PeerChangeset { remove: Some(r), .. } if r == ["b:2"]));
    }

    #[test]
    fn each_malformation_has_its_kind() {
        assert_eq!(kind(b"{"), Some(IgnoredKind::NotJson));
        assert_eq!(kind(br#"{"type":1}"#), Some(IgnoredKind::NoType));
        assert_eq!(
            kind(br#"{"type":"contract_end"}"#),
            Some(IgnoredKind::UnknownType)
        );
        let bad_port = br#"{"type":"peer_changeset","add":["a:0"],"remove":"*"}"#;
        assert_eq!(kind(bad_port), Some(IgnoredKind::BadAdd));
        let no_host = br#"{"type":"peer_changeset","add":[":1"],"remove":"*"}"#;
        assert_eq!(kind(no_host), Some(IgnoredKind::BadAdd));
        let bad_remove = br#"{"type":"peer_changeset","add":[],"remove":"x"}"#;
        assert_eq!(kind(bad_remove), Some(IgnoredKind::BadRemove));
        let no_remove = br#"{"type":"peer_changeset","add":[]}"#;
        assert_eq!(kind(no_remove), Some(IgnoredKind::NoRemove));
    }

    #[test]
    fn unknown_types_are_not_hazards_but_broken_messages_are() {
        let unknown = interpret_control(br#"{"type":"contract_end"}"#);
        assert!(control_hazards(10, &unknown).is_empty());
        let broken = interpret_control(b"not json");
        assert!(matches!(
            control_hazards(8, &broken).as_slice(),
            [Hazard::IgnoredControlMessage { reason }] if reason == "not valid JSON"
        ));
    }

    #[test]
    fn a_packet_over_the_engine_read_is_flagged() {
        let ok = interpret_control(br#"{"type":"contract_end"}"#);
        assert!(matches!(
            control_hazards(MAX_PACKET + 1, &ok).as_slice(),
            [Hazard::OversizedControlPacket { bytes }] if *bytes == MAX_PACKET + 1
        ));
        assert!(control_hazards(MAX_PACKET, &ok).is_empty());
    }
}
