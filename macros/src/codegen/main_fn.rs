//! The binary's entry point: the runtime runs one round of the contract.

use proc_macro2::TokenStream;
use quote::quote;

use crate::model::Contract;
use crate::paths::Private;

/// `fn main() { <crate>::__private::run::<T>() }`, spanned at the attribute,
/// so a clash with another `main` points at `#[contract]`.
pub(super) fn generate(contract: &Contract, private: &Private<'_>) -> TokenStream {
    let self_ty = contract.self_ty();
    let run = private.item("run");
    quote! {
        fn main() {
            #run::<#self_ty>()
        }
    }
}
