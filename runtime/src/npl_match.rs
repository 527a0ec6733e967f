//! Which NPL messages a rule applies to: the part shared by the in-process
//! cluster's [`NplDrop`](crate::testing::NplDrop) and the simulator's
//! `sim::NplFault`, so both read "from, to, index, topic" alike.

/// A message selector: matches the messages that fit every part given.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct NplMatch {
    pub(crate) from: Option<usize>,
    pub(crate) to: Option<usize>,
    /// The sender's message number in the round, counting from 0.
    pub(crate) index: Option<usize>,
    /// The [`agree`](crate::agree) topic; a message that is no envelope has
    /// none and never matches a topic.
    pub(crate) topic: Option<String>,
}

impl NplMatch {
    /// Whether message `index` (with `topic`) from `from` to `to` fits.
    pub(crate) fn matches(
        &self,
        from: usize,
        to: usize,
        index: usize,
        topic: Option<&str>,
    ) -> bool {
        self.from.is_none_or(|f| f == from)
            && self.to.is_none_or(|t| t == to)
            && self.index.is_none_or(|i| i == index)
            && self.topic.as_deref().is_none_or(|t| Some(t) == topic)
    }
}
