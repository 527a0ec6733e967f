//! Handler attributes (`#[on_*]`) and the reserved-identifier lint.
//!
//! Every attribute whose path is a single identifier starting with `on_` is
//! ours: it is removed from the output, and an unknown one is an error rather
//! than something silently ignored. All other attributes pass through.

use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::visit::Visit;
use syn::{Attribute, Meta};

use super::kind::HandlerKind;
use crate::diag::Errors;

/// Prefix of every identifier the generated code introduces.
pub(crate) const RESERVED_PREFIX: &str = "__hotpocket";

/// The handler attributes found on one item.
#[derive(Default)]
pub(crate) struct HandlerAttrs {
    /// The first known handler attribute and the span of its name.
    pub(crate) first: Option<(HandlerKind, Span)>,
    /// Whether there was an `#[on_*]` attribute that names no handler kind.
    pub(crate) saw_unknown: bool,
}

/// Removes every `#[on_*]` attribute from `attrs` and reports the ones that
/// are malformed, unknown or repeated.
pub(crate) fn take_handler_attrs(attrs: &mut Vec<Attribute>, errors: &mut Errors) -> HandlerAttrs {
    let mut found = HandlerAttrs::default();
    attrs.retain(|attr| {
        let Some(ident) = handler_attr_ident(attr) else {
            return true;
        };
        let name = ident.to_string();
        let Some(kind) = HandlerKind::from_name(&name) else {
            found.saw_unknown = true;
            errors.spanned(ident, unknown_attr_message(&name));
            return false;
        };
        match &attr.meta {
            Meta::Path(_) => {}
            Meta::List(list) => {
                errors.spanned(&list.tokens, format_args!("{kind} takes no arguments"))
            }
            Meta::NameValue(name_value) => {
                errors.spanned(&name_value.value, format_args!("{kind} takes no arguments"));
            }
        }
        match found.first {
            None => found.first = Some((kind, ident.span())),
            Some((first, _)) if first == kind => {
                errors.spanned(attr, format_args!("duplicate {kind} attribute"));
            }
            Some((first, _)) => errors.spanned(
                attr,
                format_args!(
                    "this method is already the {first} handler; a method can handle one kind only"
                ),
            ),
        }
        false
    });
    found
}

/// The name of an `#[on_*]` attribute, if `attr` is one.
fn handler_attr_ident(attr: &Attribute) -> Option<&syn::Ident> {
    let ident = attr.path().get_ident()?;
    ident.to_string().starts_with("on_").then_some(ident)
}

fn unknown_attr_message(name: &str) -> String {
    match suggest(name) {
        Some(kind) => format!("unknown handler attribute `#[{name}]`; did you mean {kind}?"),
        None => {
            let all: Vec<String> = HandlerKind::ALL.iter().map(ToString::to_string).collect();
            format!(
                "unknown handler attribute `#[{name}]`; expected one of {}",
                all.join(", ")
            )
        }
    }
}

/// The handler kind the author most likely meant: a small typo, or a
/// shortened name (`on_start`, `on_end`, `on_read`).
fn suggest(name: &str) -> Option<HandlerKind> {
    let rest = name.strip_prefix("on_").filter(|rest| !rest.is_empty())?;
    HandlerKind::ALL
        .into_iter()
        .map(|kind| (edit_distance(name, kind.name()), kind))
        .filter(|&(distance, kind)| {
            distance <= 2
                || kind.name().ends_with(&format!("_{rest}"))
                || kind.name().starts_with(name)
        })
        .min_by_key(|&(distance, _)| distance)
        .map(|(_, kind)| kind)
}

/// Levenshtein distance, for suggestions.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    // `previous[j]`: distance between the prefix of `a` seen so far and `b[..j]`.
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut left = i + 1;
        let mut current = Vec::with_capacity(b.len() + 1);
        current.push(left);
        for (&cb, window) in b.iter().zip(previous.windows(2)) {
            let &[diagonal, up] = window else { continue };
            left = (diagonal + usize::from(ca != cb)).min(up + 1).min(left + 1);
            current.push(left);
        }
        previous = current;
    }
    previous.last().copied().unwrap_or_default()
}

/// Reports every identifier in `item` that starts with [`RESERVED_PREFIX`].
pub(crate) fn reject_reserved_idents(item: &syn::ItemImpl, errors: &mut Errors) {
    struct Reserved<'e>(&'e mut Errors);
    impl<'ast> Visit<'ast> for Reserved<'_> {
        fn visit_ident(&mut self, ident: &'ast syn::Ident) {
            if ident.unraw().to_string().starts_with(RESERVED_PREFIX) {
                self.0.spanned(
                    ident,
                    format_args!(
                        "identifiers starting with `{RESERVED_PREFIX}` are reserved for the code `#[contract]` generates"
                    ),
                );
            }
        }
    }
    Reserved(errors).visit_item_impl(item);
}
