//! What `#[contract]` expands to when the block is rejected: the errors, the
//! author's code (handler attributes removed), a stub `Contract` impl and an
//! empty `main`, so that the author sees our errors and nothing that merely
//! follows from them (no "cannot find attribute `on_input`", no "`main`
//! function not found", no "no method named `add`" and no "`Contract` is not
//! implemented" from a same-crate `TestRound::run(&mut c)`).

use proc_macro2::TokenStream;
use quote::{ToTokens, quote};

use crate::paths::Private;

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

/// [`generate`] for a rejected impl block, plus a stub `Contract` impl for
/// its type (as thiserror does for a rejected derive). The stub is never
/// run: the crate does not build while the errors stand. A generic block
/// gets none, since its parameters may be what was rejected.
pub(crate) fn generate_impl(
    item: &syn::ItemImpl,
    error: syn::Error,
    krate: &syn::Path,
) -> TokenStream {
    let base = generate(item, error, false);
    if !item.generics.params.is_empty() || item.trait_.is_some() {
        return base;
    }
    let private = Private::new(krate);
    let contract_trait = private.item("Contract");
    let error_ty = private.item("Error");
    let self_ty = &item.self_ty;
    quote! {
        #base
        #[automatically_derived]
        impl #contract_trait for #self_ty {
            fn load() -> ::core::result::Result<Self, #error_ty> {
                ::core::unreachable!("`#[contract]` rejected this block; it does not build")
            }
        }
    }
}
