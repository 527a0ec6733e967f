//! The validated contract: a [`Contract`] value exists only if the author's
//! block and options follow every rule, so code generation cannot fail.

mod attrs;
mod handler;
mod json_owned;
mod kind;
#[cfg(test)]
mod tests;

use std::collections::HashMap;

use proc_macro2::Span;
use syn::{ImplItem, ItemImpl, Type};

pub(crate) use self::handler::{Handler, InputArg, Param, Receiver};
pub(crate) use self::kind::{HandlerKind, ParamKind};
use crate::args::{ContractArgs, Options};
use crate::diag::Errors;

/// An inherent impl block that is a valid contract.
#[derive(Debug)]
pub(crate) struct Contract {
    /// The author's block, with the `#[on_*]` attributes removed.
    pub(crate) item: ItemImpl,
    /// The checked `#[contract(..)]` options.
    pub(crate) options: Options,
    /// The handlers, at most one per kind, in the order the round runs them.
    pub(crate) handlers: Vec<Handler>,
}

/// A block that is not a valid contract: the errors, and the block with the
/// `#[on_*]` attributes removed so it can still be emitted.
pub(crate) struct Rejected {
    pub(crate) item: Box<ItemImpl>,
    pub(crate) error: syn::Error,
}

impl Contract {
    /// Validates `item` against the rules, together with the options parsed
    /// into `args`, adding every problem to `errors` (which may already hold
    /// the options' own errors).
    pub(crate) fn from_syn(
        args: ContractArgs,
        mut item: ItemImpl,
        mut errors: Errors,
    ) -> Result<Self, Rejected> {
        check_impl_block(&item, &mut errors);
        attrs::reject_reserved_idents(&item, &mut errors);

        item.attrs.retain(|attr| {
            let is_handler_attr = attr
                .path()
                .get_ident()
                .is_some_and(|ident| ident.to_string().starts_with("on_"));
            if is_handler_attr {
                errors.spanned(
                    attr,
                    "handler attributes go on methods inside the `#[contract]` block",
                );
            }
            !is_handler_attr
        });
        let mut handlers: Vec<Handler> = Vec::new();
        let mut first_of_kind: HashMap<HandlerKind, Span> = HashMap::new();
        let mut saw_unknown = false;
        for impl_item in &mut item.items {
            let item_attrs = match impl_item {
                ImplItem::Fn(func) => &mut func.attrs,
                ImplItem::Const(item) => &mut item.attrs,
                ImplItem::Type(item) => &mut item.attrs,
                ImplItem::Macro(item) => &mut item.attrs,
                _ => continue,
            };
            let found = attrs::take_handler_attrs(item_attrs, &mut errors);
            saw_unknown |= found.saw_unknown;
            let Some((kind, span)) = found.first else {
                continue;
            };
            let is_first = match first_of_kind.get(&kind) {
                Some(&first) => {
                    errors.at(
                        span,
                        format_args!("more than one {kind} handler; a contract has at most one"),
                    );
                    errors.at(first, format_args!("first {kind} handler is here"));
                    false
                }
                None => {
                    first_of_kind.insert(kind, span);
                    true
                }
            };
            let ImplItem::Fn(func) = impl_item else {
                errors.at(span, format_args!("{kind} goes on a method"));
                continue;
            };
            match Handler::new(kind, func) {
                Ok(handler) if is_first => handlers.push(handler),
                Ok(_) => {}
                Err(error) => errors.push(error),
            }
        }
        if first_of_kind.is_empty() && !saw_unknown {
            let kinds: Vec<String> = HandlerKind::ALL.iter().map(ToString::to_string).collect();
            errors.spanned(
                &item.self_ty,
                format_args!(
                    "a `#[contract]` needs at least one handler: {}",
                    kinds.join(", ")
                ),
            );
        }
        let npl_declared = first_of_kind.contains_key(&HandlerKind::Npl) || saw_unknown;
        let options = args.build(npl_declared, &mut errors);

        handlers.sort_by_key(|handler| handler.kind);
        match errors.finish() {
            Ok(()) => Ok(Contract {
                item,
                options,
                handlers,
            }),
            Err(error) => Err(Rejected {
                item: Box::new(item),
                error,
            }),
        }
    }

    /// The contract type.
    pub(crate) fn self_ty(&self) -> &Type {
        &self.item.self_ty
    }

    /// The handler of `kind`, if the block declares one.
    pub(crate) fn handler(&self, kind: HandlerKind) -> Option<&Handler> {
        self.handlers.iter().find(|handler| handler.kind == kind)
    }
}

/// The block must be an inherent impl of one concrete type.
fn check_impl_block(item: &ItemImpl, errors: &mut Errors) {
    const MESSAGE: &str = "put `#[contract]` on an inherent `impl` block";
    if let Some(token) = &item.modifiers.defaultness {
        errors.spanned(token, format_args!("{MESSAGE}, not a `default impl`"));
    }
    if let Some(token) = &item.unsafety {
        errors.spanned(token, format_args!("{MESSAGE}, not an `unsafe impl`"));
    }
    if let Some(bang) = &item.modifiers.polarity {
        errors.spanned(bang, format_args!("{MESSAGE}, not a negative impl"));
    }
    if let Some((path, for_token)) = &item.trait_ {
        errors.spanned(
            quote::quote!(#path #for_token),
            format_args!("{MESSAGE}, not a trait implementation"),
        );
    }
    if !item.generics.params.is_empty() {
        errors.spanned(
            &item.generics,
            "a `#[contract]` impl block cannot be generic; the contract is one concrete type",
        );
    }
    if let Some(where_clause) = &item.generics.where_clause {
        errors.spanned(
            where_clause,
            "a `#[contract]` impl block cannot have a `where` clause",
        );
    }
}
