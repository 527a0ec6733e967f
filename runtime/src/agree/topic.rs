//! What a topic is (a name and the rule that decides it) and what deciding
//! it yields. The rule is a pure function of the UNL and the set of
//! contributions received: arrival order and time never enter it.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde_json::Value;

use crate::round::Node;

/// Which UNL nodes' contributions decide a topic. The members are fixed by
/// the rule and the UNL alone, never by who happened to arrive first, so two
/// nodes holding the members' contributions decide the same thing whatever
/// else each of them received.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Rule {
    /// Every UNL node, this one included.
    All,
    /// The first `k` UNL nodes in UNL order (ascending public key). `k` is
    /// clamped to `1..=` the UNL's size. The other nodes' contributions are
    /// kept out of the decision, so their loss changes nothing.
    First(usize),
    /// The first `ceil(n * percent / 100)` UNL nodes in UNL order, of `n`
    /// (at least one, at most all): [`Rule::First`] sized to a share of the UNL.
    Percent(u8),
}

impl Rule {
    /// How many leading UNL nodes the rule takes, of a UNL of `n`.
    pub(crate) fn member_count(self, n: usize) -> usize {
        let k = match self {
            Rule::All => n,
            Rule::First(k) => k,
            Rule::Percent(p) => (n.saturating_mul(usize::from(p))).div_ceil(100),
        };
        k.clamp(1, n.max(1)).min(n)
    }

    /// The UNL nodes whose contributions decide a topic under this rule.
    pub fn members(self, unl: &[Node]) -> &[Node] {
        unl.get(..self.member_count(unl.len())).unwrap_or(unl)
    }
}

/// A named topic and the rule that decides it. Every node must use the same
/// name and rule for a topic (the same contract code does); a `const` keeps
/// them in one place:
///
/// ```
/// use hotpocket::agree::{Rule, Topic};
/// const PRICE: Topic = Topic::new("price", Rule::All);
/// const LEADER: Topic = Topic::new("leader", Rule::First(3));
/// let round_topic = Topic::named(format!("batch-{}", 7), Rule::Percent(80));
/// # let _ = (PRICE, LEADER, round_topic);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Topic {
    name: Cow<'static, str>,
    rule: Rule,
}

impl Topic {
    /// A topic with a fixed name (usable in a `const`).
    pub const fn new(name: &'static str, rule: Rule) -> Topic {
        Topic {
            name: Cow::Borrowed(name),
            rule,
        }
    }

    /// A topic whose name is computed at run time.
    pub fn named(name: impl Into<String>, rule: Rule) -> Topic {
        Topic {
            name: Cow::Owned(name.into()),
            rule,
        }
    }

    /// The topic's name, as it travels in the envelope.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The rule that decides the topic.
    pub fn rule(&self) -> Rule {
        self.rule
    }
}

/// One UNL node's contribution to a decided topic.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Contribution<T> {
    /// The contributing node's public key.
    pub node: String,
    /// What it contributed.
    pub value: T,
}

/// How a topic ended on this node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome<T> {
    /// Every member the rule names contributed: their contributions, in UNL
    /// order. The same on every node that holds them.
    Decided(Vec<Contribution<T>>),
    /// Some member's contribution did not arrive. Deliberately carries
    /// nothing else (not who was missing, which differs from node to node),
    /// so every node short of the rule records the same thing.
    Undecided,
}

impl<T> Outcome<T> {
    /// The members' values in UNL order, if decided.
    pub fn values(&self) -> Option<Vec<&T>> {
        match self {
            Outcome::Decided(c) => Some(c.iter().map(|c| &c.value).collect()),
            Outcome::Undecided => None,
        }
    }

    /// True when the topic was decided.
    pub fn is_decided(&self) -> bool {
        matches!(self, Outcome::Decided(_))
    }
}

/// Whether `got` (contributions by sender key) holds every member's.
pub(crate) fn is_decided(rule: Rule, unl: &[Node], got: &BTreeMap<String, Value>) -> bool {
    !unl.is_empty()
        && rule
            .members(unl)
            .iter()
            .all(|n| got.contains_key(n.public_key()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unl(n: usize) -> Vec<Node> {
        (0..n)
            .map(|i| Node::new(format!("ed{i:02}"), 0, None, i == 0, true))
            .collect()
    }

    #[test]
    fn members_are_a_prefix_of_the_unl_sized_by_the_rule() {
        let keys = |rule: Rule, n: usize| -> Vec<String> {
            rule.members(&unl(n))
                .iter()
                .map(|n| n.public_key().to_owned())
                .collect()
        };
        assert_eq!(keys(Rule::All, 3), ["ed00", "ed01", "ed02"]);
        assert_eq!(keys(Rule::First(2), 3), ["ed00", "ed01"]);
        assert_eq!(keys(Rule::First(0), 3), ["ed00"], "at least one");
        assert_eq!(keys(Rule::First(9), 3).len(), 3, "at most all");
        assert_eq!(keys(Rule::Percent(80), 5).len(), 4);
        assert_eq!(keys(Rule::Percent(80), 7).len(), 6, "ceil(5.6)");
        assert_eq!(keys(Rule::Percent(0), 4).len(), 1);
        assert_eq!(keys(Rule::Percent(255), 4).len(), 4);
        assert!(keys(Rule::All, 0).is_empty());
    }

    #[test]
    fn decided_needs_exactly_the_members() {
        let unl = unl(3);
        let mut got = BTreeMap::new();
        got.insert("ed02".to_owned(), Value::Null);
        got.insert("ed01".to_owned(), Value::Null);
        assert!(!is_decided(Rule::First(2), &unl, &got), "ed00 is a member");
        got.insert("ed00".to_owned(), Value::Null);
        assert!(is_decided(Rule::First(2), &unl, &got));
        got.remove("ed02");
        assert!(is_decided(Rule::First(2), &unl, &got), "ed02 is not");
        assert!(!is_decided(Rule::All, &unl, &got));
        assert!(!is_decided(Rule::All, &[], &got), "no UNL decides nothing");
    }
}
