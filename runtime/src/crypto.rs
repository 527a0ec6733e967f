//! ed25519 signatures with keys in the engine's text form (feature `crypto`).
//!
//! The engine hands a contract its node's keys as `ed`-prefixed hex: a public
//! key is `ed` + 64 hex characters (the 32-byte ed25519 key), a private key is
//! `ed` + 128 hex characters (libsodium's 64-byte secret key: the seed, then
//! the public key). hpcore signs and verifies with libsodium's detached
//! ed25519 functions and skips the prefix byte unchecked; this module does the
//! same, so a signature made here verifies on a real node and the other way
//! round. Signatures are 128 lowercase hex characters (64 bytes, no prefix).
//!
//! Off by default: deployed contracts that never sign carry none of it.
//!
//! ```
//! # #[cfg(feature = "sim")] {
//! use hotpocket::crypto;
//! let keys = hotpocket::sim::KeyPair::node(0);
//! let sig = crypto::sign(&keys.private_key, b"round 7").unwrap();
//! assert!(crypto::verify(&keys.public_key, b"round 7", &sig).is_ok());
//! assert!(crypto::verify(&keys.public_key, b"round 8", &sig).is_err());
//! # }
//! ```

use std::fmt;

use ed25519_compact::{Error as Ed25519Error, KeyPair, PublicKey, Seed, Signature};

/// What was wrong with a key or a signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CryptoError {
    /// The key is not `ed`/any one-byte prefix + the right number of hex
    /// characters, or its halves do not belong together; says which key.
    BadKey(String),
    /// The signature is not 128 hex characters.
    BadSignature(String),
    /// Well-formed, but the signature does not verify for this key and message.
    Mismatch,
}

impl fmt::Display for CryptoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CryptoError::BadKey(why) => write!(f, "bad key: {why}"),
            CryptoError::BadSignature(why) => write!(f, "bad signature: {why}"),
            CryptoError::Mismatch => f.write_str("signature does not verify"),
        }
    }
}

impl std::error::Error for CryptoError {}

/// Signs `message` with a private key in the engine's form (`ed` + 128 hex);
/// returns the signature as 128 lowercase hex characters.
pub fn sign(private_key: &str, message: &[u8]) -> Result<String, CryptoError> {
    Ok(hex::encode(sign_bytes(private_key, message)?))
}

/// Signs `message` with raw key bytes; for callers that already hold them.
pub fn sign_bytes(private_key: &str, message: &[u8]) -> Result<[u8; 64], CryptoError> {
    // No noise: deterministic RFC 8032 signatures, as libsodium makes.
    Ok(*key_pair(private_key)?.sk.sign(message, None))
}

/// Verifies a hex signature over `message` with a public key in the engine's
/// form (`ed` + 64 hex). The prefix byte is not checked, as hpcore does not.
pub fn verify(public_key: &str, message: &[u8], signature: &str) -> Result<(), CryptoError> {
    let sig: [u8; 64] = decode_fixed(signature, "signature")
        .map_err(|why| CryptoError::BadSignature(why.to_string()))?;
    verify_bytes(&public_key_bytes(public_key)?, message, &sig)
}

/// Verifies a raw 64-byte signature with a raw 32-byte public key.
pub fn verify_bytes(
    public_key: &[u8; 32],
    message: &[u8],
    signature: &[u8; 64],
) -> Result<(), CryptoError> {
    // The checks are libsodium's (same author): small-order keys and R,
    // non-canonical S and point encodings are refused.
    let key = PublicKey::new(*public_key);
    match key.verify(message, &Signature::new(*signature)) {
        Ok(()) => Ok(()),
        Err(Ed25519Error::InvalidPublicKey) => {
            Err(CryptoError::BadKey("not a point on the curve".into()))
        }
        Err(_) => Err(CryptoError::Mismatch),
    }
}

/// The 32 key bytes of a public key in the engine's form, prefix skipped.
pub fn public_key_bytes(public_key: &str) -> Result<[u8; 32], CryptoError> {
    let body = public_key
        .get(2..)
        .ok_or_else(|| CryptoError::BadKey(format!("public key {public_key:?} is too short")))?;
    decode_fixed(body, "public key").map_err(|why| CryptoError::BadKey(why.to_string()))
}

/// Derives the engine-form key pair (public, private) of a 32-byte seed.
/// An all-zero seed is refused (it is no secret).
pub fn keys_from_seed(seed: &[u8; 32]) -> Result<(String, String), CryptoError> {
    let keys = KeyPair::try_from_seed(Seed::new(*seed))
        .map_err(|_| CryptoError::BadKey("the seed is all zeros".into()))?;
    Ok((
        format!("ed{}", hex::encode(*keys.pk)),
        format!("ed{}", hex::encode(*keys.sk)),
    ))
}

fn key_pair(private_key: &str) -> Result<KeyPair, CryptoError> {
    let body = private_key
        .get(2..)
        .ok_or_else(|| CryptoError::BadKey("private key is too short".into()))?;
    let bytes: [u8; 64] =
        decode_fixed(body, "private key").map_err(|why| CryptoError::BadKey(why.to_string()))?;
    let keys = KeyPair::from_slice(&bytes)
        .map_err(|_| CryptoError::BadKey("private key has the wrong length".into()))?;
    keys.validate().map_err(|_| {
        CryptoError::BadKey("private key's public half does not match its seed".into())
    })?;
    Ok(keys)
}

fn decode_fixed<const N: usize>(text: &str, what: &str) -> Result<[u8; N], String> {
    let bytes = hex::decode(text).map_err(|e| format!("{what} is not hex ({e})"))?;
    let len = bytes.len();
    bytes
        .try_into()
        .map_err(|_| format!("{what} has {len} bytes, expected {N}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 8032 §7.1, test 2: secret key, public key, message 0x72, signature.
    const SEED: &str = "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb";
    const PK: &str = "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c";
    const SIG: &str = "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da\
                       085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00";

    #[test]
    fn rfc8032_vector_in_engine_form() {
        let seed: [u8; 32] = decode_fixed(SEED, "seed").unwrap();
        let (public, private) = keys_from_seed(&seed).unwrap();
        assert_eq!(public, format!("ed{PK}"));
        assert_eq!(private, format!("ed{SEED}{PK}"));
        assert_eq!(sign(&private, &[0x72]).unwrap(), SIG);
        assert_eq!(verify(&public, &[0x72], SIG), Ok(()));
        assert_eq!(verify(&public, &[0x73], SIG), Err(CryptoError::Mismatch));
    }

    #[test]
    fn prefix_byte_is_not_checked_like_hpcore() {
        assert_eq!(verify(&format!("01{PK}"), &[0x72], SIG), Ok(()));
    }

    #[test]
    fn malformed_keys_and_signatures_are_named() {
        assert!(
            matches!(verify("ed12", b"", SIG), Err(CryptoError::BadKey(w)) if w.contains("1 bytes"))
        );
        assert!(
            matches!(verify(&format!("ed{PK}"), b"", "zz"), Err(CryptoError::BadSignature(w)) if w.contains("not hex"))
        );
        let wrong_half = format!("ed{SEED}{}", "00".repeat(32));
        assert!(
            matches!(sign(&wrong_half, b""), Err(CryptoError::BadKey(w)) if w.contains("does not match"))
        );
        assert!(matches!(sign("e", b""), Err(CryptoError::BadKey(_))));
        assert!(keys_from_seed(&[0; 32]).is_err());
        // The identity point has small order: libsodium refuses it as a key.
        let identity = format!("ed01{}", "00".repeat(31));
        assert!(verify(&identity, b"", SIG).is_err());
    }
}
