//! Map keys as bytes whose order (SQLite's BLOB order: bytewise, then
//! shorter first) is the key type's own `Ord`, so iteration in stored order
//! is iteration in key order.

/// A type usable as a [`Map`](super::Map) key: encodes to bytes that sort
/// like the values do.
pub trait Key: Sized {
    /// The order-preserving encoding.
    fn encode(&self) -> Vec<u8>;
    /// The inverse of [`encode`](Key::encode); `None` for bytes that no key
    /// encodes to (a database edited by something else).
    fn decode(bytes: &[u8]) -> Option<Self>;
}

impl Key for String {
    fn encode(&self) -> Vec<u8> {
        self.as_bytes().to_vec()
    }
    fn decode(bytes: &[u8]) -> Option<Self> {
        String::from_utf8(bytes.to_vec()).ok()
    }
}

impl Key for Vec<u8> {
    fn encode(&self) -> Vec<u8> {
        self.clone()
    }
    fn decode(bytes: &[u8]) -> Option<Self> {
        Some(bytes.to_vec())
    }
}

macro_rules! unsigned_key {
    ($($t:ty),*) => {$(
        impl Key for $t {
            fn encode(&self) -> Vec<u8> {
                self.to_be_bytes().to_vec()
            }
            fn decode(bytes: &[u8]) -> Option<Self> {
                Some(<$t>::from_be_bytes(bytes.try_into().ok()?))
            }
        }
    )*};
}

macro_rules! signed_key {
    ($($t:ty => $u:ty),*) => {$(
        impl Key for $t {
            // Flipping the sign bit makes two's complement sort bytewise.
            fn encode(&self) -> Vec<u8> {
                ((*self as $u) ^ (1 << (<$u>::BITS - 1))).to_be_bytes().to_vec()
            }
            fn decode(bytes: &[u8]) -> Option<Self> {
                let u = <$u>::from_be_bytes(bytes.try_into().ok()?);
                Some((u ^ (1 << (<$u>::BITS - 1))) as $t)
            }
        }
    )*};
}

unsigned_key!(u8, u16, u32, u64, u128);
signed_key!(i8 => u8, i16 => u16, i32 => u32, i64 => u64, i128 => u128);

#[cfg(test)]
mod tests {
    use super::*;

    fn sorts_like<K: Key + Ord + Clone + std::fmt::Debug>(mut keys: Vec<K>) {
        let mut by_bytes = keys.clone();
        by_bytes.sort_by_key(Key::encode);
        keys.sort();
        assert_eq!(by_bytes, keys);
        for k in keys {
            assert_eq!(K::decode(&k.encode()).as_ref(), Some(&k));
        }
    }

    #[test]
    fn encodings_sort_like_the_keys() {
        sorts_like(vec![i64::MIN, -300, -1, 0, 1, 255, 256, i64::MAX]);
        sorts_like(vec![0u32, 1, 255, 256, u32::MAX]);
        sorts_like(vec![i8::MIN, -1, 0, i8::MAX]);
        sorts_like(vec![
            String::new(),
            "a".to_owned(),
            "ab".to_owned(),
            "b".to_owned(),
            "é".to_owned(),
        ]);
        sorts_like(vec![vec![], vec![0u8], vec![0, 0], vec![1]]);
    }

    #[test]
    fn foreign_bytes_are_not_keys() {
        assert_eq!(u64::decode(&[1, 2]), None);
        assert_eq!(String::decode(&[0xff]), None);
    }
}
