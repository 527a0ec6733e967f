//! **lottery**: randomness no single node can predict or pick, agreed by
//! every node through commit-reveal over NPL ([`hotpocket::agree`]).
//!
//! Users enter a round's draw with the input `enter`. Every round, each UNL
//! node first **commits** to a secret (sends the SHA-256 of it, topic
//! `commit`) and, once it holds every node's commitment, **reveals** the
//! secret (topic `reveal`). The draw's number is the SHA-256 of all the
//! secrets in UNL order; the winner is the entrant at that number modulo
//! their count (entrants in public-key order, as every node lists them). The
//! result goes to every connected user and into the state (`lottery.json`,
//! the last 10 draws):
//!
//! - `{"Won":{"ledger":3,"number":"9f…","winner":"ed…"}}`, or `"winner":null`
//!   when nobody entered;
//! - `{"Void":{"ledger":3,"cheaters":["ed…"]}}` when a node's reveal does not
//!   hash to its commitment: the draw is void and names the nodes that lied,
//!   which every node holding the reveals sees alike;
//! - `{"Incomplete":{"ledger":3}}` when a commitment or a reveal did not arrive
//!   (it names no one: who was missing differs from node to node).
//!
//! # Why nobody can know or steer the number early
//!
//! A node reveals only once it holds **every** node's commitment, so by the
//! time any secret is public every secret is fixed: no node can pick its
//! secret after seeing another's. Before every commitment is in, no node can
//! compute the number (no secret is out yet); after, a node that holds back
//! its reveal until it has seen the others' learns the number first, but
//! can no longer change it: all it can do is withhold its reveal, which
//! voids the draw (every node records `Incomplete`), not pick the winner. A contract that must
//! not allow even that should punish a missing reveal (its inputs say who
//! committed).
//!
//! Each node's secret is the SHA-256 of its private key, its public key and
//! the round's lcl hash: unpredictable to every other node (they do not hold
//! the key), and the same if the node runs the round again, so a restarted
//! node commits what it committed before. The secret is node-local by
//! design; only the agreed number reaches the state. OS randomness would do
//! as well for secrecy (it enters only through the commitment), but a node
//! re-running the round would then commit something else.
//!
//! Run it on a simulated 3-node cluster, with node 2 starting 100 ms late
//! (the agreement re-sends what it missed; every node draws the same):
//!
//! ```sh
//! cargo run --example lottery -- --dev --nodes 3 --user alice --user bob \
//!     --input alice:enter --input bob:enter --delay-start 2:100
//! ```

use hotpocket::agree::{Agreement, Contribution, Outcome, Rule, Topic};
use hotpocket::prelude::*;
use sha2::{Digest, Sha256};

/// How many draws the state keeps.
const HISTORY: usize = 10;

/// Every UNL node's commitment: the SHA-256 of its secret, as hex.
const COMMIT: Topic = Topic::new("commit", Rule::All);
/// Every UNL node's secret, as hex; sent once [`COMMIT`] is decided.
const REVEAL: Topic = Topic::new("reveal", Rule::All);

/// The contract's state, saved in `lottery.json`; the round's exchange is
/// not saved.
#[derive(Default, Serialize, Deserialize)]
struct Lottery {
    /// The last [`HISTORY`] draws, oldest first.
    draws: Vec<Draw>,
    /// This round's commit-reveal exchange.
    #[serde(skip)]
    agree: Agreement,
    /// This node's secret for the round (node-local).
    #[serde(skip)]
    secret: Option<[u8; 32]>,
    /// This round's entrants' public keys, in the order the inputs came.
    #[serde(skip)]
    entrants: Vec<String>,
}

/// The result of one round's draw.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum Draw {
    /// Every node's secret was revealed and matched its commitment.
    Won {
        /// The lcl sequence number of the round.
        ledger: u64,
        /// The agreed random number: SHA-256 of every secret, as hex.
        number: String,
        /// The winning entrant; `None` when nobody entered.
        winner: Option<String>,
    },
    /// Some node revealed a secret that does not match its commitment.
    Void {
        /// The lcl sequence number of the round.
        ledger: u64,
        /// The nodes whose reveal did not match, in UNL order.
        cheaters: Vec<String>,
    },
    /// A commitment or a reveal did not arrive.
    Incomplete {
        /// The lcl sequence number of the round.
        ledger: u64,
    },
}

/// Lowercase hex of `bytes`.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// This node's secret for the round: a hash keyed by its private key.
fn secret(ctx: &Round, lcl_hash: &str) -> [u8; 32] {
    Sha256::new()
        .chain_update(b"hotpocket-rs lottery secret\0")
        .chain_update(ctx.private_key().expose_hex())
        .chain_update(ctx.public_key())
        .chain_update(lcl_hash)
        .finalize()
        .into()
}

/// Whether `reveal` (hex) is the secret `commit` (hex) was made from.
fn opens(commit: &str, reveal: &str) -> bool {
    let bytes: Option<Vec<u8>> = (0..reveal.len())
        .step_by(2)
        .map(|i| {
            let pair = reveal.get(i..i + 2)?;
            u8::from_str_radix(pair, 16).ok()
        })
        .collect();
    bytes.is_some_and(|b| hex(&Sha256::digest(&b)) == commit)
}

/// The draw from every node's commitment and reveal (both in UNL order,
/// from the same members) and the round's entrants.
fn draw(
    ledger: u64,
    commits: &[Contribution<String>],
    reveals: &[Contribution<String>],
    entrants: &[String],
) -> Draw {
    let cheaters: Vec<String> = commits
        .iter()
        .zip(reveals)
        .filter(|(c, r)| c.node != r.node || !opens(&c.value, &r.value))
        .map(|(c, _)| c.node.clone())
        .collect();
    if !cheaters.is_empty() {
        return Draw::Void { ledger, cheaters };
    }
    let mut h = Sha256::new();
    for r in reveals {
        h.update(r.value.as_bytes());
    }
    let number = h.finalize();
    let mut head = [0u8; 8];
    head.copy_from_slice(number.get(..8).unwrap_or(&[0; 8]));
    let len = entrants.len() as u64;
    let winner = (len > 0)
        .then(|| u64::from_be_bytes(head) % len)
        .and_then(|i| entrants.get(usize::try_from(i).ok()?).cloned());
    Draw::Won {
        ledger,
        number: hex(&number),
        winner,
    }
}

#[hotpocket::contract(state = "lottery.json", npl_timeout_ms = 600)]
impl Lottery {
    #[on_round_start]
    fn commit(&mut self, ctx: &mut Round) -> Result<()> {
        let Some(lcl) = ctx.lcl().cloned() else {
            return Ok(()); // a read request: no NPL, no draw
        };
        let secret = secret(ctx, &lcl.hash);
        self.secret = Some(secret);
        self.agree
            .contribute(ctx, &COMMIT, &hex(&Sha256::digest(secret)))
    }

    #[on_input]
    fn enter(&mut self, _ctx: &mut Round, user: &User, input: &[u8]) -> Result<()> {
        if input.trim_ascii() != b"enter" {
            return user.send_json(&"send `enter` to enter this round's draw");
        }
        if !self.entrants.iter().any(|k| k == user.public_key()) {
            self.entrants.push(user.public_key().to_owned());
        }
        Ok(())
    }

    #[on_npl]
    fn exchange(&mut self, ctx: &mut Round, from: &Node, msg: &[u8]) -> Result<Npl> {
        self.agree.receive(ctx, from, msg)?;
        // Reveal only once every commitment is in: from then on no secret
        // can change, so revealing gives nobody a choice.
        if self.agree.is_decided(ctx, &COMMIT)
            && !self.agree.has_contributed(&REVEAL)
            && let Some(secret) = self.secret
        {
            self.agree.contribute(ctx, &REVEAL, &hex(&secret))?;
        }
        Ok(self.agree.npl())
    }

    #[on_round_end]
    fn decide(&mut self, ctx: &mut Round) -> Result<()> {
        let Some(ledger) = ctx.lcl_seq_no() else {
            return Ok(());
        };
        let commits = self.agree.outcome::<String>(ctx, &COMMIT)?;
        let reveals = self.agree.outcome::<String>(ctx, &REVEAL)?;
        // Entrants in public-key order: the same list on every node.
        self.entrants.sort();
        let result = match (commits, reveals) {
            (Outcome::Decided(c), Outcome::Decided(r)) => draw(ledger, &c, &r, &self.entrants),
            _ => Draw::Incomplete { ledger },
        };
        self.draws.push(result.clone());
        let excess = self.draws.len().saturating_sub(HISTORY);
        self.draws.drain(..excess);
        for user in ctx.users() {
            user.send_json(&result)?;
        }
        Ok(())
    }

    #[on_read_request]
    fn history(&self, _ctx: &mut Round, user: &User, _input: &[u8]) -> Result<()> {
        user.send_json(&self.draws)
    }
}

/// In process (`cargo test --example lottery`), on a [`Cluster`] of nodes
/// under the simulator's delivery rules.
///
/// [`Cluster`]: hotpocket::testing::Cluster
#[cfg(test)]
mod tests {
    use hotpocket::testing::{Cluster, ClusterRound, NplDrop};
    use hotpocket::{Contract, HandlerError, Rng};

    use super::*;

    /// A node of the test cluster: the lottery, and whether it lies in its
    /// reveal (it commits honestly, then reveals another secret).
    #[derive(Default)]
    struct Player {
        lottery: Lottery,
        liar: bool,
    }

    impl Contract for Player {
        const HAS_NPL: bool = true;
        const NPL_TIMEOUT_MS: Option<u64> = Lottery::NPL_TIMEOUT_MS;
        fn load() -> hotpocket::Result<Self> {
            Err(hotpocket::Error::msg("the cluster keeps the values"))
        }
        fn on_round_start(&mut self, r: &mut Round) -> Result<(), HandlerError> {
            self.lottery.on_round_start(r)?;
            if self.liar {
                self.lottery.secret = Some([7; 32]);
            }
            Ok(())
        }
        fn on_input(&mut self, r: &mut Round, u: &User, i: &[u8]) -> Result<(), HandlerError> {
            self.lottery.on_input(r, u, i)
        }
        fn on_npl(&mut self, r: &mut Round, f: &Node, m: &[u8]) -> Result<Npl, HandlerError> {
            self.lottery.on_npl(r, f, m)
        }
        fn on_round_end(&mut self, r: &mut Round) -> Result<(), HandlerError> {
            self.lottery.on_round_end(r)
        }
    }

    /// What every node told `alice`, asserting they told her the same.
    fn agreed(r: &ClusterRound, context: &str) -> Draw {
        let first = r.node(0).outputs("alice");
        for n in &r.nodes {
            assert!(n.problems.is_empty(), "{context}: {:?}", n.problems);
            assert_eq!(n.outputs("alice"), first, "{context}: node {}", n.index);
        }
        assert_eq!(first.len(), 1, "{context}: {first:?}");
        serde_json::from_str(&first[0]).unwrap()
    }

    /// Which topics node `i` sent envelopes for, in order.
    fn topics_sent(r: &ClusterRound, i: usize) -> Vec<String> {
        r.node(i)
            .npl_sent
            .iter()
            .map(|m| {
                let v: serde_json::Value = serde_json::from_slice(m).unwrap();
                v["hp_agree"].as_str().unwrap().to_owned()
            })
            .collect()
    }

    #[test]
    fn honest_nodes_draw_alike_with_late_starters_over_100_seeded_rounds() {
        for n in [3, 5] {
            let mut cluster = Cluster::new(n);
            cluster
                .seed(n as u64)
                .input("alice", "enter")
                .input("bob", "enter");
            let mut nodes: Vec<Lottery> = (0..n).map(|_| Lottery::default()).collect();
            let mut rng = Rng::from_seed_bytes(&[n as u8; 32]);
            let mut numbers = std::collections::BTreeSet::new();
            for round in 0..100 {
                cluster.clear_faults();
                let late = rng.below(n as u64) as usize;
                cluster.start_late(late, rng.below(501));
                let r = cluster.round(&mut nodes);
                let context = format!("{n} nodes, round {round}, node {late} late");
                let Draw::Won { number, winner, .. } = agreed(&r, &context) else {
                    panic!("{context}: no draw");
                };
                assert!(
                    matches!(winner.as_deref(), Some("alice" | "bob")),
                    "{context}"
                );
                assert!(r.nodes.iter().all(|x| !x.timed_out), "{context}: waited");
                numbers.insert(number);
            }
            assert_eq!(numbers.len(), 100, "a fresh number every round");
            assert!(nodes.iter().all(|x| x.draws.len() == HISTORY));
        }
    }

    #[test]
    fn a_liar_voids_the_draw_alike_on_every_node() {
        let mut cluster = Cluster::new(3);
        cluster.seed(3).input("alice", "enter");
        let mut nodes: Vec<Player> = (0..3).map(|_| Player::default()).collect();
        nodes[1].liar = true;
        for round in 0..20 {
            cluster.clear_faults().start_late(round % 3, 150);
            let r = cluster.round(&mut nodes);
            let draw = agreed(&r, &format!("round {round}"));
            let ledger = r.number;
            let cheaters = vec![cluster.keys()[1].clone()];
            assert_eq!(draw, Draw::Void { ledger, cheaters });
        }
    }

    #[test]
    fn no_node_reveals_before_every_commitment_is_in() {
        let mut cluster = Cluster::new(3);
        // Node 2's commitment never reaches nodes 0 and 1.
        cluster.seed(9).input("alice", "enter");
        cluster.drop_npl(NplDrop::from(2).to(0).topic("commit"));
        cluster.drop_npl(NplDrop::from(2).to(1).topic("commit"));
        let mut nodes: Vec<Lottery> = (0..3).map(|_| Lottery::default()).collect();
        let r = cluster.round(&mut nodes);
        for i in [0, 1] {
            assert!(
                topics_sent(&r, i).iter().all(|t| t == "commit"),
                "node {i} revealed without node 2's commitment"
            );
        }
        // Node 2 holds every commitment and reveals, but its secret alone
        // gives nobody the number: every node records the same incomplete draw.
        assert!(topics_sent(&r, 2).contains(&"reveal".to_owned()));
        assert_eq!(agreed(&r, "lost commit"), Draw::Incomplete { ledger: 1 });
    }

    #[test]
    fn a_reveal_lost_for_good_leaves_the_nodes_lacking_it_alike() {
        let mut cluster = Cluster::new(5);
        cluster.seed(5).input("alice", "enter");
        cluster.drop_npl(NplDrop::from(4).to(1).topic("reveal"));
        cluster.drop_npl(NplDrop::from(4).to(3).topic("reveal"));
        let mut nodes: Vec<Lottery> = (0..5).map(|_| Lottery::default()).collect();
        let r = cluster.round(&mut nodes);
        let told = |i: usize| r.node(i).outputs("alice");
        assert_eq!(told(1), told(3));
        assert_eq!(told(1), [r#"{"Incomplete":{"ledger":1}}"#]);
        for i in [0, 2, 4] {
            assert_eq!(told(i), told(0));
            assert!(told(i)[0].starts_with(r#"{"Won""#), "{:?}", told(i));
        }
    }

    #[test]
    fn the_number_is_the_hash_of_every_secret_and_a_bad_reveal_is_a_cheat() {
        let c = |node: &str, value: &str| Contribution {
            node: node.into(),
            value: value.into(),
        };
        let (s0, s1) = (hex(&[1; 32]), hex(&[2; 32]));
        let commits = [
            c("a", &hex(&Sha256::digest([1; 32]))),
            c("b", &hex(&Sha256::digest([2; 32]))),
        ];
        let reveals = [c("a", &s0), c("b", &s1)];
        let number = hex(&Sha256::digest(format!("{s0}{s1}")));
        let entrants = ["x".to_owned(), "y".to_owned()];
        let Draw::Won {
            number: got,
            winner,
            ..
        } = draw(4, &commits, &reveals, &entrants)
        else {
            panic!("no draw");
        };
        assert_eq!(got, number);
        assert!(winner.is_some());
        for bad in ["zz", "0", &s1] {
            let reveals = [c("a", bad), c("b", &s1)];
            let cheaters = vec!["a".to_owned()];
            assert_eq!(
                draw(4, &commits, &reveals, &[]),
                Draw::Void {
                    ledger: 4,
                    cheaters
                }
            );
        }
    }
}
