//! Signs and verifies with the simulator's real ed25519 keys.
//!
//! Each round, every UNL node signs `ledger <n>` with its own private key
//! (from the round's arguments) and sends the signature over NPL; every node
//! verifies each peer's signature with that peer's public key and tells its
//! users which nodes' signatures verified. An input `{"msg":..,"sig":..}` is
//! a message signed by the user: the contract answers whether the signature
//! verifies with that user's public key.

use std::collections::BTreeMap;

use hotpocket::crypto;
use hotpocket::prelude::*;

/// Nothing persists; the round's findings live in skipped fields.
#[derive(Default, Serialize, Deserialize)]
struct Signer {
    /// Sender public key → whether its signature for this round verified.
    #[serde(skip)]
    checked: BTreeMap<String, bool>,
}

#[derive(Serialize, Deserialize)]
struct Signed {
    msg: String,
    sig: String,
}

fn statement(ledger: u64) -> String {
    format!("ledger {ledger}")
}

#[hotpocket::contract(state = "signer.json", npl_timeout_ms = 400)]
impl Signer {
    #[on_round_start]
    fn sign(&mut self, ctx: &mut Round) -> Result<()> {
        let Some(ledger) = ctx.lcl_seq_no() else {
            return Ok(());
        };
        let sig = crypto::sign(ctx.private_key().expose_hex(), statement(ledger).as_bytes())
            .map_err(Error::msg)?;
        let msg = Signed {
            msg: statement(ledger),
            sig,
        };
        ctx.npl_send(serde_json::to_vec(&msg).map_err(Error::msg)?)
    }

    #[on_npl]
    fn check(&mut self, ctx: &mut Round, from: &Node, msg: &[u8]) -> Npl {
        let expected = ctx.lcl_seq_no().map(statement);
        let ok = match serde_json::from_slice::<Signed>(msg) {
            Ok(s) if Some(&s.msg) == expected.as_ref() => {
                crypto::verify(from.public_key(), s.msg.as_bytes(), &s.sig).is_ok()
            }
            _ => false,
        };
        self.checked.insert(from.public_key().to_owned(), ok);
        if self.checked.len() == ctx.unl().len() {
            Npl::Done
        } else {
            Npl::Continue
        }
    }

    #[on_input]
    fn verify_user(&mut self, _ctx: &mut Round, user: &User, input: &[u8]) -> Result<()> {
        let answer = match serde_json::from_slice::<Signed>(input) {
            Ok(s) => match crypto::verify(user.public_key(), s.msg.as_bytes(), &s.sig) {
                Ok(()) => format!("valid: {}", s.msg),
                Err(e) => format!("invalid: {e}"),
            },
            Err(e) => format!("not a signed message: {e}"),
        };
        user.send(answer)
    }

    #[on_round_end]
    fn report(&mut self, ctx: &mut Round) -> Result<()> {
        if ctx.lcl_seq_no().is_none() {
            return Ok(());
        }
        for user in ctx.users() {
            user.send_json(&self.checked)?;
        }
        Ok(())
    }
}
