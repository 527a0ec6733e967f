//! The model's rules, one by one: what is accepted, and the exact message
//! for what is not.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{ItemImpl, parse_quote};

use super::{Contract, HandlerKind, Param, ParamKind, Receiver};
use crate::args::ContractArgs;
use crate::diag::Errors;

fn check(attr: TokenStream, item: ItemImpl) -> Result<Contract, Vec<String>> {
    let mut errors = Errors::new();
    let args = ContractArgs::parse(attr, &mut errors);
    Contract::from_syn(args, item, errors)
        .map_err(|rejected| rejected.error.into_iter().map(|e| e.to_string()).collect())
}

fn valid(attr: TokenStream, item: ItemImpl) -> Contract {
    match check(attr, item) {
        Ok(contract) => contract,
        Err(errors) => panic!("expected a valid contract, got {errors:#?}"),
    }
}

/// The messages, in the order they are reported.
fn errors(attr: TokenStream, item: ItemImpl) -> Vec<String> {
    match check(attr, item) {
        Ok(_) => panic!("expected errors, the contract was accepted"),
        Err(errors) => errors,
    }
}

/// A block with one `#[on_round_end]` handler, for option tests.
fn minimal() -> ItemImpl {
    parse_quote! {
        impl C {
            #[on_round_end]
            fn end(&mut self, ctx: &mut Round) {}
        }
    }
}

/// A block whose only handler is `handler`, for signature tests.
fn with_handler(handler: TokenStream) -> ItemImpl {
    parse_quote!(impl C { #handler })
}

fn handler_errors(handler: TokenStream) -> Vec<String> {
    errors(quote!(), with_handler(handler))
}

#[test]
fn accepts_every_handler_kind_in_lifecycle_order() {
    let contract = valid(
        quote!(state = "counter.json", npl_timeout_ms = 500),
        parse_quote! {
            impl Counter {
                #[on_round_end]
                fn end(&mut self, ctx: &mut Round) -> Result<()> { Ok(()) }
                #[on_npl]
                fn vote(&mut self, ctx: &mut Round, from: &Node, msg: &[u8]) -> Result<Npl> { todo!() }
                #[on_read_request]
                fn query(&self, ctx: &mut Round, user: &User, input: &str) {}
                #[on_input]
                fn add(&mut self, ctx: &mut hotpocket::Round, user: &::hotpocket::User, Json(cmd): Json<Cmd>) -> Result<()> { Ok(()) }
                #[on_round_start]
                fn start(&mut self, _: &mut Round) {}
                fn helper(&self) -> i64 { self.total }
            }
        },
    );
    let kinds: Vec<HandlerKind> = contract.handlers.iter().map(|h| h.kind).collect();
    assert_eq!(kinds, HandlerKind::ALL);
    let query = contract.handler(HandlerKind::ReadRequest).unwrap();
    assert_eq!(query.receiver, Receiver::Ref);
    assert_eq!(query.ident, "query");
    let add = contract.handler(HandlerKind::Input).unwrap();
    assert_eq!(add.receiver, Receiver::RefMut);
    let input = &add.input().unwrap().ty;
    assert_eq!(quote!(#input).to_string(), quote!(Json<Cmd>).to_string());
    let vote = contract.handler(HandlerKind::Npl).unwrap();
    let params: Vec<ParamKind> = vote
        .params
        .iter()
        .map(|param| match param {
            Param::Context { kind, .. } => *kind,
            Param::Input(_) => ParamKind::Input,
        })
        .collect();
    assert_eq!(
        params,
        [ParamKind::Round, ParamKind::Node, ParamKind::Message]
    );
    assert_eq!(contract.options.state_file.as_deref(), Some("counter.json"));
    assert_eq!(contract.options.npl_timeout_ms, Some(500));
    let krate = &contract.options.krate;
    assert_eq!(quote!(#krate).to_string(), ":: hotpocket");
}

#[test]
fn removes_handler_attributes_and_keeps_everything_else() {
    let contract = valid(
        quote!(),
        parse_quote! {
            #[allow(dead_code)]
            impl C {
                /// Docs stay.
                #[inline]
                #[on_input]
                fn add(&mut self, ctx: &mut Round, user: &User, input: Vec<u8>) {}
                const N: u8 = 1;
            }
        },
    );
    let item = &contract.item;
    let expected: ItemImpl = parse_quote! {
        #[allow(dead_code)]
        impl C {
            /// Docs stay.
            #[inline]
            fn add(&mut self, ctx: &mut Round, user: &User, input: Vec<u8>) {}
            const N: u8 = 1;
        }
    };
    assert_eq!(quote!(#item).to_string(), quote!(#expected).to_string());
}

#[test]
fn options_defaults() {
    let contract = valid(quote!(), minimal());
    assert_eq!(contract.options.state_file, None);
    assert_eq!(contract.options.npl_timeout_ms, None);
}

#[test]
fn option_crate_path() {
    let contract = valid(quote!(crate = "hp"), minimal());
    let krate = &contract.options.krate;
    assert_eq!(quote!(#krate).to_string(), "hp");
    let contract = valid(quote!(crate = "::my::hotpocket"), minimal());
    let krate = &contract.options.krate;
    assert_eq!(quote!(#krate).to_string(), ":: my :: hotpocket");
}

#[test]
fn option_errors() {
    assert_eq!(
        errors(quote!(foo = 1), minimal()),
        [
            "unknown option `foo`; expected `state`, `store`, `npl_timeout_ms`, `error_reply` or `crate`"
        ]
    );
    assert_eq!(
        errors(quote!(error_reply = "reply"), minimal()),
        [
            "expected the path of a function `fn(&Self, &hotpocket::InputFailure<'_>) -> Option<Vec<u8>>`, e.g. `error_reply = Self::error_reply`"
        ]
    );
    assert_eq!(
        errors(quote!(error_reply), minimal()),
        ["`error_reply` needs a value, e.g. `error_reply = Self::error_reply`"]
    );
    assert_eq!(
        errors(quote!(state = "a.json", state = "b.json"), minimal()),
        ["`state` set more than once"]
    );
    assert_eq!(
        errors(
            quote!(state = 5, npl_timeout_ms = "x", crate = hp),
            minimal()
        ),
        [
            "expected a file name string, e.g. `state = \"state.json\"`",
            "expected an integer number of milliseconds, e.g. `npl_timeout_ms = 500`",
            "expected the runtime crate's path as a string, e.g. `crate = \"hotpocket\"`",
        ]
    );
    assert_eq!(
        errors(quote!(state), minimal()),
        ["`state` needs a value, e.g. `state = \"state.json\"`"]
    );
    assert_eq!(
        errors(quote!(crate = "not a path"), minimal()),
        ["expected the runtime crate's path, e.g. `crate = \"hotpocket\"`"]
    );
    assert_eq!(
        errors(quote!(npl_timeout_ms = 99999999999999999999999), minimal()),
        ["`npl_timeout_ms` must fit in a `u64`"]
    );
    // Every option after a bad one is still checked.
    assert_eq!(
        errors(quote!(bar(1, 2), state = "", npl_timeout_ms = 0), minimal()),
        [
            "unknown option `bar`; expected `state`, `store`, `npl_timeout_ms`, `error_reply` or `crate`",
            "`state` must name a file in the contract's working directory, e.g. `state = \"state.json\"` (no `/`, not `.` or `..`)",
            "`npl_timeout_ms` must be greater than 0",
        ]
    );
}

#[test]
fn state_file_must_be_a_plain_name() {
    for bad in ["", ".", "..", "../x", "dir/x.json", "/abs", "nul\0"] {
        let errors = errors(quote!(state = #bad), minimal());
        assert_eq!(errors.len(), 1, "{bad:?}");
        assert!(
            errors[0].starts_with("`state` must name a file"),
            "{bad:?}: {errors:?}"
        );
    }
    for good in ["state.json", ".hidden", "...", "a b"] {
        valid(quote!(state = #good), minimal());
    }
}

#[test]
fn npl_timeout_needs_an_npl_handler() {
    assert_eq!(
        errors(quote!(npl_timeout_ms = 500), minimal()),
        ["`npl_timeout_ms` has no effect without an `#[on_npl]` handler"]
    );
    // A misspelt `#[on_npl]` is reported once, as misspelt.
    let item = with_handler(quote! {
        #[on_nlp]
        fn vote(&mut self, ctx: &mut Round, from: &Node, msg: &[u8]) -> bool { true }
    });
    assert_eq!(
        errors(quote!(npl_timeout_ms = 500), item),
        ["unknown handler attribute `#[on_nlp]`; did you mean `#[on_npl]`?"]
    );
}

#[test]
fn target_must_be_an_inherent_impl_of_one_type() {
    assert_eq!(
        errors(
            quote!(),
            parse_quote!(impl Trait for C { #[on_round_end] fn end(&mut self, ctx: &mut Round) {} })
        ),
        ["put `#[contract]` on an inherent `impl` block, not a trait implementation"]
    );
    assert_eq!(
        errors(
            quote!(),
            parse_quote!(
                impl<T> C<T> {
                    #[on_round_end]
                    fn end(&mut self, ctx: &mut Round) {}
                }
            )
        ),
        ["a `#[contract]` impl block cannot be generic; the contract is one concrete type"]
    );
    assert_eq!(
        errors(
            quote!(),
            parse_quote!(impl C where u8: Copy { #[on_round_end] fn end(&mut self, ctx: &mut Round) {} })
        ),
        ["a `#[contract]` impl block cannot have a `where` clause"]
    );
    assert_eq!(
        errors(
            quote!(),
            parse_quote!(unsafe impl C { #[on_round_end] fn end(&mut self, ctx: &mut Round) {} })
        ),
        ["put `#[contract]` on an inherent `impl` block, not an `unsafe impl`"]
    );
}

#[test]
fn handler_attribute_on_the_block_is_reported_and_removed() {
    let mut errors = Errors::new();
    let args = ContractArgs::parse(quote!(), &mut errors);
    let item: ItemImpl = parse_quote! {
        #[on_input]
        impl C {
            #[on_round_end]
            fn end(&mut self, ctx: &mut Round) {}
        }
    };
    let Err(rejected) = Contract::from_syn(args, item, errors) else {
        panic!("expected an error");
    };
    assert_eq!(
        rejected.error.to_string(),
        "handler attributes go on methods inside the `#[contract]` block"
    );
    assert!(rejected.item.attrs.is_empty());
}

#[test]
fn needs_a_handler() {
    assert_eq!(
        errors(quote!(), parse_quote!(impl C { fn helper(&self) {} })),
        [
            "a `#[contract]` needs at least one handler: `#[on_round_start]`, `#[on_input]`, `#[on_read_request]`, `#[on_npl]`, `#[on_round_end]`"
        ]
    );
}

#[test]
fn handler_attribute_errors() {
    assert_eq!(
        handler_errors(quote!(
            #[on_inputs]
            fn add(&mut self, ctx: &mut Round, user: &User, input: &[u8]) {}
        )),
        ["unknown handler attribute `#[on_inputs]`; did you mean `#[on_input]`?"]
    );
    assert_eq!(
        handler_errors(quote!(
            #[on_start]
            fn start(&mut self, ctx: &mut Round) {}
        )),
        ["unknown handler attribute `#[on_start]`; did you mean `#[on_round_start]`?"]
    );
    assert_eq!(
        handler_errors(quote!(
            #[on_read]
            fn query(&self, ctx: &mut Round, user: &User, input: &[u8]) {}
        )),
        ["unknown handler attribute `#[on_read]`; did you mean `#[on_read_request]`?"]
    );
    assert_eq!(
        handler_errors(quote!(
            #[on_message]
            fn m(&self) {}
        )),
        [
            "unknown handler attribute `#[on_message]`; expected one of `#[on_round_start]`, `#[on_input]`, `#[on_read_request]`, `#[on_npl]`, `#[on_round_end]`"
        ]
    );
    assert_eq!(
        handler_errors(quote!(
            #[on_input(fast)]
            fn add(&mut self, ctx: &mut Round, user: &User, input: &[u8]) {}
        )),
        ["`#[on_input]` takes no arguments"]
    );
    assert_eq!(
        handler_errors(quote!(
            #[on_input]
            #[on_npl]
            fn add(&mut self, ctx: &mut Round, user: &User, input: &[u8]) {}
        )),
        ["this method is already the `#[on_input]` handler; a method can handle one kind only"]
    );
    assert_eq!(
        handler_errors(quote!(
            #[on_input]
            #[on_input]
            fn add(&mut self, ctx: &mut Round, user: &User, input: &[u8]) {}
        )),
        ["duplicate `#[on_input]` attribute"]
    );
    assert_eq!(
        handler_errors(quote!(
            #[on_round_end]
            const N: u8 = 1;
        )),
        ["`#[on_round_end]` goes on a method"]
    );
}

#[test]
fn duplicate_handler_points_at_both() {
    let item = with_handler(quote! {
        #[on_round_end] fn a(&mut self, ctx: &mut Round) {}
        #[on_round_end] fn b(&mut self, ctx: &mut Round) {}
    });
    assert_eq!(
        errors(quote!(), item),
        [
            "more than one `#[on_round_end]` handler; a contract has at most one",
            "first `#[on_round_end]` handler is here",
        ]
    );
}

#[test]
fn qualifiers_are_rejected_all_at_once() {
    assert_eq!(
        handler_errors(quote!(
            #[on_round_end]
            const async unsafe extern "C" fn end<T>(&mut self, ctx: &mut Round)
            where
                T: Copy,
            {
            }
        )),
        [
            "`#[on_round_end]` handlers cannot be `const`",
            "`#[on_round_end]` handlers cannot be `async`; the round calls them one at a time",
            "`#[on_round_end]` handlers cannot be `unsafe`",
            "`#[on_round_end]` handlers cannot be `extern`",
            "`#[on_round_end]` handlers cannot have generic parameters",
            "`#[on_round_end]` handlers cannot have a `where` clause",
        ]
    );
    assert_eq!(
        handler_errors(quote!(
            #[on_input]
            fn add(&mut self, ctx: &mut Round, user: &User, input: impl AsRef<[u8]>) {}
        )),
        ["`#[on_input]` handlers cannot use `impl Trait`; name a concrete type"]
    );
    assert_eq!(
        handler_errors(quote!(
            #[on_round_end]
            fn end(&mut self, ctx: &mut Round) -> impl Sized {}
        )),
        ["`#[on_round_end]` handlers cannot use `impl Trait`; name a concrete type"]
    );
}

#[test]
fn receiver_errors() {
    let expected = |found: &str| {
        vec![format!(
            "`#[on_round_end]` handlers must take `&mut self` or `&self`, found {found}"
        )]
    };
    assert_eq!(
        handler_errors(quote!(
            #[on_round_end]
            fn end(self, ctx: &mut Round) {}
        )),
        expected("`self`")
    );
    assert_eq!(
        handler_errors(quote!(
            #[on_round_end]
            fn end(mut self, ctx: &mut Round) {}
        )),
        expected("`mut self`")
    );
    assert_eq!(
        handler_errors(quote!(
            #[on_round_end]
            fn end(self: Box<Self>, ctx: &mut Round) {}
        )),
        expected("a typed `self`")
    );
    // Without a receiver, the other parameters are still checked in place.
    assert_eq!(
        handler_errors(quote!(
            #[on_round_end]
            fn end(ctx: &mut Round) {}
        )),
        ["`#[on_round_end]` handlers must take `&mut self` or `&self` as their first argument"]
    );
    assert_eq!(
        handler_errors(quote!(
            #[on_round_end]
            fn end(ctx: &Round) {}
        )),
        [
            "`#[on_round_end]` handlers must take `&mut self` or `&self` as their first argument",
            "expected `&mut Round`, found `&Round`",
        ]
    );
}

#[test]
fn round_parameter_errors() {
    assert_eq!(
        handler_errors(quote!(
            #[on_round_start]
            fn start(&mut self) {}
        )),
        [
            "missing `ctx: &mut Round`; `#[on_round_start]` handlers take `(&mut self, ctx: &mut Round)`"
        ]
    );
    assert_eq!(
        handler_errors(quote!(
            #[on_round_start]
            fn start(&mut self, ctx: Round) {}
        )),
        ["expected `&mut Round`, found `Round` by value"]
    );
    assert_eq!(
        handler_errors(quote!(
            #[on_round_start]
            fn start(&mut self, ctx: &Round) {}
        )),
        ["expected `&mut Round`, found `&Round`"]
    );
    // Only the first misplaced parameter is reported.
    assert_eq!(
        handler_errors(quote!(
            #[on_input]
            fn add(&mut self, user: &User, input: &[u8]) {}
        )),
        [
            "expected `&mut Round`; `#[on_input]` handlers take `(&mut self, ctx: &mut Round, user: &User, input: E)` where `E` is an input extractor such as `&[u8]`, `&str` or `Json<T>`"
        ]
    );
}

#[test]
fn json_of_a_borrowing_type_is_reported() {
    for ty in [
        quote!(Json<Cmd<'_>>),
        quote!(Json<&str>),
        quote!(Result<Json<(u8, &'a [u8])>, Rejection>),
    ] {
        let errors = handler_errors(
            quote!(#[on_input] fn f(&mut self, ctx: &mut Round, user: &User, Json(c): #ty) {}),
        );
        assert_eq!(errors.len(), 1, "{ty}: {errors:?}");
        assert!(
            errors[0].starts_with("`Json<T>` needs an owned `T`"),
            "{ty}: {errors:?}"
        );
    }
    for ty in [quote!(Json<Cmd>), quote!(Json<&'static str>), quote!(&str)] {
        let contract: ItemImpl = parse_quote!(impl C {
            #[on_input] fn f(&mut self, ctx: &mut Round, user: &User, c: #ty) {}
        });
        valid(quote!(), contract);
    }
}

#[test]
fn input_handler_parameter_errors() {
    for kind in ["on_input", "on_read_request"] {
        let attr: syn::Ident = syn::parse_str(kind).unwrap();
        assert_eq!(
            handler_errors(quote!(#[#attr] fn f(&mut self, ctx: &mut Round, input: &[u8]) {})),
            [format!(
                "expected `&User`; `#[{kind}]` handlers take `(&mut self, ctx: &mut Round, user: &User, input: E)` where `E` is an input extractor such as `&[u8]`, `&str` or `Json<T>`"
            )]
        );
        assert_eq!(
            handler_errors(
                quote!(#[#attr] fn f(&mut self, ctx: &mut Round, user: User, input: &[u8]) {})
            ),
            ["expected `&User`, found `User` by value"]
        );
        assert_eq!(
            handler_errors(
                quote!(#[#attr] fn f(&mut self, ctx: &mut Round, user: &mut User, input: &[u8]) {})
            ),
            ["expected `&User`, found `&mut User`"]
        );
        assert_eq!(
            handler_errors(quote!(#[#attr] fn f(&mut self, ctx: &mut Round, user: &User) {})),
            [format!(
                "missing the input argument; `#[{kind}]` handlers take it after `&User`, e.g. `input: &[u8]`, `input: &str` or `Json(cmd): Json<Cmd>`"
            )]
        );
        assert_eq!(
            handler_errors(
                quote!(#[#attr] fn f(&mut self, ctx: &mut Round, user: &User, a: &[u8], b: u8, c: u8) {})
            ),
            [format!(
                "unexpected argument; `#[{kind}]` handlers take exactly one input argument, after `&User`"
            )]
        );
    }
    // Any type is an input argument as far as the macro can tell: the
    // runtime's `FromInput` decides.
    valid(
        quote!(),
        with_handler(quote!(
            #[on_input]
            fn f(&mut self, ctx: &mut Round, user: &User, input: u32) {}
        )),
    );
}

#[test]
fn npl_handler_parameter_errors() {
    assert_eq!(
        handler_errors(quote!(
            #[on_npl]
            fn f(&mut self, ctx: &mut Round, from: &User, msg: &[u8]) -> bool {
                true
            }
        )),
        [
            "expected `&Node`; `#[on_npl]` handlers take `(&mut self, ctx: &mut Round, from: &Node, msg: &[u8])`"
        ]
    );
    assert_eq!(
        handler_errors(quote!(
            #[on_npl]
            fn f(&mut self, ctx: &mut Round, from: &Node, msg: Vec<u8>) -> bool {
                true
            }
        )),
        [
            "expected `&[u8]`; `#[on_npl]` handlers take `(&mut self, ctx: &mut Round, from: &Node, msg: &[u8])`"
        ]
    );
    assert_eq!(
        handler_errors(quote!(
            #[on_npl]
            fn f(&mut self, ctx: &mut Round, from: &Node, msg: &mut [u8]) -> bool {
                true
            }
        )),
        ["expected `&[u8]`, found `&mut [u8]`"]
    );
    assert_eq!(
        handler_errors(quote!(
            #[on_npl]
            fn f(&mut self, ctx: &mut Round, from: &Node) -> bool {
                true
            }
        )),
        [
            "missing `msg: &[u8]`; `#[on_npl]` handlers take `(&mut self, ctx: &mut Round, from: &Node, msg: &[u8])`"
        ]
    );
    valid(
        quote!(),
        with_handler(quote!(
            #[on_npl]
            fn f(&self, _: &mut Round, _: &hotpocket::Node, _: &[core::primitive::u8]) {}
        )),
    );
}

#[test]
fn round_end_takes_nothing_more() {
    assert_eq!(
        handler_errors(quote!(
            #[on_round_end]
            fn end(&mut self, ctx: &mut Round, x: u8, y: u8) {}
        )),
        ["unexpected argument; `#[on_round_end]` handlers take `(&mut self, ctx: &mut Round)`"]
    );
}

#[test]
fn reserved_identifiers_are_all_reported() {
    let item = with_handler(quote! {
        #[on_round_end]
        fn __hotpocket_end(&mut self, __hotpocket_ctx: &mut Round) {
            let r#__hotpocket_x = __hotpocket_ctx;
        }
    });
    let message =
        "identifiers starting with `__hotpocket` are reserved for the code `#[contract]` generates";
    assert_eq!(errors(quote!(), item), [message, message, message, message]);
}

#[test]
fn option_and_handler_errors_are_reported_together() {
    let item = with_handler(quote! {
        #[on_round_end]
        async fn end(self, ctx: &mut Round) {}
    });
    assert_eq!(
        errors(quote!(state = 1), item),
        [
            "expected a file name string, e.g. `state = \"state.json\"`",
            "`#[on_round_end]` handlers cannot be `async`; the round calls them one at a time",
            "`#[on_round_end]` handlers must take `&mut self` or `&self`, found `self`",
        ]
    );
}
