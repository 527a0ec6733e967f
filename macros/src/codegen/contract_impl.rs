//! `impl <crate>::__private::Contract for T`: the options as associated
//! constants, state loading and saving, and one forwarding shim per handler.

use proc_macro2::{Literal, Span, TokenStream};
use quote::{ToTokens, format_ident, quote, quote_spanned};

use super::checks;
use crate::model::{Contract, Handler, HandlerKind, Param, ParamKind, Receiver};
use crate::paths::Private;

pub(super) fn generate(contract: &Contract, private: &Private<'_>) -> TokenStream {
    let self_ty = contract.self_ty();
    let contract_trait = private.item("Contract");
    let consts = consts(contract);
    let load_save = match &contract.options.state_file {
        Some(file) => checks::load_save_state(private, self_ty, file),
        None => checks::load_default(private, self_ty),
    };
    let shims = contract
        .handlers
        .iter()
        .map(|handler| shim(private, handler));
    let error_reply = contract
        .options
        .error_reply
        .as_ref()
        .map(|path| error_reply(private, path));
    quote! {
        #[automatically_derived]
        #[allow(
            unused_qualifications,
            clippy::unit_arg,
            clippy::used_underscore_binding,
        )]
        impl #contract_trait for #self_ty {
            #consts
            #load_save
            #(#shims)*
            #error_reply
        }
    }
}

fn consts(contract: &Contract) -> TokenStream {
    let options = &contract.options;
    let state_file = match &options.state_file {
        Some(file) => quote!(::core::option::Option::Some(#file)),
        None => quote!(::core::option::Option::None),
    };
    let npl_timeout_ms = match options.npl_timeout_ms {
        Some(ms) => {
            let ms = Literal::u64_suffixed(ms);
            quote!(::core::option::Option::Some(#ms))
        }
        None => quote!(::core::option::Option::None),
    };
    let has_npl = contract.handler(HandlerKind::Npl).is_some();
    let has_read_request = contract.handler(HandlerKind::ReadRequest).is_some();
    // With `store`, a hotpocket built without the feature fails the build
    // (the constant is evaluated when `run` is instantiated for the type).
    let uses_store = if options.store {
        let krate = &options.krate;
        quote! {{
            #krate::__private::core::assert!(
                #krate::__private::STORE_FEATURE,
                "`#[contract(store)]` needs the `store` feature of the hotpocket crate"
            );
            true
        }}
    } else {
        quote!(false)
    };
    quote! {
        const USES_STORE: ::core::primitive::bool = #uses_store;
        const STATE_FILE: ::core::option::Option<&'static ::core::primitive::str> = #state_file;
        const NPL_TIMEOUT_MS: ::core::option::Option<::core::primitive::u64> = #npl_timeout_ms;
        const HAS_NPL: ::core::primitive::bool = #has_npl;
        const HAS_READ_REQUEST: ::core::primitive::bool = #has_read_request;
    }
}

/// `error_reply = path`: the author's function answers failed inputs. The
/// call carries the path's span, so a function of the wrong type is reported
/// at the option.
fn error_reply(private: &Private<'_>, path: &syn::ExprPath) -> TokenStream {
    let failure = private.item("InputFailure");
    let span = syn::spanned::Spanned::span(path);
    let call = quote_spanned!(span=> #path(self, __hotpocket_failure));
    quote! {
        fn error_reply(
            &self,
            __hotpocket_failure: &#failure<'_>,
        ) -> ::core::option::Option<::std::vec::Vec<::core::primitive::u8>> {
            #call
        }
    }
}

/// The name the shim gives a parameter of `kind`.
fn param_ident(kind: ParamKind, span: Span) -> syn::Ident {
    let name = match kind {
        ParamKind::Round => "__hotpocket_round",
        ParamKind::User => "__hotpocket_user",
        ParamKind::Node => "__hotpocket_from",
        ParamKind::Message | ParamKind::Input => "__hotpocket_bytes",
    };
    syn::Ident::new(name, span)
}

/// The trait method for `handler`: convert the input if there is one, call
/// the author's method, convert what it returns.
fn shim(private: &Private<'_>, handler: &Handler) -> TokenStream {
    let kind = handler.kind;
    let method = format_ident!("{}", kind.name());
    let round = private.item("Round");
    let handler_error = private.item("HandlerError");
    let call_site = Span::call_site();

    let params = kind.params().iter().map(|&param| {
        let ident = param_ident(param, call_site);
        match param {
            ParamKind::Round => quote!(#ident: &mut #round),
            ParamKind::User => {
                let user = private.item("User");
                quote!(#ident: &#user)
            }
            ParamKind::Node => {
                let node = private.item("Node");
                quote!(#ident: &#node)
            }
            ParamKind::Message | ParamKind::Input => quote!(#ident: &[::core::primitive::u8]),
        }
    });
    let ok = match kind {
        HandlerKind::Npl => private.item("Npl"),
        _ => quote!(()),
    };

    let extract = handler.input().map(|input| {
        let bytes = param_ident(ParamKind::Input, call_site).into_token_stream();
        let value = checks::extract_input(private, input, &bytes);
        quote!(let __hotpocket_input = #value;)
    });
    let args = handler.params.iter().map(|param| match param {
        Param::Context { kind, span } => param_ident(*kind, checks::at(*span)).into_token_stream(),
        Param::Input(_) => quote!(__hotpocket_input),
    });
    let ident = &handler.ident;
    let call_span = checks::at(checks::output_span(handler));
    let receiver = match handler.receiver {
        Receiver::RefMut => quote_spanned!(call_span=> self),
        Receiver::Ref => quote_spanned!(call_span=> &*self),
    };
    let call = quote_spanned!(call_span=> Self::#ident(#receiver, #(#args),*));
    let result = checks::handler_result(private, handler, call);

    quote! {
        fn #method(&mut self, #(#params),*) -> ::core::result::Result<#ok, #handler_error> {
            #extract
            #result
        }
    }
}
