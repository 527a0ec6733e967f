//! A [`TestRound`](super::TestRound) of a contract with a state file, run
//! the way the engine runs it: the engine starts a fresh process every round,
//! which loads the saved file, so a round sees only what the file holds, and
//! a read request's changes are never saved. A [`Cluster`](super::Cluster)
//! node's round is saved and loaded alike. Here the file is the bytes of
//! the state's own encoding ([`StateCodec`]), kept in memory.

use crate::contract::Contract;
use crate::lifecycle::{Inputs, NplSource, Reporter, run_loaded};
use crate::panic::guarded;
use crate::round::{Round, User};
use crate::state::StateCodec;

/// Runs the round on the value `contract` decodes to, then replaces
/// `contract` with what the next round would load: the saved value after a
/// committed consensus round, the previous one after a failed commit, and
/// the untouched value after a read request.
pub(super) fn run_saved<C: Contract>(
    codec: StateCodec<C>,
    contract: &mut C,
    round: &mut Round,
    inputs: &mut Inputs,
    npl: &mut NplSource,
    reporter: &mut Reporter,
) {
    let Some((saved, mut loaded)) = load(codec, contract, reporter) else {
        return;
    };
    if round.is_read_only() {
        // The engine saves nothing after a read: its changes die with the process.
        run_loaded(&mut loaded, round, inputs, npl, reporter, |_| Ok(()));
        return;
    }
    let mut written = None;
    let committed = run_loaded(&mut loaded, round, inputs, npl, reporter, |value| {
        written = Some(encode(codec, value)?);
        Ok(())
    });
    let file = match written {
        Some(bytes) if committed => bytes,
        _ => saved,
    };
    match decode(codec, &file) {
        Ok(next) => *contract = next,
        Err(why) => {
            reporter.report_fatal(format!(
                "{why}; the next round could not load the state this round saved"
            ));
            *contract = loaded;
        }
    }
}

/// Starts a [`Cluster`](super::Cluster) node's round as the engine's fresh
/// process does: `contract` becomes what its saved file loads to, and its
/// outputs are held until [`end_node`] commits. Returns the saved file, or
/// `None` after reporting why the round cannot start.
pub(super) fn start_node<C: Contract>(
    codec: StateCodec<C>,
    contract: &mut C,
    round: &Round,
    reporter: &mut Reporter,
) -> Option<Vec<u8>> {
    let (saved, loaded) = load(codec, contract, reporter)?;
    *contract = loaded;
    round.users().iter().for_each(User::hold_outputs);
    Some(saved)
}

/// Ends a [`Cluster`](super::Cluster) node's consensus round: saves
/// `contract` and sends the held outputs, or, when the save fails, keeps the
/// `saved` file and drops the outputs, as [`run_saved`] does.
pub(super) fn end_node<C: Contract>(
    codec: StateCodec<C>,
    contract: &mut C,
    saved: &[u8],
    round: &Round,
    reporter: &mut Reporter,
) {
    let file = match encode(codec, contract) {
        Ok(bytes) => {
            for user in round.users() {
                if let Err(e) = user.release_outputs() {
                    reporter.report(format!("{e}"));
                }
            }
            bytes
        }
        Err(why) => {
            round.users().iter().for_each(User::discard_outputs);
            reporter.report(format!(
                "{why}; the previous state was kept and none of this round's outputs were sent"
            ));
            reporter.outcome.fatal = true;
            saved.to_vec()
        }
    };
    match decode(codec, &file) {
        Ok(next) => *contract = next,
        Err(why) => reporter.report_fatal(format!(
            "{why}; the next round could not load the state this round saved"
        )),
    }
}

/// The state file the round starts from (the value as saved) and the value
/// the engine's process would load from it; `None` after reporting why not.
fn load<C: Contract>(
    codec: StateCodec<C>,
    contract: &C,
    reporter: &mut Reporter,
) -> Option<(Vec<u8>, C)> {
    let loaded =
        encode(codec, contract).and_then(|saved| decode(codec, &saved).map(|value| (saved, value)));
    match loaded {
        Ok(pair) => Some(pair),
        Err(why) => {
            reporter.report_fatal(format!(
                "{why}; no handlers were run and the value was left as it is"
            ));
            None
        }
    }
}

/// [`StateCodec::encode`], with a panic in the type's `Serialize` reported
/// like the engine's save reports it.
fn encode<C>(codec: StateCodec<C>, value: &C) -> Result<Vec<u8>, String> {
    match guarded(|| codec.encode(value)) {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(e)) => Err(e.to_string()),
        Err(msg) => Err(format!("saving the state panicked: {msg}")),
    }
}

/// [`StateCodec::decode`], with a panic in the type's `Deserialize` reported
/// like the engine's load reports it.
fn decode<C>(codec: StateCodec<C>, bytes: &[u8]) -> Result<C, String> {
    match guarded(|| codec.decode(bytes)) {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(e)) => Err(e.to_string()),
        Err(msg) => Err(format!("loading the state panicked: {msg}")),
    }
}
