//! The expressions whose types the runtime's traits check, spanned at the
//! author's tokens so that a rejected type (E0277) is reported on the
//! author's argument type, return type or contract type, not on
//! `#[contract]`.

use proc_macro2::{Span, TokenStream};
use quote::quote_spanned;
use syn::spanned::Spanned;
use syn::{ReturnType, Type};

use crate::model::{Handler, HandlerKind, InputArg};
use crate::paths::Private;

/// A span that resolves names like `Span::call_site()` but reports at `span`.
pub(super) fn at(span: Span) -> Span {
    Span::call_site().located_at(span)
}

/// Converts the input bytes into the extractor type with `FromInput`,
/// returning the runtime's extraction error from the shim on failure.
pub(super) fn extract_input(
    private: &Private<'_>,
    input: &InputArg,
    bytes: &TokenStream,
) -> TokenStream {
    let ty = &input.ty;
    let span = at(ty.span());
    let from_input = private.item_at("FromInput", span);
    let handler_error = private.item_at("HandlerError", span);
    quote_spanned! {span=>
        ::core::result::Result::map_err(
            <#ty as #from_input<'_>>::from_input(#bytes),
            #handler_error::extract,
        )?
    }
}

/// Converts what the handler returned with `IntoHandlerResult` (or
/// `IntoNplResult` for `#[on_npl]`). `call` is spanned like the result, so
/// rustc points at the return type when the trait is not implemented.
pub(super) fn handler_result(
    private: &Private<'_>,
    handler: &Handler,
    call: TokenStream,
) -> TokenStream {
    let (trait_name, method) = match handler.kind {
        HandlerKind::Npl => ("IntoNplResult", "into_npl_result"),
        _ => ("IntoHandlerResult", "into_handler_result"),
    };
    let span = at(output_span(handler));
    let into_result = private.item_at(trait_name, span);
    let method = syn::Ident::new(method, span);
    quote_spanned!(span=> #into_result::#method(#call))
}

/// Where the handler's result is reported: its return type, or its name
/// when it returns `()` implicitly.
pub(super) fn output_span(handler: &Handler) -> Span {
    match &handler.output {
        ReturnType::Type(_, ty) => ty.span(),
        ReturnType::Default => handler.ident.span(),
    }
}

/// `load()` of a stateless contract: the type's `Default`.
pub(super) fn load_default(private: &Private<'_>, self_ty: &Type) -> TokenStream {
    let error = private.item("Error");
    quote_spanned! {at(self_ty.span())=>
        fn load() -> ::core::result::Result<Self, #error> {
            ::core::result::Result::Ok(<#self_ty as ::core::default::Default>::default())
        }
    }
}

/// `load()`, `save()` and `state_codec()` of a contract persisted to
/// `file`, all through the one bounded call `json_codec::<T>`: a state
/// type missing a trait is then reported once (rustc drops the identical
/// repeats), not once per method.
pub(super) fn load_save_state(private: &Private<'_>, self_ty: &Type, file: &str) -> TokenStream {
    let span = at(self_ty.span());
    let error = private.item("Error");
    let codec_ty = private.item("StateCodec");
    let json_codec = private.item_at("json_codec", span);
    let json = quote_spanned!(span=> #json_codec::<#self_ty>(#file));
    quote_spanned! {span=>
        fn load() -> ::core::result::Result<Self, #error> {
            #json.load()
        }
        fn save(&self) -> ::core::result::Result<(), #error> {
            #json.save(self)
        }
        fn state_codec() -> ::core::option::Option<#codec_ty<Self>> {
            ::core::option::Option::Some(#json)
        }
    }
}
