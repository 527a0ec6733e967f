//! Raw baseline: the counter. Each input is a JSON command (`{"Add":n}` or
//! `"Get"`), decoded with serde_json from the bytes `pread` put in a reused
//! buffer; the new total goes back as JSON, written straight into the user's
//! output batch; the state (`counter.json`) is loaded at the start and saved
//! atomically at the end (temp file, fsync, rename, fsync of the directory),
//! as a correct stateful contract must.

mod raw;

use std::io::Write as _;

use raw::{Args, Out};
use serde::{Deserialize, Serialize};

#[derive(Default, Serialize, Deserialize)]
struct Counter {
    total: i64,
}

#[derive(Deserialize)]
enum Cmd {
    Add(i64),
    Get,
}

fn main() {
    let json = raw::read_stdin();
    let args = Args::scan(&json);
    let mut state: Counter = match std::fs::read("counter.json") {
        Ok(b) => serde_json::from_slice(&b).expect("state"),
        Err(_) => Counter::default(),
    };
    let mut buf = vec![0u8; 64 * 1024];
    let mut num = Vec::with_capacity(24);
    for u in &args.users {
        let mut out = Out::new(u.fd);
        for &(off, len) in &args.inputs[u.first..u.end] {
            let len = len as usize;
            if buf.len() < len {
                buf.resize(len, 0);
            }
            raw::pread_exact(args.user_in_fd, &mut buf[..len], off);
            match serde_json::from_slice::<Cmd>(&buf[..len]) {
                Ok(Cmd::Add(n)) => state.total = state.total.wrapping_add(n),
                Ok(Cmd::Get) => {}
                Err(e) => {
                    eprintln!("input: {e}");
                    continue;
                }
            }
            num.clear();
            serde_json::to_writer(&mut num, &state.total).expect("encode");
            out.frame(num.len()).copy_from_slice(&num);
        }
        out.flush();
    }
    let bytes = serde_json::to_vec(&state).expect("encode state");
    let mut f = std::fs::File::create("counter.json.tmp").expect("temp state");
    f.write_all(&bytes).expect("write state");
    f.sync_all().expect("fsync state");
    drop(f);
    std::fs::rename("counter.json.tmp", "counter.json").expect("rename state");
    std::fs::File::open(".")
        .and_then(|d| d.sync_all())
        .expect("fsync dir");
}
