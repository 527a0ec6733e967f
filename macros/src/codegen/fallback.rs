//! What `#[contract]` expands to when the block is rejected: the errors, the
//! author's code (handler attributes removed) and an empty `main`, so that the
//! author sees our errors and nothing that merely follows from them (no
//! "cannot find attribute `on_input`", no "`main` function not found", no
//! "no method named `add`" elsewhere in the crate).

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};

/// The rejected item, the errors and a stand-in `main`. `has_main` says the
/// item itself is a `fn main` (`#[contract]` put on the wrong thing), which
/// must not be defined twice.
pub(crate) fn generate(item: impl ToTokens, error: syn::Error, has_main: bool) -> TokenStream {
    let errors = error.to_compile_error();
    let main_fn = (!has_main).then(|| {
        quote!(
            fn main() {}
        )
    });
    quote! {
        #errors
        #item
        #main_fn
    }
}
