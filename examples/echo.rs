//! **echo**: the smallest contract. Every input of every user comes back to
//! that user, prefixed with `echo: `, in the order it was sent. It shows raw
//! bytes in and out (`&[u8]`), every user, every input, and a stateless
//! contract (a unit struct).
//!
//! Run one round on a simulated 3-node cluster:
//!
//! ```sh
//! cargo run --example echo -- --dev --nodes 3 --input alice:hello --input bob:hi
//! ```

use hotpocket::prelude::*;

/// Stateless: created fresh every round.
#[derive(Default)]
struct Echo;

#[hotpocket::contract]
impl Echo {
    #[on_input]
    fn echo(&mut self, _ctx: &mut Round, user: &User, input: &[u8]) -> Result<()> {
        let mut reply = Vec::with_capacity(6 + input.len());
        reply.extend_from_slice(b"echo: ");
        reply.extend_from_slice(input);
        user.send(reply)
    }
}
