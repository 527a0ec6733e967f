//! The round arguments the host writes on the contract's stdin, built by
//! hand in the engine's exact field order (hpcore `src/sc/sc.cpp`,
//! `write_contract_args`, on both the `main` and `fallback-hpsh` branches).
//!
//! hpcore concatenates the JSON itself rather than using a serializer; every
//! value it writes is a number, a bool or a hex/UUID string, so no escaping is
//! needed and the simulator does the same. Users and UNL entries must already
//! be sorted by public key (the engine's `std::map` order).

use std::fmt::Write as _;
use std::os::fd::RawFd;

use super::config::{Variant, hp_version};
use super::report::Mode;

/// One user as listed in `users`.
pub(crate) struct UserArg<'a> {
    pub(crate) public_key: &'a str,
    pub(crate) out_fd: RawFd,
    /// `[offset, size]` pairs into the input memfd.
    pub(crate) inputs: &'a [(u64, u64)],
}

/// One UNL entry.
pub(crate) struct UnlArg<'a> {
    pub(crate) public_key: &'a str,
    pub(crate) active_on: u64,
    /// The node's own lcl (written only in the `mode` variant).
    pub(crate) lcl_seq_no: u64,
    pub(crate) lcl_hash: &'a str,
}

/// Everything `write_contract_args` needs.
pub(crate) struct Args<'a> {
    pub(crate) variant: Variant,
    pub(crate) kind: Mode,
    pub(crate) contract_id: &'a str,
    pub(crate) public_key: &'a str,
    pub(crate) private_key: &'a str,
    pub(crate) timestamp: u64,
    pub(crate) lcl_seq_no: u64,
    pub(crate) lcl_hash: &'a str,
    /// Present unless read-only.
    pub(crate) npl_fd: Option<RawFd>,
    pub(crate) non_consensus_rounds: u64,
    pub(crate) control_fd: RawFd,
    pub(crate) user_in_fd: RawFd,
    pub(crate) users: &'a [UserArg<'a>],
    pub(crate) unl: &'a [UnlArg<'a>],
}

impl Args<'_> {
    /// The JSON text, exactly as the chosen engine variant writes it.
    pub(crate) fn to_json(&self) -> String {
        let mut s = String::with_capacity(512 + self.users.len() * 96 + self.unl.len() * 160);
        // `write!` into a String cannot fail; the results are ignored on purpose.
        let _ = write!(
            s,
            "{{\"hp_version\":\"{}\",\"contract_id\":\"{}\",\"public_key\":\"{}\",\"private_key\":\"{}\",\"timestamp\":{}",
            hp_version(self.variant),
            self.contract_id,
            self.public_key,
            self.private_key,
            self.timestamp
        );
        let read_only = self.kind == Mode::ReadRequest;
        match self.variant {
            Variant::Readonly => {
                let _ = write!(s, ",\"readonly\":{read_only}");
            }
            Variant::Mode => {
                let _ = write!(s, ",\"mode\":\"{}\"", self.kind.as_str());
            }
        }
        if !read_only {
            let _ = write!(
                s,
                ",\"lcl_seq_no\":{},\"lcl_hash\":\"{}\",\"npl_fd\":{}",
                self.lcl_seq_no,
                self.lcl_hash,
                self.npl_fd.unwrap_or(-1)
            );
        }
        if self.variant == Variant::Mode && self.kind == Mode::ConsensusFallback {
            let _ = write!(s, ",\"non_consensus_rounds\":{}", self.non_consensus_rounds);
        }
        let _ = write!(
            s,
            ",\"control_fd\":{},\"user_in_fd\":{},\"users\":{{",
            self.control_fd, self.user_in_fd
        );
        for (i, u) in self.users.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            let _ = write!(s, "\"{}\":[{}", u.public_key, u.out_fd);
            for (off, len) in u.inputs {
                let _ = write!(s, ",[{off},{len}]");
            }
            s.push(']');
        }
        s.push_str("},\"unl\":{");
        for (i, n) in self.unl.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            let _ = write!(s, "\"{}\":{{\"active_on\":{}", n.public_key, n.active_on);
            if self.variant == Variant::Mode {
                let _ = write!(
                    s,
                    ",\"lcl_seq_no\":{},\"lcl_hash\":\"{}\"",
                    n.lcl_seq_no, n.lcl_hash
                );
            }
            s.push('}');
        }
        s.push_str("}}");
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys_of(json: &str) -> Vec<String> {
        // serde_json keeps its maps sorted, so recover the order from the text.
        let v: serde_json::Value = serde_json::from_str(json).unwrap();
        let mut keys: Vec<(usize, String)> = v
            .as_object()
            .unwrap()
            .keys()
            .map(|k| (json.find(&format!("\"{k}\":")).unwrap(), k.clone()))
            .collect();
        keys.sort();
        keys.into_iter().map(|(_, k)| k).collect()
    }

    fn args(variant: Variant, kind: Mode) -> String {
        let inputs = [(0u64, 3u64), (4096, 5)];
        let users = [UserArg {
            public_key: "edaa",
            out_fd: 7,
            inputs: &inputs,
        }];
        let unl = [UnlArg {
            public_key: "edbb",
            active_on: 5,
            lcl_seq_no: 2,
            lcl_hash: "ab",
        }];
        Args {
            variant,
            kind,
            contract_id: "cid",
            public_key: "edbb",
            private_key: "edcc",
            timestamp: 9,
            lcl_seq_no: 2,
            lcl_hash: "ab",
            npl_fd: (kind != Mode::ReadRequest).then_some(4),
            non_consensus_rounds: 1,
            control_fd: 3,
            user_in_fd: 6,
            users: &users,
            unl: &unl,
        }
        .to_json()
    }

    #[test]
    fn readonly_variant_order() {
        let j = args(Variant::Readonly, Mode::Consensus);
        assert_eq!(
            keys_of(&j),
            [
                "hp_version",
                "contract_id",
                "public_key",
                "private_key",
                "timestamp",
                "readonly",
                "lcl_seq_no",
                "lcl_hash",
                "npl_fd",
                "control_fd",
                "user_in_fd",
                "users",
                "unl"
            ]
        );
        assert!(j.contains("\"users\":{\"edaa\":[7,[0,3],[4096,5]]}"), "{j}");
        assert!(j.contains("\"unl\":{\"edbb\":{\"active_on\":5}}"), "{j}");
        let j = args(Variant::Readonly, Mode::ReadRequest);
        assert_eq!(
            keys_of(&j),
            [
                "hp_version",
                "contract_id",
                "public_key",
                "private_key",
                "timestamp",
                "readonly",
                "control_fd",
                "user_in_fd",
                "users",
                "unl"
            ]
        );
        assert!(j.contains("\"readonly\":true"));
    }

    #[test]
    fn mode_variant_order() {
        let j = args(Variant::Mode, Mode::ConsensusFallback);
        assert_eq!(
            keys_of(&j),
            [
                "hp_version",
                "contract_id",
                "public_key",
                "private_key",
                "timestamp",
                "mode",
                "lcl_seq_no",
                "lcl_hash",
                "npl_fd",
                "non_consensus_rounds",
                "control_fd",
                "user_in_fd",
                "users",
                "unl"
            ]
        );
        assert!(j.contains("\"mode\":\"consensus_fallback\""));
        assert!(
            j.contains("{\"active_on\":5,\"lcl_seq_no\":2,\"lcl_hash\":\"ab\"}"),
            "{j}"
        );
        let j = args(Variant::Mode, Mode::ReadRequest);
        assert!(j.contains("\"mode\":\"read_req\"") && !j.contains("npl_fd"));
    }
}
