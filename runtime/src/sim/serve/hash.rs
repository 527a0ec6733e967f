//! The engine's output hashes: per-user output hash, the merkle hash tree
//! over all users' hashes and the state hash, and its collapsed form for one
//! user.
//!
//! hpcore hashes with BLAKE3-256 (`crypto.cpp get_hash`, `get_list_hash`:
//! one hasher fed every item in turn; an empty list hashes to 32 zero
//! bytes). The tree (`util/merkle_hash_tree.cpp`, block size 16 from
//! `consensus_context`) groups a level into consecutive blocks of 16; a block
//! of several children hashes their concatenation, a block of one *is* that
//! child. Every UNL node signs the root's 32 bytes; a client rebuilds the
//! root from its own output hash and the collapsed tree.

/// A 32-byte BLAKE3 hash.
pub(crate) type Hash = [u8; 32];

/// Children per tree block, as hpcore's `user_outputs_hashtree(16)`.
const BLOCK: usize = 16;

/// hpcore's `get_list_hash`: BLAKE3 over the concatenation, or 32 zero bytes
/// for an empty list.
pub(crate) fn list_hash<T: AsRef<[u8]>>(items: &[T]) -> Hash {
    if items.is_empty() {
        return [0; 32];
    }
    let mut h = blake3::Hasher::new();
    for item in items {
        h.update(item.as_ref());
    }
    *h.finalize().as_bytes()
}

/// BLAKE3 of one byte string (hpcore's `get_hash`): the input hash is this
/// over the input's signature bytes.
pub(crate) fn hash(data: &[u8]) -> Hash {
    *blake3::hash(data).as_bytes()
}

/// A user's output hash: BLAKE3(public key with its prefix byte ‖ each
/// output's bytes), with no lengths in between.
pub(crate) fn output_hash(user_pubkey: &[u8], outputs: &[Vec<u8>]) -> Hash {
    let mut h = blake3::Hasher::new();
    h.update(user_pubkey);
    for o in outputs {
        h.update(o);
    }
    *h.finalize().as_bytes()
}

/// A node of the merkle tree.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Node {
    hash: Hash,
    children: Vec<Node>,
}

/// A collapsed tree as a client receives it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Collapsed {
    /// The user's own leaf (`null` on the wire).
    Own,
    /// A subtree off the user's path, as its hash.
    Hash(Hash),
    /// A node on the user's path, with its children.
    Branch(Vec<Collapsed>),
}

/// The round's output tree: leaves are the output hashes of every user with
/// outputs in ascending byte order, then the post-execution state hash.
#[derive(Clone, Debug)]
pub(crate) struct OutputTree {
    root: Node,
}

impl OutputTree {
    /// Builds the tree as hpcore does after a contract execution.
    pub(crate) fn new(user_hashes: &[Hash], state_hash: Hash) -> OutputTree {
        let mut leaves: Vec<Hash> = user_hashes.to_vec();
        leaves.sort_unstable();
        leaves.push(state_hash);
        let mut level: Vec<Node> = leaves
            .into_iter()
            .map(|hash| Node {
                hash,
                children: Vec::new(),
            })
            .collect();
        while level.len() > 1 {
            level = group(level);
        }
        let root = level.pop().unwrap_or(Node {
            hash: [0; 32],
            children: Vec::new(),
        });
        OutputTree { root }
    }

    /// The root hash every UNL node signs.
    pub(crate) fn root(&self) -> Hash {
        self.root.hash
    }

    /// The tree collapsed for the user whose output hash is `own`: the path
    /// to that leaf kept, every other subtree a bare hash (hpcore `collapse`).
    pub(crate) fn collapse(&self, own: &Hash) -> Collapsed {
        collapse(&self.root, Some(own)).0
    }
}

/// One level up: blocks of [`BLOCK`]; a single-child block is promoted.
fn group(level: Vec<Node>) -> Vec<Node> {
    let mut parents = Vec::with_capacity(level.len().div_ceil(BLOCK));
    let mut rest = level.into_iter().peekable();
    while rest.peek().is_some() {
        let mut block: Vec<Node> = rest.by_ref().take(BLOCK).collect();
        if block.len() == 1 {
            parents.extend(block.pop());
        } else {
            let hashes: Vec<Hash> = block.iter().map(|c| c.hash).collect();
            parents.push(Node {
                hash: list_hash(&hashes),
                children: block,
            });
        }
    }
    parents
}

/// hpcore's `retain_node`: returns the collapsed node and whether it holds
/// (or, once the retained leaf was found, stands beside) the path. `None`
/// means the retained leaf was already found elsewhere.
fn collapse(node: &Node, retain: Option<&Hash>) -> (Collapsed, bool) {
    match retain {
        None => (Collapsed::Hash(node.hash), true),
        Some(own) if node.hash == *own => (Collapsed::Own, true),
        Some(_) if node.children.is_empty() => (Collapsed::Hash(node.hash), false),
        Some(own) => {
            let mut found = false;
            let mut kids = Vec::with_capacity(node.children.len());
            for child in &node.children {
                let (c, hit) = collapse(child, if found { None } else { Some(own) });
                found |= hit;
                kids.push(c);
            }
            if found {
                (Collapsed::Branch(kids), true)
            } else {
                (Collapsed::Hash(node.hash), false)
            }
        }
    }
}

/// What a client computes from a collapsed tree and its own output hash
/// (js `getMerkleHash`); for tests and the simulator's own check.
#[cfg(test)]
pub(crate) fn client_root(tree: &Collapsed, own: &Hash) -> Hash {
    match tree {
        Collapsed::Own => *own,
        Collapsed::Hash(h) => *h,
        Collapsed::Branch(kids) => {
            let hashes: Vec<Hash> = kids.iter().map(|k| client_root(k, own)).collect();
            list_hash(&hashes)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(i: u8) -> Hash {
        hash(&[i])
    }

    #[test]
    fn list_hash_is_one_stream_and_zero_for_nothing() {
        assert_eq!(list_hash::<&[u8]>(&[]), [0; 32]);
        assert_eq!(list_hash(&[b"ab".as_slice(), b"c"]), hash(b"abc"));
        // BLAKE3's published vector for the empty input.
        assert_eq!(
            hex::encode(hash(b"")),
            "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"
        );
    }

    #[test]
    fn one_user_gets_null_and_the_state_hash() {
        let (own, state) = (h(1), h(2));
        let t = OutputTree::new(&[own], state);
        assert_eq!(t.root(), list_hash(&[own, state]));
        assert_eq!(
            t.collapse(&own),
            Collapsed::Branch(vec![Collapsed::Own, Collapsed::Hash(state)])
        );
    }

    #[test]
    fn twenty_one_users_make_two_blocks_and_every_user_rebuilds_the_root() {
        let users: Vec<Hash> = (0..21).map(h).collect();
        let state = h(200);
        let t = OutputTree::new(&users, state);
        let mut sorted = users.clone();
        sorted.sort_unstable();
        let first = list_hash(&sorted[..16]);
        let mut second: Vec<Hash> = sorted[16..].to_vec();
        second.push(state);
        assert_eq!(t.root(), list_hash(&[first, list_hash(&second)]));
        for u in &users {
            let c = t.collapse(u);
            assert_eq!(client_root(&c, u), t.root());
            let Collapsed::Branch(top) = &c else {
                panic!("{c:?}")
            };
            assert_eq!(top.len(), 2);
            // The block off the user's path is one bare hash.
            let mine = sorted.iter().position(|x| x == u).unwrap() < 16;
            let other = if mine { &top[1] } else { &top[0] };
            assert!(matches!(other, Collapsed::Hash(_)), "{c:?}");
        }
    }

    #[test]
    fn a_single_child_block_is_promoted() {
        // 16 users + the state hash: blocks of 16 and 1; the lone state hash
        // is promoted as is, not hashed again.
        let users: Vec<Hash> = (0..16).map(h).collect();
        let state = h(99);
        let mut sorted = users.clone();
        sorted.sort_unstable();
        let t = OutputTree::new(&users, state);
        assert_eq!(t.root(), list_hash(&[list_hash(&sorted), state]));
    }

    #[test]
    fn output_hash_prefixes_the_key_and_concatenates() {
        let pk = [0xed_u8; 33];
        let outs = vec![b"ab".to_vec(), b"c".to_vec()];
        let mut joined = pk.to_vec();
        joined.extend_from_slice(b"abc");
        assert_eq!(output_hash(&pk, &outs), hash(&joined));
    }
}
