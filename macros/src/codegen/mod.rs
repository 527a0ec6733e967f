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
use syn::{ImplItem, ItemImpl, parse_quote};

use crate::model::Contract;
use crate::paths::Private;

/// Everything `#[contract]` expands to for a valid block.
pub(crate) fn generate(contract: &Contract) -> TokenStream {
    let private = Private::new(&contract.options.krate);
    let item = user_block(contract);
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

/// The author's block as validated. Handlers get an `allow` for the clippy
/// lints that question their signature, which the framework imposes: an
/// unused receiver, a `&mut self` not used mutably, a `Result` that is always
/// `Ok`, or a handler that "could be `const`" (handlers cannot be).
fn user_block(contract: &Contract) -> ItemImpl {
    let mut item = contract.item.clone();
    for impl_item in &mut item.items {
        let ImplItem::Fn(func) = impl_item else {
            continue;
        };
        if contract
            .handlers
            .iter()
            .any(|handler| handler.ident == func.sig.ident)
        {
            func.attrs.push(parse_quote! {
                #[allow(
                    clippy::unused_self,
                    clippy::needless_pass_by_ref_mut,
                    clippy::unnecessary_wraps,
                    clippy::missing_const_for_fn,
                )]
            });
        }
    }
    item
}
