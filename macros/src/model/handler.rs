//! One handler method and the signature rules it must follow.
//!
//! The macro checks the shape only: qualifiers, generics, the receiver, and
//! the count, order and reference-ness of the parameters. Whether the input
//! type is an extractor and whether the return type is allowed is left to the
//! runtime's traits, so those errors come from rustc on the author's types.

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::visit::Visit;
use syn::{FnArg, Ident, ImplItemFn, PatType, ReturnType, Signature, Type};

use super::kind::{HandlerKind, ParamKind};
use crate::diag::Errors;

/// A method marked with a handler attribute, with a valid signature.
#[derive(Debug)]
pub(crate) struct Handler {
    /// Which attribute marked it.
    pub(crate) kind: HandlerKind,
    /// The method's name.
    pub(crate) ident: Ident,
    /// How it borrows the contract.
    pub(crate) receiver: Receiver,
    /// The parameters after the receiver, in the order `kind.params()` lists them.
    pub(crate) params: Vec<Param>,
    /// The declared return type; the runtime's traits decide whether it is allowed.
    pub(crate) output: ReturnType,
}

/// How a handler borrows the contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Receiver {
    /// `&self`
    Ref,
    /// `&mut self`
    RefMut,
}

/// A parameter after the receiver.
#[derive(Debug)]
pub(crate) enum Param {
    /// `&mut Round`, `&User`, `&Node` or `&[u8]`: forwarded from the runtime
    /// as is. `span` is the author's type, where type mismatches point.
    Context { kind: ParamKind, span: Span },
    /// The input, converted by the runtime's `FromInput`.
    Input(InputArg),
}

/// The input parameter of `#[on_input]` / `#[on_read_request]`.
#[derive(Debug)]
pub(crate) struct InputArg {
    /// The extractor type as the author wrote it, e.g. `Json<Cmd>`.
    pub(crate) ty: Box<Type>,
}

impl Handler {
    /// Checks `func` against the rules for `kind`, reporting every problem.
    pub(crate) fn new(kind: HandlerKind, func: &ImplItemFn) -> syn::Result<Self> {
        let sig = &func.sig;
        let mut errors = Errors::new();
        check_qualifiers(kind, sig, &mut errors);

        let mut inputs = sig.inputs.iter().peekable();
        let receiver = match inputs.next_if(|arg| matches!(arg, FnArg::Receiver(_))) {
            Some(FnArg::Receiver(receiver)) => check_receiver(kind, receiver, &mut errors),
            _ => {
                errors.spanned(
                    &sig.ident,
                    format_args!(
                        "{kind} handlers must take `&mut self` or `&self` as their first argument"
                    ),
                );
                None
            }
        };
        let typed: Vec<&PatType> = inputs
            .filter_map(|arg| match arg {
                FnArg::Typed(typed) => Some(typed),
                FnArg::Receiver(_) => None,
            })
            .collect();
        let params = check_params(kind, sig, &typed, &mut errors);
        let mut impl_traits = ImplTraits::default();
        impl_traits.visit_return_type(&sig.output);
        impl_traits.report(kind, &mut errors);

        errors.finish()?;
        match (receiver, params) {
            (Some(receiver), Some(params)) => Ok(Handler {
                kind,
                ident: sig.ident.clone(),
                receiver,
                params,
                output: sig.output.clone(),
            }),
            // Unreachable: a missing receiver or parameter always records an error.
            _ => Err(syn::Error::new_spanned(
                &sig.ident,
                format_args!("invalid {kind} handler"),
            )),
        }
    }

    /// The extractor type, for handlers that take an input.
    pub(crate) fn input(&self) -> Option<&InputArg> {
        self.params.iter().find_map(|param| match param {
            Param::Input(input) => Some(input),
            Param::Context { .. } => None,
        })
    }
}

fn check_qualifiers(kind: HandlerKind, sig: &Signature, errors: &mut Errors) {
    if let Some(token) = &sig.constness {
        errors.spanned(token, format_args!("{kind} handlers cannot be `const`"));
    }
    if let Some(token) = &sig.asyncness {
        errors.spanned(
            token,
            format_args!("{kind} handlers cannot be `async`; the round calls them one at a time"),
        );
    }
    if let syn::Safety::Unsafe(token) = &sig.safety {
        errors.spanned(token, format_args!("{kind} handlers cannot be `unsafe`"));
    }
    if let Some(abi) = &sig.abi {
        errors.spanned(abi, format_args!("{kind} handlers cannot be `extern`"));
    }
    if !sig.generics.params.is_empty() {
        errors.spanned(
            &sig.generics,
            format_args!("{kind} handlers cannot have generic parameters"),
        );
    }
    if let Some(where_clause) = &sig.generics.where_clause {
        errors.spanned(
            where_clause,
            format_args!("{kind} handlers cannot have a `where` clause"),
        );
    }
    if let Some(variadic) = &sig.variadic {
        errors.spanned(variadic, format_args!("{kind} handlers cannot be variadic"));
    }
}

fn check_receiver(
    kind: HandlerKind,
    receiver: &syn::Receiver,
    errors: &mut Errors,
) -> Option<Receiver> {
    let found = match &receiver.kind {
        syn::ReceiverKind::Reference(_, _, mutability) => {
            return Some(if mutability.is_some() {
                Receiver::RefMut
            } else {
                Receiver::Ref
            });
        }
        syn::ReceiverKind::Typed(..) => "a typed `self`",
        _ if receiver.mutability.is_some() => "`mut self`",
        _ => "`self`",
    };
    errors.spanned(
        receiver,
        format_args!("{kind} handlers must take `&mut self` or `&self`, found {found}"),
    );
    None
}

/// Checks the parameters after the receiver, in order. Stops at the first
/// misplaced one: the rest would only repeat the same mistake.
fn check_params(
    kind: HandlerKind,
    sig: &Signature,
    typed: &[&PatType],
    errors: &mut Errors,
) -> Option<Vec<Param>> {
    let expected = kind.params();
    let mut params = Vec::with_capacity(expected.len());
    for (index, &want) in expected.iter().enumerate() {
        let Some(arg) = typed.get(index) else {
            let message = match want {
                ParamKind::Input => format!(
                    "missing the input argument; {kind} handlers take it after `&User`, e.g. {}",
                    want.example()
                ),
                _ => format!(
                    "missing {}; {kind} handlers take {}",
                    want.example(),
                    kind.signature()
                ),
            };
            errors.at(sig.paren_token.span.join(), message);
            return None;
        };
        params.push(check_param(kind, want, &arg.ty, errors)?);
    }
    if let Some(extra) = typed
        .get(expected.len()..)
        .filter(|extra| !extra.is_empty())
    {
        let message = match kind {
            HandlerKind::Input | HandlerKind::ReadRequest => {
                format!(
                    "unexpected argument; {kind} handlers take exactly one input argument, after `&User`"
                )
            }
            _ => format!(
                "unexpected argument; {kind} handlers take {}",
                kind.signature()
            ),
        };
        errors.spanned(quote::quote!(#(#extra),*), message);
        return None;
    }
    Some(params)
}

fn check_param(
    kind: HandlerKind,
    want: ParamKind,
    ty: &Type,
    errors: &mut Errors,
) -> Option<Param> {
    let mut wrong = |message: String| {
        errors.spanned(ty, message);
        None
    };
    // A type mismatch on a context parameter is reported on its type's name.
    let context = Param::Context {
        kind: want,
        span: match ungroup(ty) {
            Type::Reference(reference) => last_ident(&reference.elem).map(Ident::span),
            _ => None,
        }
        .unwrap_or_else(|| ty.span()),
    };
    let expected = want.expected();
    match (want, want.context(), ungroup(ty)) {
        (ParamKind::Input, _, _) => {
            let mut impl_traits = ImplTraits::default();
            impl_traits.visit_type(ty);
            super::json_owned::check(ty, errors);
            impl_traits.report(kind, errors).then(|| {
                Param::Input(InputArg {
                    ty: Box::new(ty.clone()),
                })
            })
        }
        (ParamKind::Message, _, Type::Reference(reference)) if is_byte_slice(&reference.elem) => {
            match reference.mutability {
                None => Some(context),
                Some(_) => wrong(format!("expected {expected}, found `&mut [u8]`")),
            }
        }
        (_, Some((name, mutable)), Type::Reference(reference))
            if last_ident_is(&reference.elem, name) =>
        {
            match (reference.mutability.is_some(), mutable) {
                (true, true) | (false, false) => Some(context),
                (false, true) => wrong(format!("expected {expected}, found `&{name}`")),
                (true, false) => wrong(format!("expected {expected}, found `&mut {name}`")),
            }
        }
        (_, Some((name, _)), by_value) if last_ident_is(by_value, name) => {
            wrong(format!("expected {expected}, found `{name}` by value"))
        }
        _ => wrong(format!(
            "expected {expected}; {kind} handlers take {}",
            kind.signature()
        )),
    }
}

/// Collects every `impl Trait` in the nodes it visits: handlers are called
/// through one concrete signature, so they cannot be generic, even implicitly.
#[derive(Default)]
struct ImplTraits<'ast>(Vec<&'ast syn::TypeImplTrait>);

impl<'ast> Visit<'ast> for ImplTraits<'ast> {
    fn visit_type_impl_trait(&mut self, node: &'ast syn::TypeImplTrait) {
        self.0.push(node);
    }
}

impl ImplTraits<'_> {
    fn report(self, kind: HandlerKind, errors: &mut Errors) -> bool {
        for node in &self.0 {
            errors.spanned(
                node,
                format_args!("{kind} handlers cannot use `impl Trait`; name a concrete type"),
            );
        }
        self.0.is_empty()
    }
}

/// Looks through the invisible groups and parentheses macros may add.
fn ungroup(ty: &Type) -> &Type {
    match ty {
        Type::Group(group) => ungroup(&group.elem),
        Type::Paren(paren) => ungroup(&paren.elem),
        ty => ty,
    }
}

/// The last segment of a path type (`Round` in `hotpocket::Round`).
fn last_ident(ty: &Type) -> Option<&Ident> {
    match ungroup(ty) {
        Type::Path(path) if path.qself.is_none() => {
            path.path.segments.last().map(|segment| &segment.ident)
        }
        _ => None,
    }
}

/// Whether `ty` is a path whose last segment is `name`, whatever its prefix
/// (`Round`, `hotpocket::Round`, ...). Names are the only thing the macro can
/// see; the type system checks they are the runtime's types.
fn last_ident_is(ty: &Type, name: &str) -> bool {
    last_ident(ty).is_some_and(|ident| ident == name)
}

fn is_byte_slice(ty: &Type) -> bool {
    match ungroup(ty) {
        Type::Slice(slice) => last_ident_is(&slice.elem, "u8"),
        _ => false,
    }
}
