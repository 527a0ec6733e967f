//! The binary's entry point: the runtime runs one round of the contract.

use proc_macro2::TokenStream;
use quote::quote;

use crate::model::Contract;
use crate::paths::Private;

/// `fn main() { <crate>::__private::run::<T>() }`, spanned at the attribute,
/// so a clash with another `main` points at `#[contract]`.
///
/// At a binary's root it is the entry point. Anywhere else (a doctest, which
/// rustdoc wraps in its own `main`, or a module of a test that drives the
/// contract in-process with `hotpocket::testing`) it is never called, which
/// is fine and not worth a warning.
pub(super) fn generate(contract: &Contract, private: &Private<'_>) -> TokenStream {
    let self_ty = contract.self_ty();
    let run = private.item("run");
    quote! {
        #[allow(dead_code)]
        fn main() {
            #run::<#self_ty>()
        }
    }
}
