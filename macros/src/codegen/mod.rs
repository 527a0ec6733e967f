//! Code generation from a validated [`Contract`]. Nothing here can fail.
//!
//! The output is the author's block (handler attributes removed), the
//! `Contract` impl hidden in `const _: () = { .. };`, and `fn main`, the only
//! new item in the author's namespace.

mod checks;
mod contract_impl;
pub(crate) mod fallback;
mod main_fn;
#[cfg(test)]
mod tests;

use proc_macro2::TokenStream;
use quote::quote;

use crate::model::Contract;
use crate::paths::Private;

/// Everything `#[contract]` expands to for a valid block.
pub(crate) fn generate(contract: &Contract) -> TokenStream {
    let private = Private::new(&contract.options.krate);
    let item = &contract.item;
    let contract_impl = contract_impl::generate(contract, &private);
    let main_fn = main_fn::generate(contract, &private);
    quote! {
        #item
        const _: () = {
            #contract_impl
        };
        #main_fn
    }
}
