//! Input admission as hpcore does it: checks when an input arrives, checks
//! again at consensus (signature, nonce order, expiry), and the nonce map
//! that makes a user's inputs strictly ordered.
//!
//! Every node of a cluster sees the same inputs in the same order and runs
//! the same checks, so their nonce maps are equal; the simulator keeps one.

use std::collections::BTreeMap;

use super::hash::Hash;
use super::request::{Container, SignedInput, container, reason};

/// `contract.max_input_ledger_offset` as `hpcore new` writes it.
pub(crate) const MAX_INPUT_LEDGER_OFFSET: u64 = 10;

/// What hpcore keeps per user (`input_nonce_map`): the last accepted nonce
/// and expiry, and the signature of the *first* input it recorded (later
/// acceptances update nonce and expiry only).
#[derive(Clone, Debug)]
struct Last {
    nonce: u64,
    sig: Vec<u8>,
    max_ledger_seq_no: u64,
}

/// Per-user nonce state, keyed by the user's binary public key.
#[derive(Clone, Debug, Default)]
pub(crate) struct NonceMap {
    users: BTreeMap<Vec<u8>, Last>,
}

impl NonceMap {
    /// hpcore's `check`: `Ok` when the nonce may follow the last one (or the
    /// last one expired); records it unless `dry`. Engine quirk kept: the
    /// `max_ledger_seq_no` the 256-entry cleanup compares with a clock is
    /// not modelled (the simulator never has 256 users).
    fn check(
        &mut self,
        user: &[u8],
        c: &Container,
        sig: &[u8],
        lcl: u64,
        dry: bool,
    ) -> Result<(), &'static str> {
        match self.users.get_mut(user) {
            None => {
                if !dry {
                    let last = Last {
                        nonce: c.nonce,
                        sig: sig.to_vec(),
                        max_ledger_seq_no: c.max_ledger_seq_no,
                    };
                    self.users.insert(user.to_vec(), last);
                }
                Ok(())
            }
            Some(last) if last.max_ledger_seq_no <= lcl || last.nonce < c.nonce => {
                if !dry {
                    last.nonce = c.nonce;
                    last.max_ledger_seq_no = c.max_ledger_seq_no;
                }
                Ok(())
            }
            Some(last) if last.nonce == c.nonce && last.sig == sig => {
                Err(reason::ALREADY_SUBMITTED)
            }
            Some(_) => Err(reason::NONCE_EXPIRED),
        }
    }
}

/// The expiry checks both stages make.
fn ledger_window(c: &Container, lcl: u64) -> Result<(), &'static str> {
    if c.max_ledger_seq_no > lcl.saturating_add(MAX_INPUT_LEDGER_OFFSET) {
        Err(reason::MAX_LEDGER_OFFSET_EXCEEDED)
    } else if c.max_ledger_seq_no <= lcl {
        Err(reason::MAX_LEDGER_EXPIRED)
    } else {
        Ok(())
    }
}

/// The checks when an input arrives (`handle_authed_user_message`): `Err`
/// is the rejection to send at once; `Ok` queues it silently. The
/// signature is not checked yet, as on the engine.
pub(crate) fn on_arrival(
    map: &mut NonceMap,
    user: &[u8],
    input: &SignedInput,
    lcl: u64,
) -> Result<(), &'static str> {
    let c = container(input).ok_or(reason::BAD_MSG_FORMAT)?;
    ledger_window(&c, lcl)?;
    map.check(user, &c, &input.sig, lcl, true)
}

/// An input that passed consensus checks, in the engine's order key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Admitted {
    /// Nonce (8 bytes big-endian) ‖ input hash: proposals keep inputs in
    /// this byte order.
    pub(crate) ordered_hash: [u8; 40],
    /// The input hash (BLAKE3 of the signature).
    pub(crate) hash: Hash,
    /// The input's bytes as the contract receives them.
    pub(crate) data: Vec<u8>,
    /// When it expires if it does not make it into a ledger.
    pub(crate) max_ledger_seq_no: u64,
}

/// A status to send for an input that failed at consensus.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Rejection {
    /// The input's hash.
    pub(crate) hash: Hash,
    /// One of [`reason`]'s strings.
    pub(crate) reason: &'static str,
}

/// One user's queued inputs at consensus (`verify_and_populate_candidate_
/// user_inputs`): signature and container checked, then in nonce order (a
/// stable sort) the window and nonce checks, recording. `already_submitted`
/// at this stage gets no reply, as on the engine.
pub(crate) fn at_consensus(
    map: &mut NonceMap,
    user: &[u8],
    verify: impl Fn(&[u8], &[u8]) -> bool,
    queued: &[SignedInput],
    lcl: u64,
) -> (Vec<Admitted>, Vec<Rejection>) {
    let mut rejected = Vec::new();
    let mut extracted: Vec<(Container, &SignedInput)> = Vec::new();
    for input in queued {
        let refuse = |reason| Rejection {
            hash: input.hash(),
            reason,
        };
        if !verify(&input.container, &input.sig) {
            rejected.push(refuse(reason::BAD_SIG));
        } else {
            match container(input) {
                Some(c) => extracted.push((c, input)),
                None => rejected.push(refuse(reason::BAD_MSG_FORMAT)),
            }
        }
    }
    extracted.sort_by_key(|(c, _)| c.nonce);
    let mut admitted = Vec::new();
    for (c, input) in extracted {
        let hash = input.hash();
        match ledger_window(&c, lcl).and_then(|()| map.check(user, &c, &input.sig, lcl, false)) {
            Ok(()) => {
                let mut ordered_hash = [0; 40];
                let key = c.nonce.to_be_bytes().into_iter().chain(hash);
                for (slot, byte) in ordered_hash.iter_mut().zip(key) {
                    *slot = byte;
                }
                admitted.push(Admitted {
                    ordered_hash,
                    hash,
                    data: c.input,
                    max_ledger_seq_no: c.max_ledger_seq_no,
                });
            }
            Err(reason::ALREADY_SUBMITTED) => {}
            Err(reason) => rejected.push(Rejection { hash, reason }),
        }
    }
    // The candidate set is keyed by the ordered hash.
    admitted.sort_by_key(|a| a.ordered_hash);
    admitted.dedup_by(|a, b| a.ordered_hash == b.ordered_hash);
    (admitted, rejected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::serve::doc::Protocol;

    fn input(nonce: u64, max: u64, sig: u8) -> SignedInput {
        SignedInput {
            container: format!(
                r#"{{"input":"n{nonce}","nonce":{nonce},"max_ledger_seq_no":{max}}}"#
            )
            .into_bytes(),
            sig: vec![sig; 64],
            protocol: Protocol::Json,
        }
    }

    const U: &[u8] = b"user";
    fn all_good(_: &[u8], _: &[u8]) -> bool {
        true
    }

    #[test]
    fn arrival_window_and_format() {
        let mut m = NonceMap::default();
        assert_eq!(on_arrival(&mut m, U, &input(1, 15, 1), 5), Ok(()));
        assert_eq!(
            on_arrival(&mut m, U, &input(1, 16, 1), 5),
            Err(reason::MAX_LEDGER_OFFSET_EXCEEDED)
        );
        assert_eq!(
            on_arrival(&mut m, U, &input(1, 5, 1), 5),
            Err(reason::MAX_LEDGER_EXPIRED)
        );
        assert_eq!(
            on_arrival(&mut m, U, &input(0, 15, 1), 5),
            Err(reason::BAD_MSG_FORMAT)
        );
    }

    #[test]
    fn consensus_orders_by_nonce_and_rejects_like_the_engine() {
        let mut m = NonceMap::default();
        let queued = [input(3, 15, 3), input(1, 15, 1), input(2, 15, 2)];
        let (ok, bad) = at_consensus(&mut m, U, all_good, &queued, 5);
        assert!(bad.is_empty());
        let data: Vec<&[u8]> = ok.iter().map(|a| a.data.as_slice()).collect();
        assert_eq!(data, [&b"n1"[..], b"n2", b"n3"]);

        // Lower or equal nonce: nonce_expired, on arrival and at consensus.
        assert_eq!(
            on_arrival(&mut m, U, &input(3, 15, 9), 5),
            Err(reason::NONCE_EXPIRED)
        );
        // The first accepted input again: already_submitted on arrival...
        let mut fresh = NonceMap::default();
        at_consensus(&mut fresh, U, all_good, &[input(4, 15, 4)], 5);
        assert_eq!(
            on_arrival(&mut fresh, U, &input(4, 15, 4), 5),
            Err(reason::ALREADY_SUBMITTED)
        );
        // ...and silently dropped at consensus.
        let (ok, bad) = at_consensus(&mut fresh, U, all_good, &[input(4, 15, 4)], 5);
        assert!(ok.is_empty() && bad.is_empty());
        // A later accepted input sent again is nonce_expired: only the first
        // signature is kept.
        at_consensus(&mut fresh, U, all_good, &[input(5, 15, 5)], 5);
        assert_eq!(
            on_arrival(&mut fresh, U, &input(5, 15, 5), 5),
            Err(reason::NONCE_EXPIRED)
        );
        // Once the last one expired, any nonce goes.
        assert_eq!(on_arrival(&mut fresh, U, &input(1, 25, 1), 15), Ok(()));
    }

    #[test]
    fn bad_signature_and_same_nonce_twice() {
        let mut m = NonceMap::default();
        let sig_ok = |_: &[u8], sig: &[u8]| sig.first() != Some(&0xbb);
        let queued = [input(7, 15, 0xbb), input(8, 15, 1), input(8, 15, 2)];
        let (ok, bad) = at_consensus(&mut m, U, sig_ok, &queued, 5);
        assert_eq!(ok.len(), 1);
        assert_eq!(
            bad,
            [
                Rejection {
                    hash: queued[0].hash(),
                    reason: reason::BAD_SIG
                },
                Rejection {
                    hash: queued[2].hash(),
                    reason: reason::NONCE_EXPIRED
                },
            ]
        );
    }
}
