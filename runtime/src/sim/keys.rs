//! Deterministic ed25519 key pairs for simulated nodes and users.
//!
//! The engine hands contracts `ed`-prefixed hex keys: 66 characters for a
//! public key, 130 for a private key (libsodium's 64-byte secret key, i.e.
//! seed followed by public key). The simulator's keys are real ed25519 key
//! pairs in that form, so a contract can sign with its node's private key and
//! its peers (or a client) can verify with the public key; and they are the
//! same on every run, because the seed is the SHA-256 of a label. They are
//! public knowledge: never use one for anything but the simulator.

use std::collections::BTreeMap;
use std::sync::{Mutex, OnceLock};

use sha2::{Digest, Sha256};

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
        // Derivation is a scalar multiplication; the simulator asks for the
        // same few keys over and over, so each is computed once.
        static CACHE: OnceLock<Mutex<BTreeMap<String, KeyPair>>> = OnceLock::new();
        let cache = CACHE.get_or_init(Default::default);
        let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
        cache
            .entry(label.to_owned())
            .or_insert_with(|| {
                let seed: [u8; 32] = Sha256::digest(format!("hotpocket-sim seed {label}")).into();
                // A SHA-256 output of all zeros is not known to exist.
                let (public_key, private_key) = crate::crypto::keys_from_seed(&seed)
                    .unwrap_or_else(|_| unreachable!("SHA-256 gave the all-zero seed"));
                KeyPair {
                    public_key,
                    private_key,
                }
            })
            .clone()
    }

    /// The key pair of simulated node `index` (0-based).
    pub fn node(index: usize) -> KeyPair {
        Self::derive(&format!("node {index}"))
    }

    /// The key pair of the simulated user called `name`.
    pub fn user(name: &str) -> KeyPair {
        Self::derive(&format!("user {name}"))
    }

    /// Signs `message` with this pair's private key: 128 hex characters, as
    /// a client signs a challenge or an input container. Fails only if
    /// `private_key` was changed by hand into something that is not a key.
    pub fn sign(&self, message: &[u8]) -> Result<String, crate::crypto::CryptoError> {
        crate::crypto::sign(&self.private_key, message)
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

    #[test]
    fn keys_are_real_ed25519_pairs() {
        let alice = KeyPair::user("alice");
        let sig = alice.sign(b"challenge").unwrap();
        assert_eq!(sig.len(), 128);
        assert!(crate::crypto::verify(&alice.public_key, b"challenge", &sig).is_ok());
        let bob = KeyPair::user("bob");
        assert!(crate::crypto::verify(&bob.public_key, b"challenge", &sig).is_err());
    }
}
