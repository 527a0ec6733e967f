//! Input extractors: how an input's bytes become a handler's argument.
//!
//! An `#[on_input]` or `#[on_read_request]` handler names the type it wants as
//! its last argument; the macro calls [`FromInput::from_input`] for that type.
//! Implement the trait for your own types (a bincode or protobuf wrapper, a
//! command parser) and use them like the built-in ones.

use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// Builds a handler argument from one input's bytes.
///
/// Built in: `&[u8]`, `Vec<u8>`, `&str` and `String` (UTF-8 checked), and
/// [`Json<T>`] for any `T: DeserializeOwned`. An error here is reported with
/// the user and input index, and the round goes on with the next input.
///
/// ```
/// use hotpocket::{Error, FromInput};
///
/// /// A command line such as `add 5`.
/// struct Words(Vec<String>);
///
/// impl<'a> FromInput<'a> for Words {
///     fn from_input(input: &'a [u8]) -> Result<Self, Error> {
///         let text = <&str>::from_input(input)?;
///         Ok(Words(text.split_whitespace().map(str::to_owned).collect()))
///     }
/// }
///
/// let Words(w) = Words::from_input(b"add 5").unwrap();
/// assert_eq!(w, ["add", "5"]);
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be used as a contract input",
    label = "not an input extractor",
    note = "an input argument must be one of `&[u8]`, `Vec<u8>`, `&str`, `String` or `Json<T>` (T: serde::de::DeserializeOwned, an owned type), `Result<E, Rejection>` with `E` one of those (to answer a refused input yourself), or a type implementing `hotpocket::FromInput`"
)]
pub trait FromInput<'a>: Sized {
    /// Converts the input's bytes, or says why they are not acceptable.
    fn from_input(input: &'a [u8]) -> Result<Self>;
}

impl<'a> FromInput<'a> for &'a [u8] {
    fn from_input(input: &'a [u8]) -> Result<Self> {
        Ok(input)
    }
}

impl FromInput<'_> for Vec<u8> {
    fn from_input(input: &[u8]) -> Result<Self> {
        Ok(input.to_vec())
    }
}

impl<'a> FromInput<'a> for &'a str {
    fn from_input(input: &'a [u8]) -> Result<Self> {
        std::str::from_utf8(input).map_err(|e| {
            Error::Extract(format!(
                "input is not valid UTF-8: invalid byte at offset {}",
                e.valid_up_to()
            ))
        })
    }
}

impl FromInput<'_> for String {
    fn from_input(input: &[u8]) -> Result<Self> {
        <&str>::from_input(input).map(str::to_owned)
    }
}

/// JSON input (and, through [`User::send_json`](crate::User::send_json), JSON
/// output). Destructure it in the signature: `Json(cmd): Json<Cmd>`.
///
/// ```
/// use hotpocket::{FromInput, Json};
/// #[derive(serde::Deserialize, Debug, PartialEq)]
/// enum Cmd { Add(i64), Get }
///
/// let Json(cmd) = Json::<Cmd>::from_input(br#"{"Add":5}"#).unwrap();
/// assert_eq!(cmd, Cmd::Add(5));
/// let err = Json::<Cmd>::from_input(b"{\"Mul\":2}").unwrap_err();
/// assert!(err.to_string().starts_with("input is not a valid JSON command"));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Json<T>(pub T);

impl<T: DeserializeOwned> FromInput<'_> for Json<T> {
    fn from_input(input: &[u8]) -> Result<Self> {
        serde_json::from_slice(input)
            .map(Json)
            .map_err(|e| Error::Extract(format!("input is not a valid JSON command: {e}")))
    }
}

/// Why an input was refused by its extractor, handed to the handler when it
/// takes `Result<E, Rejection>` instead of `E`, so the handler can answer
/// the user in its own format. With a bare `E` a refused input never reaches
/// the handler: it is reported on the node's stderr and the user hears
/// nothing (read requests excepted: they always get a reply).
///
/// ```
/// use hotpocket::prelude::*; // Rejection included
///
/// #[derive(Deserialize)]
/// enum Cmd { Add(i64) }
///
/// #[derive(Default)]
/// struct Counter { total: i64 }
///
/// #[hotpocket::contract]
/// impl Counter {
///     #[on_input]
///     fn add(&mut self, _ctx: &mut Round, user: &User, cmd: Result<Json<Cmd>, Rejection>) -> Result<()> {
///         match cmd {
///             Ok(Json(Cmd::Add(n))) => self.total += n,
///             Err(why) => return user.send_json(&serde_json::json!({ "error": why.message() })),
///         }
///         user.send(self.total.to_string())
///     }
/// }
/// # use hotpocket::testing::TestRound;
/// let mut c = Counter::default();
/// let out = TestRound::new().input("alice", "oops").run(&mut c);
/// assert_eq!(
///     out.outputs("alice"),
///     [r#"{"error":"input is not a valid JSON command: expected value at line 1 column 1"}"#]
/// );
/// assert!(out.problems.is_empty(), "the handler answered; nothing to report");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejection {
    message: String,
}

impl Rejection {
    /// What was wrong with the input, as the extractor says it (the text
    /// the node's log would show), e.g. `input is not valid UTF-8: invalid
    /// byte at offset 2`.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Rejection {}

/// The extractor `E`'s verdict, good or bad, for the handler to act on.
impl<'a, E: FromInput<'a>> FromInput<'a> for std::result::Result<E, Rejection> {
    fn from_input(input: &'a [u8]) -> Result<Self> {
        Ok(E::from_input(input).map_err(|e| Rejection {
            message: e.to_string(),
        }))
    }
}
