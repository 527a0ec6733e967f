//! The process entry: the generated `main` ([`run`]), the choice between an
//! engine round and dev mode, and the wiring of the engine's file descriptors
//! into a [`Round`] before the lifecycle runs it.

use std::rc::Rc;

use crate::args::{Args, InputRef};
use crate::channels::{self, InputFile, OutputSocket, PacketSocket};
use crate::config::PatchConfig;
use crate::contract::Contract;
use crate::error::{Error, Result};
use crate::lifecycle::{Inputs, NplSource, Outcome, Reporter, log, run_round};
use crate::round::{Node, Outbox, OutputSink, PatchStore, Round, RoundInfo, User};
use crate::wire::Channel;

/// The generated `main`: runs one round under the engine, or dev mode when
/// started from a terminal or with `--dev`. Never returns; never ends the
/// process with a signal (the engine would skip `post_exec.sh`).
pub fn run<C: Contract>() -> ! {
    std::process::exit(main_code::<C>())
}

fn main_code<C: Contract>() -> i32 {
    // Under the engine only the first argument is looked at (the engine's
    // `bin_args` are the contract's business): no copy of the rest.
    let dev_flag = std::env::args_os().nth(1).is_some_and(|a| a == "--dev");
    if dev_flag || nix::unistd::isatty(channels::stdin_fd()).unwrap_or(false) {
        let dev_args: Vec<String> = std::env::args().skip(1 + usize::from(dev_flag)).collect();
        return dev_mode(dev_args);
    }
    let args = match Args::from_stdin() {
        Ok(a) => a,
        Err(e) => {
            log(e);
            return 1;
        }
    };
    match run_engine_round::<C>(args) {
        Ok(true) => 0,
        Ok(false) => 1,
        Err(e) => {
            log(e);
            1
        }
    }
}

#[cfg(feature = "sim")]
fn dev_mode(args: Vec<String>) -> i32 {
    crate::sim::dev::main(args)
}

#[cfg(not(feature = "sim"))]
fn dev_mode(_args: Vec<String>) -> i32 {
    log(
        "this contract is started by the HotPocket engine, which writes the round's arguments on \
         stdin; dev mode (local simulation) needs the `sim` feature of the `hotpocket` crate",
    );
    2
}

/// Wires the engine's fds into a [`Round`], runs the round, saves the state.
/// `Ok(false)` when the round ran but something fatal happened (state not
/// loadable or not saved).
fn run_engine_round<C: Contract>(args: Args) -> Result<bool> {
    let env = process_env();
    if C::CLOSE_INHERITED_FDS && std::env::var_os("HOTPOCKET_KEEP_FDS").is_none_or(|v| v != "1") {
        // Sized up front: growing it would run the vector's growth path,
        // code nothing else in an empty round touches.
        let mut named = Vec::with_capacity(3 + args.users.len());
        named.extend([args.control_fd, args.user_in_fd]);
        named.extend(args.npl_fd);
        named.extend(args.users.iter().map(|u| u.out_fd));
        channels::close_unnamed_fds(&named);
    }
    if !args.mode.is_read_only() {
        remove_stale_temps::<C>();
    }
    let control = packet_channel("control_fd", args.control_fd, Channel::Control)?;
    let npl = match args.npl_fd {
        Some(fd) => Some(Rc::new(packet_channel("npl_fd", fd, Channel::Npl)?)),
        None => None,
    };
    let input_file = if args.users.is_empty() {
        // Fallback rounds pass stdin (fd 0) here; with no users there is nothing to read.
        None
    } else {
        Some(InputFile::new(channels::take_fd(
            || "user_in_fd".into(),
            args.user_in_fd,
        )?)?)
    };
    let (users, refs) = user_channels(args.users);
    let unl: Vec<Node> = args
        .unl
        .into_iter()
        .map(|n| {
            let is_self = n.public_key == args.public_key;
            Node::new(n.public_key, n.active_on, n.lcl, is_self, true)
        })
        .collect();
    let info = RoundInfo {
        variant: args.variant,
        mode: args.mode,
        hp_version: args.hp_version,
        contract_id: args.contract_id,
        public_key: args.public_key,
        private_key: args.private_key,
        timestamp: args.timestamp,
        lcl: args.lcl,
        non_consensus_rounds: args.non_consensus_rounds,
        env,
    };
    let mut round = Round::new(
        info,
        users.into(),
        unl.into(),
        Outbox::Engine {
            npl: npl.clone(),
            control: Some(control),
        },
        PatchStore::File(PatchConfig::PATH.into()),
    );
    let mut inputs = Inputs::File(input_file, refs);
    let mut npl_source = match npl {
        Some(s) => NplSource::Socket(s),
        None => NplSource::None,
    };
    let mut reporter = Reporter {
        echo: true,
        outcome: Outcome::default(),
    };
    let ok = run_round::<C>(&mut round, &mut inputs, &mut npl_source, &mut reporter);
    finish(&mut round);
    Ok(ok)
}

/// The process environment for [`Round::env`]: the engine's
/// `contract.environment`. Variables whose name or value is not UTF-8 are
/// left out (the engine requires strings, so only a hand-made launcher could
/// pass one).
fn process_env() -> std::collections::BTreeMap<String, String> {
    std::env::vars_os()
        .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)))
        .collect()
}

/// A process killed while saving (exec timeout, a kill on one node) leaves
/// its temp file behind, in the directory the engine hashes. Removing such
/// leftovers before anything else runs gives every node the same directory
/// listing again. Read requests run in a read-only session and leave them
/// alone. The state directory is listed only for a contract with a state
/// file; `patch.cfg`'s temp has a fixed name and is removed by name, so a
/// stateless contract lists no directory at all.
fn remove_stale_temps<C: Contract>() {
    if let Some(file) = C::STATE_FILE {
        crate::atomic::remove_stale_temps(std::path::Path::new(file));
    }
    // By its fixed name: working it out from `PatchConfig::PATH` every round
    // would run std's path parsing, code no other part of an empty round
    // touches (one more page fault). The test below keeps the two in step.
    let _ = std::fs::remove_file(PATCH_CFG_TEMP);
}

/// The temp file of a `patch.cfg` write (`atomic::write_atomic_single_writer`
/// of [`PatchConfig::PATH`]).
const PATCH_CFG_TEMP: &str = "../.patch.cfg.tmp";

/// Takes the control or NPL socket named by the argument `field`.
fn packet_channel(field: &'static str, fd: i32, channel: Channel) -> Result<PacketSocket> {
    let fd = channels::take_fd(|| field.into(), fd)?;
    channels::check_socket(|| field.into(), &fd, nix::sys::socket::SockType::SeqPacket)?;
    Ok(PacketSocket::new(fd, channel))
}

/// Each user with its output socket, and each user's input references. A bad
/// output socket is that user's problem only: its inputs still run (so the
/// state matches the other nodes'), its outputs fail.
fn user_channels(args: Vec<crate::args::UserArgs>) -> (Vec<User>, Vec<Vec<InputRef>>) {
    let mut users = Vec::with_capacity(args.len());
    let mut refs = Vec::with_capacity(args.len());
    for u in args {
        let field = || format!("users.{}[0]", u.public_key);
        let sink = match channels::take_fd(field, u.out_fd).and_then(|fd| {
            channels::check_socket(field, &fd, nix::sys::socket::SockType::Stream)?;
            Ok(fd)
        }) {
            Ok(fd) => OutputSink::Socket(OutputSocket::new(fd)),
            Err(e) => {
                log(format_args!(
                    "{e}; user {}'s inputs still run, but its outputs cannot be sent",
                    u.public_key
                ));
                OutputSink::Unavailable(format!("no usable output socket: {e}"))
            }
        };
        users.push(User::new(u.public_key, u.inputs.len(), sink));
        refs.push(u.inputs);
    }
    (users, refs)
}

/// The end of a round: tell engines that still expect it that the contract
/// is done (newer engines ignore the message), then let the
/// sockets close on drop.
fn finish(round: &mut Round) {
    if let Err(e) = round.send_control(br#"{"type":"contract_end"}"#) {
        // A closed control channel at the very end loses nothing.
        if !matches!(e, Error::Control(_)) {
            log(e);
        }
    }
    if let Outbox::Engine { npl, control } = round.outbox_mut() {
        npl.take();
        control.take();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_patch_cfg_temp_is_the_one_its_writer_uses() {
        assert_eq!(
            crate::atomic::single_writer_temp_path(std::path::Path::new(PatchConfig::PATH)),
            Some(std::path::PathBuf::from(PATCH_CFG_TEMP))
        );
    }

    #[test]
    fn channel_fds_must_be_distinct_and_not_stdio() {
        // Checked when the arguments are parsed (args.rs), before any fd is taken.
        let json = |control: i32, out_a: i32, out_b: i32| {
            format!(
                r#"{{"hp_version":"0.6.4","contract_id":"c","public_key":"ed01","private_key":"ed02","timestamp":1,"readonly":false,"lcl_seq_no":1,"lcl_hash":"ab","npl_fd":7,"control_fd":{control},"user_in_fd":6,"users":{{"ed0a":[{out_a}],"ed0b":[{out_b}]}},"unl":{{}}}}"#
            )
        };
        let check = |j: String| Args::parse(j.as_bytes()).map(|_| ());
        assert!(check(json(5, 8, 9)).is_ok());
        let e = check(json(5, 8, 8)).unwrap_err().to_string();
        assert_eq!(
            e,
            "round arguments: field `users.ed0b[0]`: file descriptor 8 is also `users.ed0a[0]`; every channel needs its own"
        );
        let e = check(json(5, 7, 9)).unwrap_err().to_string();
        assert!(
            e.contains("`users.ed0a[0]`") && e.contains("is also `npl_fd`"),
            "{e}"
        );
        let e = check(json(1, 8, 9)).unwrap_err().to_string();
        assert!(e.contains("`control_fd`") && e.contains("stdout"), "{e}");
    }
}
