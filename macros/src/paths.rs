//! How generated code names the runtime: only through its hidden
//! `__private` module, always by an absolute path.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::quote;

/// The runtime's `__private` module, reached from the crate path given by
/// `crate = ".."` (`::hotpocket` by default).
pub(crate) struct Private<'a> {
    krate: &'a syn::Path,
}

impl<'a> Private<'a> {
    pub(crate) fn new(krate: &'a syn::Path) -> Self {
        Private { krate }
    }

    /// `<crate>::__private::<name>`.
    pub(crate) fn item(&self, name: &str) -> TokenStream {
        let krate = self.krate;
        let name = syn::Ident::new(name, Span::call_site());
        quote!(#krate::__private::#name)
    }

    /// [`Private::item`] with every token reported at `span` (resolved like
    /// the rest), so that a trait-bound error on a call through it points at
    /// the author's tokens rather than at `#[contract]`.
    pub(crate) fn item_at(&self, name: &str, span: Span) -> TokenStream {
        self.item(name)
            .into_iter()
            .map(|mut token| {
                if let TokenTree::Group(_) = token {
                    return token;
                }
                token.set_span(span);
                token
            })
            .collect()
    }
}
