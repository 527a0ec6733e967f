//! Raw test contract that edits its own `../patch.cfg` with serde_json, so
//! the simulator's patch.cfg handling is checked against a writer that is not
//! the runtime's. Each input is one command:
//!
//! - `set <dotted.key> <json>`: sets a value (`set consensus.roundtime 2000`);
//! - `del <dotted.key>`: removes a key;
//! - `raw <text>`: replaces the whole file with `text`;
//! - `only <public key> <command>`: runs the command on that node only;
//! - `show`: answers `FOO=<env FOO> argv=<args> ts=<timestamp>`;
//! - `big <n>`: answers with `n` bytes.
//!
//! In fallback rounds (no users) it runs `$PATCH_ON_FALLBACK` as a command.

mod raw;

use serde_json::Value;

const PATCH: &str = "../patch.cfg";

fn main() {
    let ctx = raw::read_args();
    let me = ctx.str("public_key").to_owned();
    if ctx.fallback()
        && let Ok(cmd) = std::env::var("PATCH_ON_FALLBACK")
    {
        command(&ctx, &me, &cmd, None);
    }
    for (_, fd, inputs) in ctx.users() {
        for input in inputs {
            command(&ctx, &me, &String::from_utf8_lossy(&input), Some(fd));
        }
    }
}

fn command(ctx: &raw::Ctx, me: &str, cmd: &str, reply: Option<i32>) {
    let (verb, rest) = cmd.split_once(' ').unwrap_or((cmd, ""));
    match verb {
        "set" | "del" => {
            let mut doc: Value =
                serde_json::from_str(&std::fs::read_to_string(PATCH).expect("read")).expect("json");
            let (path, value) = rest.split_once(' ').unwrap_or((rest, "null"));
            let mut keys: Vec<&str> = path.split('.').collect();
            let last = keys.pop().expect("a key");
            let mut node = &mut doc;
            for k in keys {
                node = &mut node[k];
            }
            let obj = node.as_object_mut().expect("an object");
            if verb == "set" {
                obj.insert(
                    last.into(),
                    serde_json::from_str(value).expect("a JSON value"),
                );
            } else {
                obj.remove(last);
            }
            let text = serde_json::to_string_pretty(&doc).expect("serialise");
            std::fs::write(PATCH, text).expect("write");
        }
        "raw" => std::fs::write(PATCH, rest).expect("write"),
        "only" => {
            let (key, cmd) = rest.split_once(' ').expect("only KEY COMMAND");
            if key == me {
                command(ctx, me, cmd, reply);
            }
        }
        "show" => {
            let line = format!(
                "FOO={} argv={:?} ts={}",
                std::env::var("FOO").unwrap_or_default(),
                std::env::args().skip(1).collect::<Vec<_>>(),
                ctx.args["timestamp"]
            );
            raw::send(reply.expect("a user"), line.as_bytes()).expect("send");
        }
        "big" => {
            let n: usize = rest.parse().expect("a size");
            // Over the limit the engine closes the socket: an error here is expected.
            let _ = raw::send(reply.expect("a user"), &vec![b'x'; n]);
        }
        other => eprintln!("patch: unknown command {other:?}"),
    }
}
