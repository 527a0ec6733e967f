//! Deterministic pseudo key pairs for simulated nodes and users.
//!
//! The engine hands contracts `ed`-prefixed hex keys: 66 characters for a
//! public key, 130 for a private key (libsodium's 64-byte secret key, i.e.
//! seed followed by public key). The simulator needs the same *shapes* and,
//! above all, the same keys on every run, so reports and state hashes are
//! reproducible. The keys are derived by hashing a label; they are not real
//! ed25519 keys and sign nothing.

use super::sha256::{digest, hex};

/// A public/private key pair in the engine's hex text form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyPair {
    /// `ed` + 64 lowercase hex characters.
    pub public_key: String,
    /// `ed` + 128 lowercase hex characters (32-byte seed, then the public key bytes).
    pub private_key: String,
}

impl KeyPair {
    /// Derives a key pair from a label, e.g. `node 0` or `user alice`.
    pub fn derive(label: &str) -> KeyPair {
        let seed = digest(format!("hotpocket-sim seed {label}").as_bytes());
        let public = digest(&seed);
        let mut private = seed.to_vec();
        private.extend_from_slice(&public);
        KeyPair {
            public_key: format!("ed{}", hex(&public)),
            private_key: format!("ed{}", hex(&private)),
        }
    }

    /// The key pair of simulated node `index` (0-based).
    pub fn node(index: usize) -> KeyPair {
        Self::derive(&format!("node {index}"))
    }

    /// The key pair of the simulated user called `name`.
    pub fn user(name: &str) -> KeyPair {
        Self::derive(&format!("user {name}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_and_stability() {
        let k = KeyPair::node(0);
        assert_eq!(k.public_key.len(), 66);
        assert_eq!(k.private_key.len(), 130);
        assert!(k.public_key.starts_with("ed") && k.private_key.starts_with("ed"));
        assert!(k.private_key.ends_with(&k.public_key[2..]));
        assert_eq!(k, KeyPair::node(0));
        assert_ne!(KeyPair::node(1).public_key, k.public_key);
        assert_ne!(
            KeyPair::user("alice").public_key,
            KeyPair::user("bob").public_key
        );
    }
}
