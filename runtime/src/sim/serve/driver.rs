//! The round clock of a served cluster: a consensus round every round time
//! whether or not there are inputs (as the engine runs them), read requests
//! answered in between, one stderr line per round that did something and a
//! summary line for runs of quiet rounds.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::hub::{RoundInputs, RoundResult};
use super::server::Shared;

/// What runs the contract for a served cluster (the simulator's cluster).
pub(crate) trait Backend {
    /// Runs one consensus round with these inputs (per user hex key, in
    /// order; users without inputs are connected users).
    fn round(&mut self, inputs: &RoundInputs) -> Result<Ran, String>;
    /// Runs a read request on one node for a user (hex key).
    fn read(&mut self, node: usize, user: &str, content: &[u8]) -> Result<Vec<Vec<u8>>, String>;
}

/// A round as the backend ran it.
#[derive(Clone, Debug)]
pub(crate) struct Ran {
    /// What the hub needs.
    pub(crate) result: RoundResult,
    /// The round's report line after `ledger N:` (agreement, hazards).
    pub(crate) summary: String,
}

/// Counts quiet rounds between the lines worth printing.
#[derive(Debug, Default)]
struct Quiet {
    count: u64,
    first: u64,
}

impl Quiet {
    fn flush(&mut self, log: &dyn Fn(&str)) {
        if self.count > 0 {
            let last = self.first + self.count - 1;
            log(&format!(
                "{} quiet rounds (ledgers {}..={last}): no inputs, no outputs",
                self.count, self.first
            ));
        }
        self.count = 0;
    }
}

/// Runs rounds until `shared.stop` is set.
pub(crate) fn drive(
    shared: &Arc<Shared>,
    backend: &mut dyn Backend,
    round_time: Duration,
    log: &dyn Fn(&str),
) {
    let mut quiet = Quiet::default();
    let mut next = Instant::now() + round_time;
    while !shared.stop.load(Ordering::Relaxed) {
        serve_reads(shared, backend, log);
        if Instant::now() < next {
            std::thread::sleep(Duration::from_millis(2));
            continue;
        }
        let started = Instant::now();
        next += round_time;
        let mut inputs = Vec::new();
        shared.with_hub(|h| {
            let (i, actions) = h.begin_round();
            inputs = i;
            actions
        });
        let count: usize = inputs.iter().map(|(_, v)| v.len()).sum();
        let checked = started.elapsed();
        match backend.round(&inputs) {
            Ok(ran) => {
                let outputs: usize = ran
                    .result
                    .nodes
                    .first()
                    .map(|n| n.outputs.values().map(Vec::len).sum())
                    .unwrap_or(0);
                let seq = ran.result.ledger.seq_no;
                let ran_at = started.elapsed();
                shared.with_hub(|h| h.finish_round(&ran.result));
                if count == 0 && outputs == 0 && ran.summary.ends_with(", 0 hazards") {
                    if quiet.count == 0 {
                        quiet.first = seq;
                    }
                    quiet.count += 1;
                } else {
                    quiet.flush(log);
                    log(&format!(
                        "ledger {seq}: {count} inputs, {outputs} outputs, {} ({} ms: {} checking inputs, {} running the round, {} sending)",
                        ran.summary,
                        started.elapsed().as_millis(),
                        checked.as_millis(),
                        (ran_at - checked).as_millis(),
                        (started.elapsed() - ran_at).as_millis()
                    ));
                }
            }
            Err(e) => log(&format!("round failed: {e}")),
        }
        // A round that overran its time does not queue up more rounds.
        next = next.max(Instant::now());
    }
    quiet.flush(log);
}

fn serve_reads(shared: &Arc<Shared>, backend: &mut dyn Backend, log: &dyn Fn(&str)) {
    for job in shared.take_reads() {
        match backend.read(job.node, &job.user, &job.content) {
            Ok(outputs) => shared.with_hub(|h| h.read_done(job.session, &job.id, &outputs)),
            Err(e) => log(&format!(
                "node {}: read request {} of {}: {e}",
                job.node, job.id, job.user
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::net::TcpStream;
    use std::sync::Mutex;
    use std::thread;

    use serde_json::Value;
    use tungstenite::{Message, WebSocket};

    use super::*;
    use crate::sim::KeyPair;
    use crate::sim::serve::hub::{Hub, HubConfig, NodeRound};
    use crate::sim::serve::reply::LedgerId;
    use crate::sim::serve::server::listen;

    /// A two-node backend whose "contract" answers each input with its
    /// length and each read with `read:<content>`; it stands in for the
    /// simulator's cluster so the socket path is tested on its own.
    struct Lengths {
        seq: u64,
    }

    impl Backend for Lengths {
        fn round(&mut self, inputs: &RoundInputs) -> Result<Ran, String> {
            self.seq += 1;
            let outputs: BTreeMap<Vec<u8>, Vec<Vec<u8>>> = inputs
                .iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| {
                    (
                        hex::decode(k).unwrap(),
                        v.iter()
                            .map(|i| i.len().to_string().into_bytes())
                            .map(|mut b| {
                                b.insert(0, b'n');
                                b
                            })
                            .collect(),
                    )
                })
                .collect();
            let node = NodeRound {
                outputs,
                state_hash: [1; 32],
            };
            Ok(Ran {
                result: RoundResult {
                    ledger: LedgerId {
                        seq_no: self.seq,
                        hash: [self.seq as u8; 32],
                    },
                    timestamp: self.seq,
                    nodes: vec![node.clone(), node],
                    unl: None,
                },
                summary: "all 2 nodes agree, 0 hazards".into(),
            })
        }

        fn read(
            &mut self,
            _node: usize,
            _user: &str,
            content: &[u8],
        ) -> Result<Vec<Vec<u8>>, String> {
            Ok(vec![[b"read:".as_slice(), content].concat()])
        }
    }

    fn next(ws: &mut WebSocket<TcpStream>) -> Value {
        loop {
            match ws.read().unwrap() {
                Message::Binary(b) => return serde_json::from_slice(&b).unwrap(),
                _ => continue,
            }
        }
    }

    fn send(ws: &mut WebSocket<TcpStream>, v: Value) {
        ws.send(Message::binary(v.to_string().into_bytes()))
            .unwrap();
    }

    #[test]
    fn a_client_connects_submits_reads_and_gets_outputs_over_websockets() {
        let hub = Hub::new(HubConfig {
            contract_id: "cid".into(),
            contract_version: "1.0".into(),
            round_time_ms: 50,
            nodes: (0..2).map(KeyPair::node).collect(),
        });
        let lines = Arc::new(Mutex::new(Vec::<String>::new()));
        let sink = Arc::clone(&lines);
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let shared = Shared::new(
            hub,
            Box::new(move |l| sink.lock().unwrap().push(l.to_owned())),
            Arc::clone(&stop),
        );
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let l = listen(Arc::clone(&shared), 1, port).unwrap();
        let driver_shared = Arc::clone(&shared);
        let d = thread::spawn(move || {
            drive(
                &driver_shared,
                &mut Lengths { seq: 0 },
                Duration::from_millis(50),
                &|_| {},
            )
        });

        let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
        let (mut ws, _) = tungstenite::client(format!("ws://127.0.0.1:{port}/"), stream).unwrap();
        let alice = KeyPair::user("alice");
        let ch = next(&mut ws);
        assert_eq!(ch["type"], "user_challenge");
        let c = ch["challenge"].as_str().unwrap();
        send(
            &mut ws,
            serde_json::json!({"type":"user_challenge_response","sig":alice.sign(c.as_bytes()).unwrap(),"pubkey":alice.public_key,"server_challenge":"s","protocol":"json"}),
        );
        assert_eq!(
            next(&mut ws)["pubkey"],
            KeyPair::node(1).public_key.as_str()
        );

        send(&mut ws, serde_json::json!({"type":"lcl"}));
        let lcl = next(&mut ws)["ledger_seq_no"].as_u64().unwrap();
        let container = format!(
            r#"{{"input":"hello","nonce":1,"max_ledger_seq_no":{}}}"#,
            lcl + 10
        );
        send(
            &mut ws,
            serde_json::json!({"type":"contract_input","input_container":container,"sig":alice.sign(container.as_bytes()).unwrap()}),
        );
        send(
            &mut ws,
            serde_json::json!({"type":"contract_read_request","id":"r1","content":"q"}),
        );
        send(&mut ws, serde_json::json!({"type":"nope"}));
        let mut seen = BTreeMap::new();
        while seen.len() < 4 {
            let m = next(&mut ws);
            let key = match m["type"].as_str().unwrap() {
                "contract_input_status" => m["status"].as_str().unwrap().to_owned(),
                t => t.to_owned(),
            };
            seen.insert(key, m);
        }
        assert_eq!(seen["rejected"]["reason"], "invalid_msg_type");
        assert_eq!(seen["contract_read_response"]["content"], "read:q");
        let accepted = seen["accepted"]["ledger_seq_no"].as_u64().unwrap();
        assert_eq!(
            seen["contract_output"]["outputs"],
            serde_json::json!(["n5"])
        );
        assert_eq!(
            seen["contract_output"]["ledger_seq_no"].as_u64(),
            Some(accepted + 1)
        );

        // A client that vanishes mid-message affects nobody else.
        let mut raw = TcpStream::connect(("127.0.0.1", port)).unwrap();
        std::io::Write::write_all(&mut raw, b"GET / HTTP/1.1\r\nHost: x\r\n").unwrap();
        drop(raw);
        send(&mut ws, serde_json::json!({"type":"stat"}));
        assert_eq!(next(&mut ws)["type"], "stat_response");

        stop.store(true, Ordering::Relaxed);
        l.join().unwrap();
        d.join().unwrap();
        assert!(
            lines
                .lock()
                .unwrap()
                .iter()
                .any(|l| l.contains("connected"))
        );
    }
}
