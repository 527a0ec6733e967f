//! The round lifecycle: load the state, run the handlers in the engine's
//! order (round start, every input of every user, the NPL phase, round end),
//! save the state, reporting every problem with the user and input it
//! concerns. Where the inputs and NPL messages come from (the engine's fds or
//! memory, for tests) is decided by the caller.

use std::rc::Rc;
use std::time::{Duration, Instant};

use crate::args::InputRef;
use crate::channels::{InputBytes, InputFile, NplRecv, PacketSocket};
use crate::contract::{Contract, DEFAULT_NPL_TIMEOUT_MS};
use crate::failure::{FailureKind, InputFailure};
use crate::handler::HandlerError;
use crate::panic::{guarded, install_panic_hook};
use crate::round::{Node, Npl, Round, User};
use crate::wire::NPL_PUBKEY_LEN;

/// Where the round's inputs come from.
pub(crate) enum Inputs {
    /// The engine's input file and each user's (offset, size) pairs.
    File(Option<InputFile>, Vec<Vec<InputRef>>),
    /// In-process tests: each user's inputs.
    Memory(Vec<Vec<Vec<u8>>>),
}

/// Where incoming NPL messages come from.
pub(crate) enum NplSource {
    None,
    Socket(Rc<PacketSocket>),
    Memory(std::collections::VecDeque<(String, Vec<u8>)>),
}

/// What happened in a round, for the exit status and for tests.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    /// Every problem reported, in order.
    pub(crate) problems: Vec<String>,
    /// How many NPL messages were handed to `on_npl`.
    pub(crate) npl_received: usize,
    /// A failure that makes the round unsuccessful (state not saved).
    pub(crate) fatal: bool,
}

/// Collects the round's problem reports; prints them to stderr as they happen
/// under the engine so a later crash cannot swallow them.
pub(crate) struct Reporter {
    pub(crate) echo: bool,
    pub(crate) outcome: Outcome,
}

/// Writes one report line to stderr (the engine's contract log). Never
/// panics: `eprintln!` does when stderr is closed or broken (the engine's
/// `tee` gone), which would cost the rest of the round over a log line.
pub(crate) fn log(message: impl std::fmt::Display) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "hotpocket: {message}");
}

impl Reporter {
    pub(crate) fn report(&mut self, message: String) {
        if self.echo {
            log(&message);
        }
        self.outcome.problems.push(message);
    }

    /// Reports a problem that makes the round unsuccessful.
    pub(crate) fn report_fatal(&mut self, message: String) {
        self.report(message);
        self.outcome.fatal = true;
    }
}

/// Calls a handler, turning a panic into a report. Returns `None` when the
/// handler failed (already reported).
fn call<T>(
    reporter: &mut Reporter,
    place: impl FnOnce() -> String,
    f: impl FnOnce() -> Result<T, HandlerError>,
) -> Option<T> {
    match guarded(f) {
        Ok(Ok(v)) => Some(v),
        Ok(Err(e)) => {
            reporter.report(format!("{}: {e}", place()));
            None
        }
        Err(msg) => {
            reporter.report(format!("{}: handler panicked: {msg}", place()));
            None
        }
    }
}

/// Runs one round: start, every input of every user in order, the NPL phase,
/// end. Handler failures are reported and the round goes on.
pub(crate) fn execute<C: Contract>(
    contract: &mut C,
    round: &mut Round,
    inputs: &mut Inputs,
    npl: &mut NplSource,
    reporter: &mut Reporter,
) {
    before_npl(contract, round, inputs, reporter);
    if has_npl_phase::<C>(round) {
        flush_all(round, reporter);
        npl_phase(contract, round, npl, reporter);
    }
    end_round(contract, round, reporter);
}

/// Whether the round has an NPL phase: the contract reads NPL and no
/// handler skipped it.
pub(crate) fn has_npl_phase<C: Contract>(round: &Round) -> bool {
    C::HAS_NPL && !round.npl_phase_skipped()
}

/// The round up to its NPL phase: `#[on_round_start]`, then every input of
/// every user in order.
pub(crate) fn before_npl<C: Contract>(
    contract: &mut C,
    round: &mut Round,
    inputs: &mut Inputs,
    reporter: &mut Reporter,
) {
    install_panic_hook();
    call(
        reporter,
        || "on_round_start".to_owned(),
        || contract.on_round_start(round),
    );

    let users = round.users_rc();
    for (u, user) in users.iter().enumerate() {
        let count = match inputs {
            Inputs::File(_, refs) => refs.get(u).map_or(0, Vec::len),
            Inputs::Memory(v) => v.get(u).map_or(0, Vec::len),
        };
        for i in 0..count {
            run_input(contract, round, inputs, (u, user, i), reporter);
        }
        // Outputs are batched per user; this user's go out now, while the
        // engine can read them during the rest of the round.
        flush_user(user, reporter);
    }
}

/// Input `i` of user number `u`.
fn run_input<C: Contract>(
    contract: &mut C,
    round: &mut Round,
    inputs: &mut Inputs,
    (u, user, i): (usize, &User, usize),
    reporter: &mut Reporter,
) {
    let place = || format!("user {} input #{i}", user.public_key());
    let bytes: std::result::Result<InputBytes<'_>, String> = match inputs {
        Inputs::File(Some(file), refs) => match refs.get(u).and_then(|r| r.get(i)) {
            Some(r) => file.read(*r),
            None => Err("no such input".to_owned()),
        },
        Inputs::File(None, _) => Err("the round has no input file".to_owned()),
        Inputs::Memory(v) => v
            .get(u)
            .and_then(|x| x.get(i))
            .map(|b| InputBytes::Copied(b))
            .ok_or_else(|| "no such input".to_owned()),
    };
    let bytes = match bytes {
        Ok(b) => b,
        Err(e) => {
            reporter.report(format!("{}: {e}", place()));
            return;
        }
    };
    if round.is_read_only() {
        answer_read(contract, round, user, &bytes, place, reporter);
    } else {
        let result = guarded(|| contract.on_input(round, user, &bytes));
        if let Some((kind, message)) = failure_of(result) {
            reporter.report(format!("{}: {}", place(), log_text(kind, &message)));
            let failure = InputFailure::new(kind, &message, false);
            send_error_reply(contract, user, &failure, reporter);
        }
    }
}

/// How a handler call failed (`None`: it did not): the kind and the text
/// the contract's error reply may show (a panic's only for the log).
fn failure_of(
    result: std::result::Result<Result<(), HandlerError>, String>,
) -> Option<(FailureKind, String)> {
    match result {
        Ok(Ok(())) => None,
        Ok(Err(HandlerError::Extract(e))) => Some((FailureKind::Rejected, e.to_string())),
        Ok(Err(HandlerError::Failed(m))) => Some((FailureKind::Failed, m)),
        Err(panic) => Some((FailureKind::Panicked, panic)),
    }
}

/// The node's log line for a failure, as `call` words it.
fn log_text(kind: FailureKind, message: &str) -> String {
    match kind {
        FailureKind::Failed => format!("handler returned an error: {message}"),
        FailureKind::Panicked => format!("handler panicked: {message}"),
        FailureKind::Rejected | FailureKind::NoHandler => message.to_owned(),
    }
}

/// Sends the contract's error reply for `failure`, if it has one (the
/// default has none: the failure is only logged). Whether a reply went out.
fn send_error_reply<C: Contract>(
    contract: &C,
    user: &User,
    failure: &InputFailure<'_>,
    reporter: &mut Reporter,
) -> bool {
    let reply = match guarded(|| contract.error_reply(failure)) {
        Ok(Some(reply)) => reply,
        Ok(None) => return false,
        Err(msg) => {
            reporter.report(format!("error_reply panicked: {msg}"));
            return false;
        }
    };
    match user.send(reply) {
        Ok(()) => true,
        Err(e) => {
            reporter.report(format!("{e}"));
            false
        }
    }
}

/// One NPL message to `#[on_npl]`: true when the handler said the phase is done.
pub(crate) fn deliver_npl<C: Contract>(
    contract: &mut C,
    round: &mut Round,
    from: &Node,
    data: &[u8],
    reporter: &mut Reporter,
) -> bool {
    reporter.outcome.npl_received += 1;
    let place = || format!("NPL message from {}", from.public_key());
    matches!(
        call(reporter, place, || contract.on_npl(round, from, data)),
        Some(Npl::Done)
    )
}

/// The round after its NPL phase: `#[on_round_end]`, then every output out.
pub(crate) fn end_round<C: Contract>(contract: &mut C, round: &mut Round, reporter: &mut Reporter) {
    call(
        reporter,
        || "on_round_end".to_owned(),
        || contract.on_round_end(round),
    );
    flush_all(round, reporter);
}

/// Why a contract without `#[on_read_request]` refuses every read request.
pub(crate) const NO_READ_HANDLER: &str =
    "this contract answers no read requests (it has no #[on_read_request] handler)";

/// One input of a read request: the `#[on_read_request]` handler, then a
/// reply of `error: <why>` if it sent the user nothing, since the engine
/// sends a client no reply at all for a read without output. Without the
/// handler every read is refused: `#[on_input]` never runs read-only, so a
/// read can never look as if it changed the state.
fn answer_read<C: Contract>(
    contract: &mut C,
    round: &mut Round,
    user: &User,
    input: &[u8],
    place: impl FnOnce() -> String,
    reporter: &mut Reporter,
) {
    let before = user.sent_count();
    let failure = if C::HAS_READ_REQUEST {
        failure_of(guarded(|| contract.on_read_request(round, user, input)))
    } else {
        Some((FailureKind::NoHandler, NO_READ_HANDLER.to_owned()))
    };
    let Some((kind, message)) = failure else {
        if user.sent_count() == before {
            send_or_report(user, "error: the contract sent no reply", reporter);
        }
        return;
    };
    reporter.report(format!("{}: {}", place(), log_text(kind, &message)));
    let failure = InputFailure::new(kind, &message, true);
    if !send_error_reply(contract, user, &failure, reporter) && user.sent_count() == before {
        // The panic's text stays in the node's log, not in the reply.
        let why = match kind {
            FailureKind::Panicked => "the contract failed on this read request".to_owned(),
            FailureKind::Failed => format!("handler returned an error: {message}"),
            _ => message,
        };
        send_or_report(user, &format!("error: {why}"), reporter);
    }
}

fn send_or_report(user: &User, reply: &str, reporter: &mut Reporter) {
    if let Err(e) = user.send(reply) {
        reporter.report(format!("{e}"));
    }
}

fn flush_user(user: &User, reporter: &mut Reporter) {
    if let Err(e) = user.flush() {
        reporter.report(format!("{e}"));
    }
}

fn flush_all(round: &Round, reporter: &mut Reporter) {
    for user in round.users() {
        flush_user(user, reporter);
    }
}

fn npl_phase<C: Contract>(
    contract: &mut C,
    round: &mut Round,
    npl: &mut NplSource,
    reporter: &mut Reporter,
) {
    let unl = round.unl_rc();
    let own_key = round.public_key().to_owned();
    // Senders outside the UNL (never seen on a real engine) get a Node made
    // for them; UNL members are looked up without allocating.
    let stranger = |from: String| -> Node {
        let is_self = from == own_key;
        Node::new(from, 0, None, is_self, false)
    };
    let timeout = Duration::from_millis(C::NPL_TIMEOUT_MS.unwrap_or(DEFAULT_NPL_TIMEOUT_MS));
    let deadline = Instant::now() + timeout;
    let mut buf = Vec::new();
    let mut key = [0u8; NPL_PUBKEY_LEN];
    loop {
        let (node, data): (std::borrow::Cow<'_, Node>, &[u8]) = match npl {
            NplSource::None => return,
            NplSource::Memory(queue) => match queue.pop_front() {
                Some((from, data)) => {
                    let node = match unl.binary_search_by(|n| n.public_key().cmp(from.as_str())) {
                        Ok(i) => unl.get(i).cloned().unwrap_or_else(|| stranger(from)),
                        Err(_) => stranger(from),
                    };
                    buf = data;
                    (std::borrow::Cow::Owned(node), buf.as_slice())
                }
                None => return,
            },
            NplSource::Socket(s) => match s.recv_npl_into(&mut key, &mut buf, deadline) {
                Ok(NplRecv::Message(n)) => {
                    let from: &[u8] = &key;
                    let node = match unl
                        .binary_search_by(|node| node.public_key().as_bytes().cmp(from))
                        .ok()
                        .and_then(|i| unl.get(i))
                    {
                        Some(node) => std::borrow::Cow::Borrowed(node),
                        None => std::borrow::Cow::Owned(stranger(
                            String::from_utf8_lossy(from).into_owned(),
                        )),
                    };
                    (node, buf.get(..n).unwrap_or_default())
                }
                Ok(NplRecv::Timeout | NplRecv::Closed) => return,
                Err(e) => {
                    reporter.report(format!("{e}"));
                    return;
                }
            },
        };
        if deliver_npl(contract, round, &node, data, reporter) {
            return;
        }
    }
}

/// One round, as a fixed sequence: load the state; run the handlers;
/// **commit** the state ([`Contract::save`], skipped in read requests); then
/// **release** the outputs, or, when the commit failed, drop them unsent.
/// Returns false when the state could not be loaded or committed (the round
/// then ran no handlers, or its changes and outputs are lost).
///
/// Why outputs wait for the commit: the engine delivers the outputs of every
/// execution, whatever its exit (a non-zero status or even a signal only
/// skips `post_exec.sh`), once the nodes agree on them. A user told "your
/// account is open" by a round whose save then failed would be told so by
/// every node, and no node would have the account. So in a consensus round
/// of a contract whose `save` commits state ([`Contract::SAVES_STATE`]),
/// every user's outputs are held in memory until the commit succeeded.
/// Stateless contracts and read requests have nothing to commit: their
/// outputs go out during the round as before, so the engine reads them while
/// the handlers still run.
pub(crate) fn run_round<C: Contract>(
    round: &mut Round,
    inputs: &mut Inputs,
    npl: &mut NplSource,
    reporter: &mut Reporter,
) -> bool {
    // Loading and saving run the contract type's own (de)serialisation code,
    // which may panic like a handler: guarded the same way.
    install_panic_hook();
    if let Err(e) = begin_store::<C>(round) {
        reporter.report(format!(
            "{e}; no handlers were run and the state was left as it is"
        ));
        reporter.outcome.fatal = true;
        return false;
    }
    let Some(mut contract) = load::<C>(reporter) else {
        end_store::<C>();
        return false;
    };
    let read_only = round.is_read_only();
    let ok = run_loaded(&mut contract, round, inputs, npl, reporter, commit::<C>);
    if read_only {
        end_store::<C>();
    }
    if let Err(msg) = guarded(move || drop(contract)) {
        reporter.report(format!("dropping the contract panicked: {msg}"));
    }
    ok
}

/// The part of [`run_round`] after the load, shared with
/// [`TestRound`](crate::testing::TestRound): hold the outputs, run the
/// handlers, `commit` (not in a read request), then release the outputs or
/// drop them unsent. Returns false when the commit failed.
pub(crate) fn run_loaded<C: Contract>(
    contract: &mut C,
    round: &mut Round,
    inputs: &mut Inputs,
    npl: &mut NplSource,
    reporter: &mut Reporter,
    commit: impl FnOnce(&C) -> std::result::Result<(), String>,
) -> bool {
    let hold = C::SAVES_STATE && !round.is_read_only();
    if hold {
        round.users().iter().for_each(User::hold_outputs);
    }
    execute(contract, round, inputs, npl, reporter);
    let committed = if round.is_read_only() {
        Ok(())
    } else {
        commit(contract)
    };
    match committed {
        Ok(()) => {
            for user in round.users() {
                if let Err(e) = user.release_outputs() {
                    reporter.report(format!("{e}"));
                }
            }
            true
        }
        Err(why) => {
            let unsent = if hold {
                round.users().iter().for_each(User::discard_outputs);
                " and none of this round's outputs were sent"
            } else {
                ""
            };
            reporter.report(format!("{why}; the previous state was kept{unsent}"));
            reporter.outcome.fatal = true;
            false
        }
    }
}

/// Loads the state (`None` after reporting why it could not be).
fn load<C: Contract>(reporter: &mut Reporter) -> Option<C> {
    let problem = match guarded(C::load) {
        Ok(Ok(c)) => return Some(c),
        Ok(Err(e)) => format!("{e}"),
        Err(msg) => format!("loading the state panicked: {msg}"),
    };
    reporter.report(format!(
        "{problem}; no handlers were run and the state file was left as it is"
    ));
    reporter.outcome.fatal = true;
    None
}

/// The commit: [`Contract::save`], then the store's transaction (so only a
/// round whose state file was saved writes its database changes), guarded;
/// the error says what failed.
fn commit<C: Contract>(contract: &C) -> std::result::Result<(), String> {
    let saved = match guarded(|| contract.save()) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(format!("{e}")),
        Err(msg) => Err(format!("saving the state panicked: {msg}")),
    };
    if saved.is_err() {
        end_store::<C>();
        return saved;
    }
    match guarded(commit_store::<C>) {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(format!("{e}")),
        Err(msg) => Err(format!("committing the store panicked: {msg}")),
    }
}

/// The store's start-of-round hook: the round's time and seed for SQL, and
/// recovery of a crashed commit before any handler runs.
fn begin_store<C: Contract>(round: &Round) -> crate::Result<()> {
    if !C::USES_STORE {
        return Ok(());
    }
    #[cfg(feature = "store")]
    return crate::store::begin_engine_round(round.is_read_only(), round.timestamp(), round.lcl());
    // Unreachable in practice: `#[contract(store)]` does not build without
    // the feature (the macro asserts `STORE_FEATURE`).
    #[cfg(not(feature = "store"))]
    {
        let _ = round;
        Ok(())
    }
}

/// The store's commit hook, after the handlers and the state file's save.
fn commit_store<C: Contract>() -> crate::Result<()> {
    if !C::USES_STORE {
        return Ok(());
    }
    #[cfg(feature = "store")]
    return crate::store::commit_round();
    #[cfg(not(feature = "store"))]
    Ok(())
}

/// Ends the store's round without committing.
fn end_store<C: Contract>() {
    #[cfg(feature = "store")]
    if C::USES_STORE {
        crate::store::end_round();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Result;
    use crate::extract::FromInput;
    use crate::round::{Outbox, PatchStore, RoundInfo};
    use crate::testing::TestRound;
    use std::cell::{Cell, RefCell};

    #[derive(Default)]
    struct Probe {
        seen: Vec<String>,
        npl: Vec<String>,
        ended: bool,
    }

    impl Contract for Probe {
        const HAS_NPL: bool = true;
        const NPL_TIMEOUT_MS: Option<u64> = Some(60);

        fn load() -> Result<Self> {
            Ok(Probe::default())
        }

        fn on_input(
            &mut self,
            _: &mut Round,
            user: &User,
            input: &[u8],
        ) -> Result<(), HandlerError> {
            match input {
                b"panic" => panic!("boom"),
                b"panic-obj" => std::panic::panic_any(42u32),
                b"err" => Err(HandlerError::Failed("nope".into())),
                _ => {
                    let text = <&str>::from_input(input).map_err(HandlerError::extract)?;
                    self.seen.push(format!("{}:{text}", user.public_key()));
                    user.send(text)
                        .map_err(|e| HandlerError::Failed(e.to_string()))
                }
            }
        }

        fn on_npl(
            &mut self,
            _: &mut Round,
            from: &Node,
            message: &[u8],
        ) -> Result<Npl, HandlerError> {
            self.npl.push(format!(
                "{}:{}",
                from.public_key(),
                String::from_utf8_lossy(message)
            ));
            Ok(if message == b"done" {
                Npl::Done
            } else {
                Npl::Continue
            })
        }

        fn on_round_end(&mut self, _: &mut Round) -> Result<(), HandlerError> {
            self.ended = true;
            Ok(())
        }
    }

    #[test]
    fn one_bad_input_loses_nothing_else() {
        let mut c = Probe::default();
        let out = TestRound::new()
            .input("bob", "b1")
            .input("alice", "a1")
            .input("alice", "panic")
            .input("alice", "err")
            .input("alice", b"\xff\xfe")
            .input("alice", "panic-obj")
            .input("alice", "a2")
            .run(&mut c);
        assert_eq!(out.outputs("alice"), ["a1", "a2"]);
        assert_eq!(out.outputs("bob"), ["b1"]);
        // Users in ascending key order, inputs in order.
        assert_eq!(c.seen, ["alice:a1", "alice:a2", "bob:b1"]);
        assert_eq!(out.problems.len(), 4, "{:#?}", out.problems);
        assert!(
            out.problems[0].starts_with("user alice input #1: handler panicked: boom at "),
            "{}",
            out.problems[0]
        );
        assert_eq!(
            out.problems[1],
            "user alice input #2: handler returned an error: nope"
        );
        assert_eq!(
            out.problems[2],
            "user alice input #3: input is not valid UTF-8: invalid byte at offset 0"
        );
        assert!(out.problems[3].starts_with(
            "user alice input #4: handler panicked: a panic with a non-string payload"
        ));
        assert!(c.ended, "on_round_end still runs");
    }

    #[test]
    fn npl_phase_ends_when_the_handler_says_done() {
        let mut c = Probe::default();
        let out = TestRound::new()
            .npl("n1", "a")
            .npl("n2", "done")
            .npl("n1", "late")
            .run(&mut c);
        assert_eq!(c.npl, ["n1:a", "n2:done"]);
        assert_eq!(out.npl_received, 2);
        assert!(c.ended);
    }

    #[test]
    fn npl_phase_is_skipped_when_a_handler_asks() {
        #[derive(Default)]
        struct Skipper {
            npl: usize,
            ended: bool,
        }
        impl Contract for Skipper {
            const HAS_NPL: bool = true;
            fn load() -> Result<Self> {
                Ok(Skipper::default())
            }
            fn on_input(
                &mut self,
                round: &mut Round,
                _: &User,
                input: &[u8],
            ) -> Result<(), HandlerError> {
                if input == b"skip" {
                    round.skip_npl_phase();
                }
                Ok(())
            }
            fn on_npl(&mut self, _: &mut Round, _: &Node, _: &[u8]) -> Result<Npl, HandlerError> {
                self.npl += 1;
                Ok(Npl::Continue)
            }
            fn on_round_end(&mut self, _: &mut Round) -> Result<(), HandlerError> {
                self.ended = true;
                Ok(())
            }
        }
        let mut c = Skipper::default();
        let out = TestRound::new()
            .input("alice", "skip")
            .npl("n1", "a")
            .run(&mut c);
        assert_eq!((c.npl, out.npl_received, c.ended), (0, 0, true));
        let mut c = Skipper::default();
        let out = TestRound::new()
            .input("alice", "go")
            .npl("n1", "a")
            .run(&mut c);
        assert_eq!((c.npl, out.npl_received), (1, 1));
    }

    /// A probe whose NPL timeout (10 s) no loaded machine reaches by accident,
    /// so an early end can only come from the channel closing.
    #[derive(Default)]
    struct PatientProbe(Probe);

    impl Contract for PatientProbe {
        const HAS_NPL: bool = true;
        const NPL_TIMEOUT_MS: Option<u64> = Some(10_000);

        fn load() -> Result<Self> {
            Ok(PatientProbe::default())
        }

        fn on_npl(&mut self, r: &mut Round, from: &Node, m: &[u8]) -> Result<Npl, HandlerError> {
            self.0.on_npl(r, from, m)
        }

        fn on_round_end(&mut self, r: &mut Round) -> Result<(), HandlerError> {
            self.0.on_round_end(r)
        }
    }

    fn npl_round<C: Contract + Default>(source: NplSource) -> (C, Duration) {
        let mut c = C::default();
        let mut round = Round::new(
            RoundInfo {
                variant: crate::Variant::Readonly,
                mode: crate::Mode::Consensus,
                hp_version: "0.6.4".into(),
                contract_id: "c".into(),
                public_key: "ed01".into(),
                private_key: crate::args::PrivateKey::for_tests(),
                timestamp: 1,
                lcl: None,
                non_consensus_rounds: None,
                env: Default::default(),
            },
            Vec::new().into(),
            Vec::new().into(),
            Outbox::Memory {
                npl: Vec::new(),
                control: Vec::new(),
                npl_available: true,
            },
            PatchStore::Memory(None),
        );
        let mut src = source;
        let mut reporter = Reporter {
            echo: false,
            outcome: Outcome::default(),
        };
        let t = Instant::now();
        execute(
            &mut c,
            &mut round,
            &mut Inputs::Memory(Vec::new()),
            &mut src,
            &mut reporter,
        );
        (c, t.elapsed())
    }

    #[test]
    fn npl_phase_ends_at_the_timeout_and_when_the_channel_closes() {
        use nix::sys::socket::{AddressFamily, SockFlag, SockType, socketpair};
        let (a, b) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::empty(),
        )
        .unwrap();
        let sender = "ed".to_owned() + &"cd".repeat(32);
        nix::sys::socket::send(
            b.as_raw_fd(),
            sender.as_bytes(),
            nix::sys::socket::MsgFlags::empty(),
        )
        .unwrap();
        nix::sys::socket::send(b.as_raw_fd(), b"hello", nix::sys::socket::MsgFlags::empty())
            .unwrap();
        let (c, took): (Probe, _) = npl_round(NplSource::Socket(Rc::new(PacketSocket::new(
            a,
            crate::wire::Channel::Npl,
        ))));
        assert_eq!(c.npl, [format!("{sender}:hello")]);
        assert!(
            took >= Duration::from_millis(55),
            "waited {took:?} for more NPL"
        );
        assert!(c.ended);

        let (a, b) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::empty(),
        )
        .unwrap();
        drop(b);
        let (PatientProbe(c), took) = npl_round(NplSource::Socket(Rc::new(PacketSocket::new(
            a,
            crate::wire::Channel::Npl,
        ))));
        assert!(c.npl.is_empty());
        assert!(
            took < Duration::from_secs(5),
            "a closed channel ends the phase at once ({took:?})"
        );
        assert!(c.ended);
    }

    use std::os::fd::AsRawFd;

    struct ReadOnlyAware(Vec<&'static str>);
    impl Contract for ReadOnlyAware {
        const HAS_READ_REQUEST: bool = true;
        fn load() -> Result<Self> {
            Ok(ReadOnlyAware(Vec::new()))
        }
        fn on_input(&mut self, _: &mut Round, _: &User, _: &[u8]) -> Result<(), HandlerError> {
            self.0.push("input");
            Ok(())
        }
        fn on_read_request(
            &mut self,
            r: &mut Round,
            _: &User,
            _: &[u8],
        ) -> Result<(), HandlerError> {
            assert!(r.npl_send("x").is_err(), "no NPL in read requests");
            self.0.push("read");
            Ok(())
        }
    }

    #[test]
    fn read_requests_go_to_on_read_request() {
        let mut c = ReadOnlyAware(Vec::new());
        TestRound::read_request().input("u", "q").run(&mut c);
        TestRound::new().input("u", "q").run(&mut c);
        assert_eq!(c.0, ["read", "input"]);
    }

    #[test]
    fn every_read_request_gets_a_reply() {
        // `Probe` has no `#[on_read_request]`: reads are refused, on_input never runs.
        let mut c = Probe::default();
        let out = TestRound::read_request().input("u", "q").run(&mut c);
        assert!(c.seen.is_empty(), "{:?}", c.seen);
        assert_eq!(out.outputs("u"), [format!("error: {NO_READ_HANDLER}")]);
        assert_eq!(
            out.problems,
            [format!("user u input #0: {NO_READ_HANDLER}")]
        );

        // A handler that sends nothing, fails or panics: the user still hears.
        let mut c = ReadOnlyAware(Vec::new());
        let out = TestRound::read_request().input("u", "q").run(&mut c);
        assert_eq!(out.outputs("u"), ["error: the contract sent no reply"]);
        assert!(out.problems.is_empty(), "{:?}", out.problems);
        let mut c = Replier;
        for (input, reply) in [
            ("err", "error: handler returned an error: nope"),
            ("panic", "error: the contract failed on this read request"),
            ("ok", "fine"),
        ] {
            let out = TestRound::read_request().input("u", input).run(&mut c);
            assert_eq!(out.outputs("u"), [reply], "{input}");
        }
    }

    struct Replier;
    impl Contract for Replier {
        const HAS_READ_REQUEST: bool = true;
        fn load() -> Result<Self> {
            Ok(Replier)
        }
        fn on_read_request(
            &mut self,
            _: &mut Round,
            user: &User,
            input: &[u8],
        ) -> Result<(), HandlerError> {
            match input {
                b"err" => Err(HandlerError::Failed("nope".into())),
                b"panic" => panic!("secret detail"),
                _ => user
                    .send("fine")
                    .map_err(|e| HandlerError::Failed(e.to_string())),
            }
        }
    }

    /// `Replier`'s handlers with an error reply naming the failure's kind,
    /// message and mode; `None` for `quiet` failures.
    struct Explainer;
    impl Contract for Explainer {
        const HAS_READ_REQUEST: bool = true;
        fn load() -> Result<Self> {
            Ok(Explainer)
        }
        fn on_input(&mut self, r: &mut Round, u: &User, i: &[u8]) -> Result<(), HandlerError> {
            match i {
                b"bad" => Err(HandlerError::extract(crate::Error::Extract(
                    "not a word".into(),
                ))),
                b"quiet" => Err(HandlerError::Failed("quiet".into())),
                _ => Replier.on_read_request(r, u, i),
            }
        }
        fn on_read_request(
            &mut self,
            r: &mut Round,
            u: &User,
            i: &[u8],
        ) -> Result<(), HandlerError> {
            self.on_input(r, u, i)
        }
        fn error_reply(&self, failure: &InputFailure<'_>) -> Option<Vec<u8>> {
            let read = if failure.is_read_request() {
                "read"
            } else {
                "input"
            };
            (failure.message() != "quiet")
                .then(|| format!("{:?} {read}: {failure}", failure.kind()).into_bytes())
        }
    }

    #[test]
    fn error_reply_answers_every_failed_input_without_a_panics_text() {
        let inputs = ["bad", "err", "panic", "quiet", "ok"];
        let run = |round: TestRound| {
            let round = inputs.iter().fold(round, |r, i| r.input("u", i));
            round.run(&mut Explainer)
        };
        let out = run(TestRound::new());
        assert_eq!(
            out.outputs("u"),
            [
                "Rejected input: not a word",
                "Failed input: nope",
                "Panicked input: the contract failed on this input",
                "fine",
            ]
        );
        // Still logged, the panic with its text.
        assert_eq!(out.problems.len(), 4, "{:?}", out.problems);
        assert!(out.problems[2].contains("handler panicked: secret detail"));
        assert!(!out.outputs("u").concat().contains("secret"));

        // Read requests: the contract's reply instead of the runtime's; a
        // failure it has no reply for still gets `error: <why>`.
        let read = |input: &str| {
            let out = TestRound::read_request()
                .input("u", input)
                .run(&mut Explainer);
            out.outputs("u")
        };
        assert_eq!(read("err"), ["Failed read: nope"]);
        assert_eq!(
            read("panic"),
            ["Panicked read: the contract failed on this input"]
        );
        assert_eq!(read("quiet"), ["error: handler returned an error: quiet"]);
    }

    /// A stateful contract persisting to a test directory.
    #[derive(Default, serde::Serialize, serde::Deserialize)]
    struct Saved {
        n: u64,
    }
    thread_local! {
        static DIR: RefCell<std::path::PathBuf> = const { RefCell::new(std::path::PathBuf::new()) };
    }
    impl Contract for Saved {
        fn load() -> Result<Self> {
            DIR.with(|d| crate::state::load_state_from(&d.borrow(), "s.json"))
        }
        fn save(&self) -> Result<()> {
            DIR.with(|d| crate::state::save_state_to(&d.borrow(), self, "s.json"))
        }
        fn on_input(&mut self, _: &mut Round, _: &User, _: &[u8]) -> Result<(), HandlerError> {
            self.n += 1;
            Ok(())
        }
    }

    fn run_saved(read_only: bool, inputs: usize) -> (bool, Vec<String>) {
        let mut round = TestRound::new();
        if read_only {
            round = TestRound::read_request();
        }
        for _ in 0..inputs {
            round = round.input("u", "x");
        }
        let (mut r, mut inputs) = round.into_parts();
        let mut reporter = Reporter {
            echo: false,
            outcome: Outcome::default(),
        };
        let ok = run_round::<Saved>(&mut r, &mut inputs, &mut NplSource::None, &mut reporter);
        (ok, reporter.outcome.problems)
    }

    /// Contract code outside the handlers (the state's serde impls, `Drop`)
    /// panicking: each is reported, nothing unwinds out of the round.
    struct Fragile {
        sent: bool,
    }
    thread_local! {
        static FRAGILE: Cell<u8> = const { Cell::new(0) };
    }
    impl Contract for Fragile {
        const SAVES_STATE: bool = true;
        fn load() -> Result<Self> {
            if FRAGILE.with(Cell::get) == 1 {
                panic!("corrupt in a way serde did not expect");
            }
            Ok(Fragile { sent: false })
        }
        fn save(&self) -> Result<()> {
            if FRAGILE.with(Cell::get) == 2 {
                std::panic::panic_any(7u8);
            }
            Ok(())
        }
        fn on_input(&mut self, _: &mut Round, user: &User, _: &[u8]) -> Result<(), HandlerError> {
            self.sent = true;
            user.send("out").map_err(HandlerError::extract)
        }
    }
    impl Drop for Fragile {
        fn drop(&mut self) {
            if FRAGILE.with(Cell::get) == 3 {
                panic!("drop");
            }
        }
    }

    fn run_fragile(mode: u8) -> (bool, Vec<String>, Vec<String>) {
        FRAGILE.with(|f| f.set(mode));
        let (mut r, mut inputs) = TestRound::new().input("u", "x").into_parts();
        let users = r.users_rc();
        let mut reporter = Reporter {
            echo: false,
            outcome: Outcome::default(),
        };
        let ok = run_round::<Fragile>(&mut r, &mut inputs, &mut NplSource::None, &mut reporter);
        let out = users[0]
            .take_memory_outputs()
            .into_iter()
            .map(|b| String::from_utf8(b).unwrap())
            .collect();
        (ok, reporter.outcome.problems, out)
    }

    #[test]
    fn panics_in_load_save_and_drop_are_reported() {
        let (ok, problems, out) = run_fragile(1);
        assert!(!ok && out.is_empty());
        assert!(
            problems[0].starts_with(
                "loading the state panicked: corrupt in a way serde did not expect at "
            ) && problems[0].ends_with("no handlers were run and the state file was left as it is"),
            "{problems:?}"
        );
        let (ok, problems, out) = run_fragile(2);
        assert!(!ok);
        assert!(
            out.is_empty(),
            "no output of a round whose commit failed: {out:?}"
        );
        assert!(
            problems[0].starts_with("saving the state panicked: a panic with a non-string payload")
                && problems[0].ends_with(
                    "the previous state was kept and none of this round's outputs were sent"
                ),
            "{problems:?}"
        );
        let (ok, problems, out) = run_fragile(3);
        assert!(ok, "the state was saved before the drop");
        assert_eq!(out, ["out"], "a committed round's outputs are released");
        assert!(
            problems[0].starts_with("dropping the contract panicked: drop at "),
            "{problems:?}"
        );
        FRAGILE.with(|f| f.set(0));
    }

    #[test]
    fn state_saved_after_consensus_rounds_only_and_corrupt_state_is_left_alone() {
        let dir = std::env::temp_dir().join(format!("hotpocket-lifecycle-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        DIR.with(|d| *d.borrow_mut() = dir.clone());
        let file = dir.join("s.json");
        let _ = std::fs::remove_file(&file);
        assert!(run_saved(false, 2).0);
        assert_eq!(std::fs::read_to_string(&file).unwrap(), r#"{"n":2}"#);
        assert!(run_saved(true, 5).0);
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            r#"{"n":2}"#,
            "read requests never save"
        );
        std::fs::write(&file, "{\"n\":").unwrap();
        let (ok, problems) = run_saved(false, 1);
        assert!(!ok);
        assert!(
            problems[0].contains("s.json") && problems[0].contains("no handlers were run"),
            "{problems:?}"
        );
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            "{\"n\":",
            "corrupt state is not overwritten"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
