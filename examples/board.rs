//! **board**: a message board on SQL, the example of `hotpocket::store::sql`.
//! Posts live in an SQLite table of the store's database (`state.sqlite`);
//! SQL's clock and randomness are the round's, so `CURRENT_TIMESTAMP` and
//! `random()` give the same values on every node.
//!
//! | input | effect | reply |
//! |---|---|---|
//! | `{"post":"text"}` | adds a post, stamped with the round's time | `{"posted":{"id":1,"at":"2026-…"}}` |
//! | `"latest"` | nothing (also as a read request) | `{"latest":[{"id":…,"author":"ed…","text":"…","at":"…"}]}` (newest first, at most 5) |
//! | `"draw"` | draws one post at random (`ORDER BY random()`), the same on every node | `{"drawn":{"id":…,"author":"ed…"}}` |
//!
//! Errors: `{"error":{"kind":"bad_command","reason":…}}`, `{"error":{"kind":"empty_post"}}`,
//! `{"error":{"kind":"no_posts"}}`, `{"error":{"kind":"read_only"}}` (a read
//! request that is not `"latest"`).
//!
//! ```sh
//! cargo run --example board -- --dev --nodes 3 --input alice:'{"post":"hello"}' \
//!     --input bob:'{"post":"hi"}' --input bob:'"draw"' --read alice:'"latest"'
//! ```

use hotpocket::prelude::*;
use hotpocket::store::rusqlite::{self, Connection, OptionalExtension};
use hotpocket::store::sql;

/// What users send.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum Command {
    Post(String),
    Latest,
    Draw,
}

/// One post as shown to users.
#[derive(Serialize)]
struct Post {
    id: i64,
    author: String,
    text: String,
    at: String,
}

/// What users get back: one reply per input.
#[derive(Serialize)]
#[serde(rename_all = "snake_case")]
enum Reply {
    Posted { id: i64, at: String },
    Latest(Vec<Post>),
    Drawn { id: i64, author: String },
    Error(BoardError),
}

/// Why a command was refused.
#[derive(Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum BoardError {
    BadCommand { reason: String },
    EmptyPost,
    NoPosts,
    ReadOnly,
}

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS posts (
    id INTEGER PRIMARY KEY,
    author TEXT NOT NULL,
    text TEXT NOT NULL,
    at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
)";

fn has_posts_table(c: &Connection) -> rusqlite::Result<bool> {
    c.query_row(
        "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'posts'",
        [],
        |r| r.get::<_, i64>(0).map(|n| n > 0),
    )
}

fn post(c: &Connection, author: &str, text: &str) -> rusqlite::Result<Reply> {
    c.execute_batch(SCHEMA)?;
    c.query_row(
        "INSERT INTO posts (author, text) VALUES (?1, ?2) RETURNING id, at",
        [author, text],
        |r| {
            Ok(Reply::Posted {
                id: r.get(0)?,
                at: r.get(1)?,
            })
        },
    )
}

fn latest(c: &Connection) -> rusqlite::Result<Reply> {
    if !has_posts_table(c)? {
        return Ok(Reply::Latest(Vec::new()));
    }
    let mut stmt = c.prepare("SELECT id, author, text, at FROM posts ORDER BY id DESC LIMIT 5")?;
    let posts = stmt
        .query_map([], |r| {
            Ok(Post {
                id: r.get(0)?,
                author: r.get(1)?,
                text: r.get(2)?,
                at: r.get(3)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<Post>>>()?;
    Ok(Reply::Latest(posts))
}

fn draw(c: &Connection) -> rusqlite::Result<Reply> {
    if !has_posts_table(c)? {
        return Ok(Reply::Error(BoardError::NoPosts));
    }
    let drawn = c
        .query_row(
            "SELECT id, author FROM posts ORDER BY random() LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    Ok(match drawn {
        Some((id, author)) => Reply::Drawn { id, author },
        None => Reply::Error(BoardError::NoPosts),
    })
}

fn parse(input: &[u8]) -> Result<Command, BoardError> {
    serde_json::from_slice(input).map_err(|e| BoardError::BadCommand {
        reason: e.to_string(),
    })
}

/// The contract has no fields: its state is the database.
#[derive(Default)]
struct Board;

#[hotpocket::contract(store)]
impl Board {
    #[on_input]
    fn command(&mut self, _ctx: &mut Round, user: &User, input: &[u8]) -> Result<()> {
        let reply = match parse(input) {
            Ok(Command::Post(text)) if text.trim().is_empty() => {
                Reply::Error(BoardError::EmptyPost)
            }
            Ok(Command::Post(text)) => sql(|c| post(c, user.public_key(), &text))?,
            Ok(Command::Latest) => sql(latest)?,
            Ok(Command::Draw) => sql(draw)?,
            Err(e) => Reply::Error(e),
        };
        user.send_json(&reply)
    }

    #[on_read_request]
    fn query(&self, _ctx: &mut Round, user: &User, input: &[u8]) -> Result<()> {
        let reply = match parse(input) {
            Ok(Command::Latest) => sql(latest)?,
            Ok(_) => Reply::Error(BoardError::ReadOnly),
            Err(e) => Reply::Error(e),
        };
        user.send_json(&reply)
    }
}
