//! The error accumulator: every check pushes here, so the author sees all
//! problems of one expansion at once, each on its own tokens.

use std::fmt::Display;

use proc_macro2::{Punct, Spacing, Span, TokenStream};
use quote::{ToTokens, TokenStreamExt};

/// Collects `syn::Error`s; [`Errors::finish`] turns them into one combined
/// error. Dropping an unfinished accumulator is a bug in this crate and
/// panics, so no check can be silently lost.
#[derive(Default)]
pub(crate) struct Errors {
    combined: Option<syn::Error>,
    finished: bool,
}

impl Errors {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Records an error.
    pub(crate) fn push(&mut self, error: syn::Error) {
        match &mut self.combined {
            Some(combined) => combined.combine(error),
            None => self.combined = Some(error),
        }
    }

    /// Records an error that covers `tokens` (from their first to their last token).
    pub(crate) fn spanned(&mut self, tokens: impl ToTokens, message: impl Display) {
        self.push(syn::Error::new_spanned(tokens, message));
    }

    /// Records an error at one span.
    pub(crate) fn at(&mut self, span: Span, message: impl Display) {
        self.push(syn::Error::new(span, message));
    }

    /// All recorded errors plus `last`, for a failure that ends the checks.
    pub(crate) fn fail_with(mut self, last: syn::Error) -> syn::Error {
        self.finished = true;
        match self.combined.take() {
            Some(mut combined) => {
                combined.combine(last);
                combined
            }
            None => last,
        }
    }

    /// All recorded errors as one, or `Ok` when there were none.
    pub(crate) fn finish(mut self) -> syn::Result<()> {
        self.finished = true;
        match self.combined.take() {
            Some(error) => Err(error),
            None => Ok(()),
        }
    }
}

impl Drop for Errors {
    // A bug detector, never triggered by the author's input: every code path
    // that creates an accumulator finishes it.
    #[allow(clippy::panic)]
    fn drop(&mut self) {
        if !self.finished && !std::thread::panicking() {
            panic!("hotpocket-macros bug: an error accumulator was dropped without `finish()`");
        }
    }
}

/// Two tokens that carry a start and an end span, so that
/// `syn::Error::new_spanned` reports the whole range between them on stable Rust.
pub(crate) struct SpanRange(pub(crate) Span, pub(crate) Span);

impl ToTokens for SpanRange {
    fn to_tokens(&self, tokens: &mut TokenStream) {
        for span in [self.0, self.1] {
            let mut punct = Punct::new('.', Spacing::Alone);
            punct.set_span(span);
            tokens.append(punct);
        }
    }
}
