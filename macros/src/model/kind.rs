//! The handler kinds, their attribute names and the signatures they expect.

use std::fmt;

/// What a handler reacts to. The attribute is `#[<name>]`, and the method
/// of the runtime's `Contract` trait that forwards to it has the same name.
/// Ordered as the round runs them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum HandlerKind {
    /// `#[on_round_start]`: once per round, before any input.
    RoundStart,
    /// `#[on_input]`: once per user input in consensus rounds.
    Input,
    /// `#[on_read_request]`: the one input of a read-only round.
    ReadRequest,
    /// `#[on_npl]`: once per NPL message until it says the phase is done.
    Npl,
    /// `#[on_round_end]`: once per round, after everything else.
    RoundEnd,
}

/// One parameter after the receiver, in the order a kind expects them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ParamKind {
    /// `&mut Round`
    Round,
    /// `&User`
    User,
    /// `&Node`
    Node,
    /// `&[u8]`: the NPL message.
    Message,
    /// Any type: the input, turned into it by the runtime's `FromInput`.
    Input,
}

impl HandlerKind {
    /// Every kind, in the order the round runs them.
    pub(crate) const ALL: [HandlerKind; 5] = [
        HandlerKind::RoundStart,
        HandlerKind::Input,
        HandlerKind::ReadRequest,
        HandlerKind::Npl,
        HandlerKind::RoundEnd,
    ];

    /// The attribute name, which is also the `Contract` trait method name.
    pub(crate) fn name(self) -> &'static str {
        match self {
            HandlerKind::RoundStart => "on_round_start",
            HandlerKind::Input => "on_input",
            HandlerKind::ReadRequest => "on_read_request",
            HandlerKind::Npl => "on_npl",
            HandlerKind::RoundEnd => "on_round_end",
        }
    }

    /// The kind whose attribute is `#[name]`.
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.name() == name)
    }

    /// The parameters after the receiver.
    pub(crate) fn params(self) -> &'static [ParamKind] {
        match self {
            HandlerKind::RoundStart | HandlerKind::RoundEnd => &[ParamKind::Round],
            HandlerKind::Input | HandlerKind::ReadRequest => {
                &[ParamKind::Round, ParamKind::User, ParamKind::Input]
            }
            HandlerKind::Npl => &[ParamKind::Round, ParamKind::Node, ParamKind::Message],
        }
    }

    /// The expected parameter list, for error messages.
    pub(crate) fn signature(self) -> &'static str {
        match self {
            HandlerKind::RoundStart | HandlerKind::RoundEnd => "`(&mut self, ctx: &mut Round)`",
            HandlerKind::Input | HandlerKind::ReadRequest => {
                "`(&mut self, ctx: &mut Round, user: &User, input: E)` where `E` is an input extractor such as `&[u8]`, `&str` or `Json<T>`"
            }
            HandlerKind::Npl => "`(&mut self, ctx: &mut Round, from: &Node, msg: &[u8])`",
        }
    }
}

/// Formats as the attribute, e.g. `` `#[on_input]` ``, ready for messages.
impl fmt::Display for HandlerKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`#[{}]`", self.name())
    }
}

impl ParamKind {
    /// The expected type, for error messages.
    pub(crate) fn expected(self) -> &'static str {
        match self {
            ParamKind::Round => "`&mut Round`",
            ParamKind::User => "`&User`",
            ParamKind::Node => "`&Node`",
            ParamKind::Message => "`&[u8]`",
            ParamKind::Input => "an input argument",
        }
    }

    /// A typical way to write the parameter, for error messages.
    pub(crate) fn example(self) -> &'static str {
        match self {
            ParamKind::Round => "`ctx: &mut Round`",
            ParamKind::User => "`user: &User`",
            ParamKind::Node => "`from: &Node`",
            ParamKind::Message => "`msg: &[u8]`",
            ParamKind::Input => "`input: &[u8]`, `input: &str` or `Json(cmd): Json<Cmd>`",
        }
    }

    /// For the context parameters: the type name (last path segment) and
    /// whether the reference is `&mut`.
    pub(crate) fn context(self) -> Option<(&'static str, bool)> {
        match self {
            ParamKind::Round => Some(("Round", true)),
            ParamKind::User => Some(("User", false)),
            ParamKind::Node => Some(("Node", false)),
            ParamKind::Message | ParamKind::Input => None,
        }
    }
}
