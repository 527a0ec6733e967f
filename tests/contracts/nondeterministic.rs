//! A deliberately nondeterministic contract: it answers each user with the
//! iteration order of a `HashMap` (randomly seeded per process) and its
//! process id, and stores the process id in its state. Nodes must disagree.

mod raw;

use std::collections::HashMap;

fn main() {
    let ctx = raw::read_args();
    let map: HashMap<String, u32> = (0..16).map(|i| (format!("k{i}"), i)).collect();
    let order: Vec<&str> = map.keys().map(String::as_str).collect();
    for (_, fd, _) in ctx.users() {
        raw::send(fd, order.join(",").as_bytes()).expect("send");
        raw::send(fd, format!("pid:{}", std::process::id()).as_bytes()).expect("send");
    }
    if !ctx.read_only() {
        std::fs::write("pid.txt", std::process::id().to_string()).expect("write");
    }
}
