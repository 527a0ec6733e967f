//! Expansion tests on the stable fragments of the output. What the code does
//! is tested by compiling it (tests/ui) and running it (the runtime's tests).

use proc_macro2::TokenStream;
use quote::quote;

use crate::expand;

fn expand(attr: TokenStream, item: TokenStream) -> String {
    expand::contract(attr, item).to_string()
}

fn counter() -> TokenStream {
    quote! {
        impl Counter {
            #[on_input]
            fn add(&mut self, ctx: &mut Round, user: &User, Json(cmd): Json<Cmd>) -> Result<()> { Ok(()) }
        }
    }
}

#[test]
fn main_runs_the_contract() {
    let out = expand(quote!(), counter());
    assert!(
        out.ends_with(
            &quote!(
                fn main() {
                    ::hotpocket::__private::run::<Counter>()
                }
            )
            .to_string()
        ),
        "{out}"
    );
}

#[test]
fn contract_impl_is_hidden_in_an_anonymous_const() {
    let out = expand(quote!(), counter());
    let header = quote! {
        #[automatically_derived]
        #[allow(
            unused_qualifications,
            clippy::unit_arg,
            clippy::used_underscore_binding,
        )]
        impl ::hotpocket::__private::Contract for Counter
    };
    assert!(
        out.contains(&format!("const _ : () = {{ {header} {{")),
        "{out}"
    );
    let consts = quote! {
        const STATE_FILE: ::core::option::Option<&'static ::core::primitive::str> = ::core::option::Option::None;
        const NPL_TIMEOUT_MS: ::core::option::Option<::core::primitive::u64> = ::core::option::Option::None;
        const HAS_NPL: ::core::primitive::bool = false;
        const HAS_READ_REQUEST: ::core::primitive::bool = false;
    };
    assert!(out.contains(&consts.to_string()), "{out}");
}

#[test]
fn user_block_comes_first_without_handler_attributes() {
    let out = expand(quote!(), counter());
    let block = quote! {
        impl Counter {
            #[allow(
                clippy::unused_self,
                clippy::needless_pass_by_ref_mut,
                clippy::unnecessary_wraps,
                clippy::missing_const_for_fn,
            )]
            fn add(&mut self, ctx: &mut Round, user: &User, Json(cmd): Json<Cmd>) -> Result<()> { Ok(()) }
        }
    };
    assert!(out.starts_with(&block.to_string()), "{out}");
}

#[test]
fn input_shim_extracts_then_forwards() {
    let out = expand(quote!(), counter());
    let shim = quote! {
        fn on_input(
            &mut self,
            __hotpocket_round: &mut ::hotpocket::__private::Round,
            __hotpocket_user: &::hotpocket::__private::User,
            __hotpocket_bytes: &[::core::primitive::u8]
        ) -> ::core::result::Result<(), ::hotpocket::__private::HandlerError> {
            let __hotpocket_input = ::core::result::Result::map_err(
                <Json<Cmd> as ::hotpocket::__private::FromInput<'_>>::from_input(__hotpocket_bytes),
                ::hotpocket::__private::HandlerError::extract,
            )?;
            ::hotpocket::__private::IntoHandlerResult::into_handler_result(
                Self::add(self, __hotpocket_round, __hotpocket_user, __hotpocket_input)
            )
        }
    };
    assert!(out.contains(&shim.to_string()), "{out}");
}

#[test]
fn options_become_constants_and_state_functions() {
    let item = quote! {
        impl Counter {
            #[on_npl]
            fn vote(&self, ctx: &mut Round, from: &Node, msg: &[u8]) -> bool { true }
        }
    };
    let out = expand(
        quote!(state = "counter.json", npl_timeout_ms = 250, crate = "hp"),
        item,
    );
    for fragment in [
        quote!(impl hp::__private::Contract for Counter),
        quote!(
            const STATE_FILE: ::core::option::Option<&'static ::core::primitive::str> =
                ::core::option::Option::Some("counter.json");
        ),
        quote!(
            const NPL_TIMEOUT_MS: ::core::option::Option<::core::primitive::u64> =
                ::core::option::Option::Some(250u64);
        ),
        quote!(
            const HAS_NPL: ::core::primitive::bool = true;
        ),
        quote!(
            fn load() -> ::core::result::Result<Self, hp::__private::Error> {
                hp::__private::json_codec::<Counter>("counter.json").load()
            }
        ),
        quote!(
            fn save(&self) -> ::core::result::Result<(), hp::__private::Error> {
                hp::__private::json_codec::<Counter>("counter.json").save(self)
            }
        ),
        quote!(
            fn state_codec() -> ::core::option::Option<hp::__private::StateCodec<Self>> {
                ::core::option::Option::Some(hp::__private::json_codec::<Counter>("counter.json"))
            }
        ),
        quote!(hp::__private::IntoNplResult::into_npl_result(Self::vote(
            &*self,
            __hotpocket_round,
            __hotpocket_from,
            __hotpocket_bytes
        ))),
        quote!(
            fn main() {
                hp::__private::run::<Counter>()
            }
        ),
    ] {
        assert!(
            out.contains(&fragment.to_string()),
            "missing {fragment}\nin {out}"
        );
    }
}

#[test]
fn error_reply_calls_the_authors_function() {
    let out = expand(quote!(error_reply = Self::reply), counter());
    let method = quote! {
        fn error_reply(
            &self,
            __hotpocket_failure: &::hotpocket::__private::InputFailure<'_>,
        ) -> ::core::option::Option<::std::vec::Vec<::core::primitive::u8>> {
            Self::reply(self, __hotpocket_failure)
        }
    };
    assert!(out.contains(&method.to_string()), "{out}");
    assert!(!expand(quote!(), counter()).contains("fn error_reply"));
}

#[test]
fn stateless_contract_starts_from_default() {
    let out = expand(quote!(), counter());
    let load = quote! {
        fn load() -> ::core::result::Result<Self, ::hotpocket::__private::Error> {
            ::core::result::Result::Ok(<Counter as ::core::default::Default>::default())
        }
    };
    assert!(out.contains(&load.to_string()), "{out}");
    assert!(!out.contains("fn save"), "{out}");
}

#[test]
fn rejected_block_is_still_emitted_with_an_empty_main() {
    let item = quote! {
        impl Counter {
            #[on_input]
            async fn add(&mut self, ctx: &mut Round, user: &User, input: &[u8]) {}
            fn helper(&self) {}
        }
    };
    let out = expand(quote!(), item);
    let expected = quote! {
        ::core::compile_error! { "`#[on_input]` handlers cannot be `async`; the round calls them one at a time" }
        impl Counter {
            async fn add(&mut self, ctx: &mut Round, user: &User, input: &[u8]) {}
            fn helper(&self) {}
        }
        fn main() {}
        // A stub, so a same-crate `TestRound::run` adds no follow-on error.
        #[automatically_derived]
        impl ::hotpocket::__private::Contract for Counter {
            fn load() -> ::core::result::Result<Self, ::hotpocket::__private::Error> {
                ::core::unreachable!("`#[contract]` rejected this block; it does not build")
            }
        }
    };
    assert_eq!(out, expected.to_string());
}

#[test]
fn wrong_target_is_still_emitted() {
    let out = expand(
        quote!(),
        quote!(
            struct Counter;
        ),
    );
    let expected = quote! {
        ::core::compile_error! { "put `#[contract]` on an inherent `impl` block" }
        struct Counter;
        fn main() {}
    };
    assert_eq!(out, expected.to_string());
    let out = expand(
        quote!(),
        quote!(
            fn main() {}
        ),
    );
    assert!(!out.contains("fn main () { } fn main"), "{out}");
}
