//! [`Map`] and [`Cell`]: typed handles on the round's database. A handle is
//! only a name; every call reads or writes the database directly, inside the
//! round's transaction, so a handler sees its own writes and the next round
//! sees them once the runtime has committed.

use std::marker::PhantomData;

use rusqlite::OptionalExtension;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::key::Key;
use super::session::{self, Session, sql_error, store_error, with_session};
use crate::error::Result;

/// Rows an [`Iter`] fetches per query: bounded memory, whatever the map's size.
const PAGE: usize = 256;

/// The table holding every [`Cell`].
const CELLS: &str = "cells";

/// A map from `K` to `V`, stored in the table `map:<name>`; values as JSON.
/// Iteration is in key order ([`Key`]'s encoding sorts like `K`).
///
/// `const fn new`, so a map can be a `static` or a field of the contract.
pub struct Map<K, V> {
    table: &'static str,
    _types: PhantomData<fn() -> (K, V)>,
}

// By hand: a derive would ask `K: Debug, V: Debug` for what is only a name.
impl<K, V> std::fmt::Debug for Map<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Map").field("table", &self.table).finish()
    }
}

impl<K: Key, V: Serialize + DeserializeOwned> Map<K, V> {
    /// A handle on the map called `name` (ASCII letters, digits, `_`; the
    /// same name is the same map).
    pub const fn new(name: &'static str) -> Self {
        Map {
            table: name,
            _types: PhantomData,
        }
    }

    fn table(&self) -> Result<String> {
        check_name(self.table)?;
        Ok(format!("map:{}", self.table))
    }

    /// The value at `key`, if any.
    pub fn get(&self, key: &K) -> Result<Option<V>> {
        let table = self.table()?;
        with_session(|s| {
            if !session::table_exists(s, &table)? {
                return Ok(None);
            }
            let bytes: Option<Vec<u8>> = s
                .conn()?
                .query_row(
                    &format!("SELECT v FROM \"{table}\" WHERE k = ?1"),
                    [key.encode()],
                    |r| r.get(0),
                )
                .optional()
                .map_err(sql_error)?;
            bytes.map(|b: Vec<u8>| decode_value(&table, &b)).transpose()
        })
    }

    /// Whether `key` has a value.
    pub fn contains_key(&self, key: &K) -> Result<bool> {
        let table = self.table()?;
        with_session(|s| {
            if !session::table_exists(s, &table)? {
                return Ok(false);
            }
            s.conn()?
                .query_row(
                    &format!("SELECT 1 FROM \"{table}\" WHERE k = ?1"),
                    [key.encode()],
                    |_| Ok(()),
                )
                .optional()
                .map(|o| o.is_some())
                .map_err(sql_error)
        })
    }

    /// Sets `key` to `value`.
    pub fn insert(&self, key: &K, value: &V) -> Result<()> {
        let table = self.table()?;
        let bytes = encode_value(&table, value)?;
        with_session(|s| {
            session::ensure_table(s, &table, "k BLOB PRIMARY KEY, v BLOB NOT NULL")?;
            s.conn()?
                .execute(
                    &format!("INSERT OR REPLACE INTO \"{table}\" (k, v) VALUES (?1, ?2)"),
                    (key.encode(), bytes),
                )
                .map_err(sql_error)?;
            Ok(())
        })
    }

    /// Removes `key`; true when it had a value.
    pub fn remove(&self, key: &K) -> Result<bool> {
        let table = self.table()?;
        with_session(|s| {
            refuse_in_read_request(s, &table)?;
            if !session::table_exists(s, &table)? {
                return Ok(false);
            }
            let n = s
                .conn()?
                .execute(
                    &format!("DELETE FROM \"{table}\" WHERE k = ?1"),
                    [key.encode()],
                )
                .map_err(sql_error)?;
            Ok(n > 0)
        })
    }

    /// The number of entries (counts them: linear in the map's size).
    pub fn len(&self) -> Result<u64> {
        let table = self.table()?;
        with_session(|s| {
            if !session::table_exists(s, &table)? {
                return Ok(0);
            }
            let n: i64 = s
                .conn()?
                .query_row(&format!("SELECT count(*) FROM \"{table}\""), [], |r| {
                    r.get(0)
                })
                .map_err(sql_error)?;
            Ok(u64::try_from(n).unwrap_or(0))
        })
    }

    /// Whether the map has no entries.
    pub fn is_empty(&self) -> Result<bool> {
        Ok(self.iter().next().is_none())
    }

    /// Every entry in key order, fetched a page at a time.
    pub fn iter(&self) -> Iter<K, V> {
        Iter::new(self.table(), None)
    }

    /// The entries with keys `>= start`, in key order.
    pub fn iter_from(&self, start: &K) -> Iter<K, V> {
        Iter::new(self.table(), Some((start.encode(), true)))
    }
}

/// An iterator over a [`Map`] in key order; each item is a `Result` (the
/// database is read as it goes).
pub struct Iter<K, V> {
    table: Result<String>,
    /// Where the next page starts, and whether that key itself is included.
    from: Option<(Vec<u8>, bool)>,
    page: std::vec::IntoIter<(Vec<u8>, Vec<u8>)>,
    done: bool,
    _types: PhantomData<fn() -> (K, V)>,
}

impl<K, V> std::fmt::Debug for Iter<K, V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Iter")
            .field("table", &self.table)
            .finish_non_exhaustive()
    }
}

impl<K: Key, V: DeserializeOwned> Iter<K, V> {
    fn new(table: Result<String>, from: Option<(Vec<u8>, bool)>) -> Self {
        Iter {
            table,
            from,
            page: Vec::new().into_iter(),
            done: false,
            _types: PhantomData,
        }
    }

    fn fetch(&mut self) -> Result<()> {
        let table = match &self.table {
            Ok(t) => t.clone(),
            Err(e) => return Err(store_error(e.to_string())),
        };
        let from = self.from.clone();
        let rows = with_session(|s| {
            if !session::table_exists(s, &table)? {
                return Ok(Vec::new());
            }
            let (cond, key) = match &from {
                None => ("", Vec::new()),
                Some((k, true)) => ("WHERE k >= ?1", k.clone()),
                Some((k, false)) => ("WHERE k > ?1", k.clone()),
            };
            let query = format!("SELECT k, v FROM \"{table}\" {cond} ORDER BY k LIMIT {PAGE}");
            let conn = s.conn()?;
            let mut stmt = conn.prepare(&query).map_err(sql_error)?;
            let params: Vec<&dyn rusqlite::ToSql> =
                if from.is_some() { vec![&key] } else { vec![] };
            let rows = stmt
                .query_map(params.as_slice(), |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(sql_error)?;
            rows.collect::<rusqlite::Result<Vec<(Vec<u8>, Vec<u8>)>>>()
                .map_err(sql_error)
        })?;
        if rows.len() < PAGE {
            self.done = true;
        }
        if let Some((last, _)) = rows.last() {
            self.from = Some((last.clone(), false));
        }
        self.page = rows.into_iter();
        Ok(())
    }
}

impl<K: Key, V: DeserializeOwned> Iterator for Iter<K, V> {
    type Item = Result<(K, V)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.page.len() == 0
            && !self.done
            && let Err(e) = self.fetch()
        {
            self.done = true;
            return Some(Err(e));
        }
        let (k, v) = self.page.next()?;
        let table = self.table.as_ref().map(String::as_str).unwrap_or("map");
        let Some(key) = K::decode(&k) else {
            return Some(Err(store_error(format!(
                "`{table}` holds a key that is not of the map's key type"
            ))));
        };
        Some(decode_value(table, &v).map(|v| (key, v)))
    }
}

/// One value of type `T` called `name`; [`get`](Cell::get) gives
/// `T::default()` until it is first set.
pub struct Cell<T> {
    name: &'static str,
    _type: PhantomData<fn() -> T>,
}

impl<T> std::fmt::Debug for Cell<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cell").field("name", &self.name).finish()
    }
}

impl<T: Serialize + DeserializeOwned + Default> Cell<T> {
    /// A handle on the cell called `name` (ASCII letters, digits, `_`).
    pub const fn new(name: &'static str) -> Self {
        Cell {
            name,
            _type: PhantomData,
        }
    }

    /// The value, or `T::default()` if never set.
    pub fn get(&self) -> Result<T> {
        check_name(self.name)?;
        with_session(|s| {
            if !session::table_exists(s, CELLS)? {
                return Ok(T::default());
            }
            let bytes: Option<Vec<u8>> = s
                .conn()?
                .query_row("SELECT v FROM cells WHERE k = ?1", [self.name], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(sql_error)?;
            match bytes {
                Some(b) => decode_value::<T>(self.name, b.as_slice()),
                None => Ok(T::default()),
            }
        })
    }

    /// Sets the value.
    pub fn set(&self, value: &T) -> Result<()> {
        check_name(self.name)?;
        let bytes = encode_value(self.name, value)?;
        with_session(|s| {
            session::ensure_table(s, CELLS, "k TEXT PRIMARY KEY, v BLOB NOT NULL")?;
            s.conn()?
                .execute(
                    "INSERT OR REPLACE INTO cells (k, v) VALUES (?1, ?2)",
                    (self.name, bytes),
                )
                .map_err(sql_error)?;
            Ok(())
        })
    }
}

fn refuse_in_read_request(s: &Session, what: &str) -> Result<()> {
    if s.read_only() {
        Err(store_error(format!(
            "`{what}` cannot be written in a read request (read requests never change state)"
        )))
    } else {
        Ok(())
    }
}

fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(store_error(format!(
            "collection name {name:?} must be 1 to 64 ASCII letters, digits or `_`"
        )))
    }
}

fn encode_value<V: Serialize>(what: &str, value: &V) -> Result<Vec<u8>> {
    serde_json::to_vec(value).map_err(|e| store_error(format!("`{what}`: cannot serialise: {e}")))
}

fn decode_value<V: DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<V> {
    serde_json::from_slice(bytes).map_err(|e| store_error(format!("`{what}`: corrupt value: {e}")))
}
