//! Outputs the engine's JSON user protocol would not deliver as written,
//! flagged in every run: the simulator cannot know which protocol a
//! contract's clients will use, and a real cluster serves both.

use super::{Hazard, UserOutputs, render_bytes};
use crate::sim::serve::embed::raw_problem;

/// A [`Hazard::RawJsonOutput`] per output a JSON client would not receive
/// as written, users in report order, outputs in emission order.
pub(crate) fn raw_json_hazards(outputs: &[UserOutputs]) -> Vec<Hazard> {
    outputs
        .iter()
        .flat_map(|u| {
            u.messages.iter().enumerate().filter_map(|(message, m)| {
                raw_problem(m).map(|problem| Hazard::RawJsonOutput {
                    user: u.user.clone(),
                    message,
                    output: render_bytes(m),
                    problem,
                })
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::test_node;
    use super::*;
    use crate::sim::serve::embed::RawProblem;

    #[test]
    fn names_the_user_and_the_output() {
        let n = test_node(0, &[b"{\"value\":1}", b"{abc}", b"2", b"1.50"], "");
        let found = raw_json_hazards(&n.outputs);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(matches!(
            &found[0],
            Hazard::RawJsonOutput { user, message: 1, problem: RawProblem::Invalid, .. } if user == "alice"
        ));
        let text = found[1].to_string();
        assert!(
            text.starts_with("output #3 to alice (\"1.50\") looks like JSON")
                && text.contains("parses the number 1.50 as 1.5"),
            "{text}"
        );
    }
}
