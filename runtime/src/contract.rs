//! The [`Contract`] trait that `#[contract]` implements: the state's load
//! and save and one method per handler. The round lifecycle that drives it
//! is in `lifecycle`, the process entry in `engine`.

use crate::error::Result;
use crate::failure::InputFailure;
use crate::handler::HandlerError;
use crate::round::{Node, Npl, Round, User};
use crate::state::StateCodec;

/// How long the NPL phase waits for messages when the contract does not set
/// `npl_timeout_ms`. The engine never signals the end of NPL traffic, so a
/// contract must stop on its own; one second fits inside the engine's default
/// 1 s round time for the messages of a round started at the same time on
/// every node.
pub const DEFAULT_NPL_TIMEOUT_MS: u64 = 1000;

/// A contract: what `#[hotpocket::contract]` implements for your type. You do
/// not normally implement it by hand; the default methods do nothing.
pub trait Contract: Sized + 'static {
    /// The state file (relative to the working directory), if the contract persists itself.
    const STATE_FILE: Option<&'static str> = None;
    /// The NPL phase's time limit; `None` means [`DEFAULT_NPL_TIMEOUT_MS`].
    const NPL_TIMEOUT_MS: Option<u64> = None;
    /// Whether the contract has an `#[on_npl]` handler (otherwise there is no NPL phase).
    const HAS_NPL: bool = false;
    /// Whether read requests go to `#[on_read_request]` (otherwise to `#[on_input]`).
    const HAS_READ_REQUEST: bool = false;
    /// Whether to close, before any contract code runs, every inherited file
    /// descriptor above 2 that the round's arguments do not name. The engine
    /// leaks its own descriptors into the contract (its `hp.cfg` opened
    /// read-write, its log, other users' connection buffers);
    /// closing them keeps a contract from touching them by accident. Set the
    /// environment variable `HOTPOCKET_KEEP_FDS=1` (in the contract's
    /// `environment` config) to keep them instead.
    const CLOSE_INHERITED_FDS: bool = true;
    /// Whether the contract uses the `store` module (`#[contract(store)]`, feature `store`):
    /// the runtime then opens the round's database before the handlers (recovering
    /// a crashed commit) and commits it after them. Contracts without it pay nothing.
    const USES_STORE: bool = false;

    /// Creates the contract at the start of a round: loads the state, or
    /// `Default` for a stateless contract.
    fn load() -> Result<Self>;

    /// Whether [`save`](Contract::save) commits state that this round's
    /// outputs may speak of. When true, a consensus round's outputs are held
    /// until `save` has succeeded and are dropped unsent when it fails, so
    /// no user is told of a change that was not saved. True for
    /// `#[contract(state = "...")]` and `#[contract(store)]`; set it when
    /// you implement `save` by hand or keep state in a store that `save`
    /// commits.
    const SAVES_STATE: bool = Self::STATE_FILE.is_some() || Self::USES_STORE;

    /// The round's **commit**: persists the state after the handlers of a
    /// round that is not read-only, before any held output is released.
    ///
    /// This is the one hook for everything a round must make durable: a
    /// store that keeps state outside the contract value (a database, typed
    /// collections) commits its transaction here, so that an error from it
    /// (`Err`) fails the round exactly like a failed state file: the
    /// previous state is kept, the round's outputs are not sent, and stderr
    /// says what failed. A commit must be all or nothing: on `Err`, leave
    /// the previous state in place byte for byte.
    fn save(&self) -> Result<()> {
        Ok(())
    }

    /// The encoding of the state file, when the contract's state is its value
    /// saved to [`STATE_FILE`](Contract::STATE_FILE) (`#[contract(state =
    /// "...")]`). [`TestRound`](crate::testing::TestRound) puts the value
    /// through it around every round, as the engine's fresh process loads
    /// the saved file; `None` (the default) leaves the value as the test gave it.
    /// A hand-written impl that saves with [`save_state`](crate::state::save_state)
    /// returns `Some(hotpocket::state::json_codec(FILE))`.
    fn state_codec() -> Option<StateCodec<Self>> {
        None
    }

    /// The reply a user gets for an input its handler did not answer
    /// (`#[contract(error_reply = path)]`); `None`, the default, sends
    /// nothing: the failure is only in the node's log (a read request still
    /// gets the runtime's `error: <why>`).
    fn error_reply(&self, _failure: &InputFailure<'_>) -> Option<Vec<u8>> {
        None
    }

    /// `#[on_round_start]`.
    fn on_round_start(&mut self, _round: &mut Round) -> Result<(), HandlerError> {
        Ok(())
    }

    /// `#[on_input]`: one input of one user.
    fn on_input(
        &mut self,
        _round: &mut Round,
        _user: &User,
        _input: &[u8],
    ) -> Result<(), HandlerError> {
        Ok(())
    }

    /// `#[on_read_request]`: the input of a read request.
    fn on_read_request(
        &mut self,
        _round: &mut Round,
        _user: &User,
        _input: &[u8],
    ) -> Result<(), HandlerError> {
        Ok(())
    }

    /// `#[on_npl]`: one NPL message.
    fn on_npl(
        &mut self,
        _round: &mut Round,
        _from: &Node,
        _message: &[u8],
    ) -> Result<Npl, HandlerError> {
        Ok(Npl::Done)
    }

    /// `#[on_round_end]`.
    fn on_round_end(&mut self, _round: &mut Round) -> Result<(), HandlerError> {
        Ok(())
    }
}
