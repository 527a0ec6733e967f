//! `#[contract]`: options and block → model → code, or the fallback with
//! every error when the model rejects them.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote};

use crate::args::ContractArgs;
use crate::codegen::{self, fallback};
use crate::diag::{Errors, SpanRange};
use crate::model::{Contract, HandlerKind};

/// Expands `#[contract(attr)] item`.
pub(crate) fn contract(attr: TokenStream, item: TokenStream) -> TokenStream {
    let mut errors = Errors::new();
    let args = ContractArgs::parse(attr, &mut errors);
    let item = match syn::parse2::<syn::Item>(item.clone()) {
        Ok(syn::Item::Impl(item)) => item,
        Ok(other) => {
            let (start, end) = target_span(&other);
            let message = "put `#[contract]` on an inherent `impl` block";
            let error = errors.fail_with(syn::Error::new_spanned(SpanRange(start, end), message));
            let is_main = matches!(&other, syn::Item::Fn(func) if func.sig.ident == "main");
            return fallback::generate(other, error, is_main);
        }
        Err(error) => return fallback::generate(item, errors.fail_with(error), false),
    };
    let krate = args.crate_path();
    match Contract::from_syn(args, item, errors) {
        Ok(contract) => codegen::generate(&contract),
        Err(rejected) => fallback::generate_impl(&rejected.item, rejected.error, &krate),
    }
}

/// Expands a handler attribute found outside a `#[contract]` block: the item
/// unchanged, and an error on the attribute.
pub(crate) fn stray_handler_attr(kind: HandlerKind, item: TokenStream) -> TokenStream {
    let message = format!("{kind} is only valid on a method inside a `#[contract]` impl block");
    let error = syn::Error::new(proc_macro2::Span::call_site(), message).to_compile_error();
    quote!(#error #item)
}

/// Where to report that `#[contract]` is on the wrong item: its keyword and
/// name (`struct Counter`), or the whole item.
fn target_span(item: &syn::Item) -> (Span, Span) {
    use syn::Item;
    let keyword_and_name = match item {
        Item::Struct(item) => Some((item.struct_token.span, &item.ident)),
        Item::Enum(item) => Some((item.enum_token.span, &item.ident)),
        Item::Union(item) => Some((item.union_token.span, &item.ident)),
        Item::Fn(item) => Some((item.sig.fn_token.span, &item.sig.ident)),
        Item::Trait(item) => Some((item.trait_token.span, &item.ident)),
        Item::Mod(item) => Some((item.mod_token.span, &item.ident)),
        Item::Type(item) => Some((item.type_token.span, &item.ident)),
        Item::Const(item) => Some((item.const_token.span, &item.ident)),
        Item::Static(item) => Some((item.static_token.span, &item.ident)),
        _ => None,
    };
    match keyword_and_name {
        Some((keyword, name)) => (keyword, name.span()),
        None => {
            let mut tokens = item.to_token_stream().into_iter();
            let first = tokens
                .next()
                .map_or_else(Span::call_site, |token| token.span());
            let last = tokens.last().map_or(first, |token| token.span());
            (first, last)
        }
    }
}
