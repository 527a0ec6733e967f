//! How generated code names the runtime: only through its hidden
//! `__private` module, always by an absolute path.

use proc_macro2::{Span, TokenStream};
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
}
