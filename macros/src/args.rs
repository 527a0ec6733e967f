//! The `#[contract(..)]` options, in two steps: [`ContractArgs::parse`] reads
//! each `key = value` on its own, [`ContractArgs::build`] checks how they
//! combine with the handlers and fills in defaults.

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::meta::ParseNestedMeta;
use syn::parse::Parser;
use syn::spanned::Spanned;
use syn::{Expr, ExprLit, Lit, Token};

use crate::diag::Errors;

const EXPECTED_KEYS: &str = "expected `state`, `store`, `npl_timeout_ms`, `error_reply` or `crate`";

/// The options as written, each with the span of its key. An option that
/// failed to parse is left `None` (its error is already recorded).
#[derive(Default)]
pub(crate) struct ContractArgs {
    state: Option<(String, Span)>,
    store: Option<Span>,
    npl_timeout_ms: Option<(u64, Span)>,
    error_reply: Option<(syn::ExprPath, Span)>,
    krate: Option<(syn::Path, Span)>,
}

/// The options, checked and with defaults filled in.
#[derive(Debug)]
pub(crate) struct Options {
    /// `state = ".."`: the file the contract type is persisted to.
    pub(crate) state_file: Option<String>,
    /// `store`: the contract uses `hotpocket::store` (opened and committed
    /// by the runtime around the handlers).
    pub(crate) store: bool,
    /// `npl_timeout_ms = N`: the NPL phase's time budget.
    pub(crate) npl_timeout_ms: Option<u64>,
    /// `error_reply = path`: the function that answers an input its handler
    /// did not (`fn(&Self, &InputFailure<'_>) -> Option<Vec<u8>>`).
    pub(crate) error_reply: Option<syn::ExprPath>,
    /// `crate = ".."`: the path of the runtime crate, `::hotpocket` by default.
    pub(crate) krate: syn::Path,
}

impl ContractArgs {
    /// Parses the attribute's arguments, recording every problem in `errors`.
    pub(crate) fn parse(tokens: TokenStream, errors: &mut Errors) -> Self {
        let mut args = ContractArgs::default();
        let parser = syn::meta::parser(|meta| args.parse_option(meta, errors));
        if let Err(error) = parser.parse2(tokens) {
            errors.push(error);
        }
        args
    }

    fn parse_option(&mut self, meta: ParseNestedMeta<'_>, errors: &mut Errors) -> syn::Result<()> {
        let path = &meta.path;
        let Some(key) = Key::ALL.into_iter().find(|key| path.is_ident(key.name())) else {
            let shown = path.to_token_stream().to_string().replace(' ', "");
            errors.spanned(
                path,
                format_args!("unknown option `{shown}`; {EXPECTED_KEYS}"),
            );
            return skip_value(&meta);
        };
        let name = key.name();
        if let Key::Store = key {
            return self.parse_flag(&meta, errors);
        }
        if !meta.input.peek(Token![=]) {
            errors.spanned(
                path,
                format_args!("`{name}` needs a value, e.g. {}", key.example()),
            );
            return skip_value(&meta);
        }
        let value: Expr = meta.value()?.parse()?;
        let already_set = match key {
            Key::State => self.state.is_some(),
            Key::Store => self.store.is_some(),
            Key::NplTimeoutMs => self.npl_timeout_ms.is_some(),
            Key::ErrorReply => self.error_reply.is_some(),
            Key::Crate => self.krate.is_some(),
        };
        if already_set {
            errors.spanned(path, format_args!("`{name}` set more than once"));
            return Ok(());
        }
        let span = path.span();
        match key {
            Key::State => self.state = keep(parse_state(&value), span, errors),
            Key::Store => {}
            Key::NplTimeoutMs => self.npl_timeout_ms = keep(parse_timeout(&value), span, errors),
            Key::ErrorReply => self.error_reply = keep(parse_error_reply(value), span, errors),
            Key::Crate => self.krate = keep(parse_crate(&value), span, errors),
        }
        Ok(())
    }

    /// `store` is a bare flag: `#[contract(store)]`.
    fn parse_flag(&mut self, meta: &ParseNestedMeta<'_>, errors: &mut Errors) -> syn::Result<()> {
        let path = &meta.path;
        if meta.input.peek(Token![=]) || meta.input.peek(syn::token::Paren) {
            errors.spanned(path, "`store` takes no value: write `#[contract(store)]`");
            return skip_value(meta);
        }
        if self.store.is_some() {
            errors.spanned(path, "`store` set more than once");
        }
        self.store = Some(path.span());
        Ok(())
    }

    /// Checks how the options combine with the handlers: `npl_declared` is
    /// whether the block has an `#[on_npl]` handler (or an attribute that
    /// might have been meant as one).
    /// The runtime crate's path as written (or the default), for the
    /// fallback, which needs it before (and whether or not) `build` runs.
    pub(crate) fn crate_path(&self) -> syn::Path {
        self.krate
            .as_ref()
            .map_or_else(default_crate, |(path, _)| path.clone())
    }

    pub(crate) fn build(self, npl_declared: bool, errors: &mut Errors) -> Options {
        if let (Some((_, span)), false) = (&self.npl_timeout_ms, npl_declared) {
            errors.at(
                *span,
                "`npl_timeout_ms` has no effect without an `#[on_npl]` handler",
            );
        }
        if let Some((_, span)) = &self.state
            && crate::serde_dep::manifest_lacks_serde()
        {
            errors.at(*span, crate::serde_dep::MISSING_SERDE);
        }
        Options {
            state_file: self.state.map(|(file, _)| file),
            store: self.store.is_some(),
            npl_timeout_ms: self.npl_timeout_ms.map(|(ms, _)| ms),
            error_reply: self.error_reply.map(|(path, _)| path),
            krate: self.krate.map_or_else(default_crate, |(path, _)| path),
        }
    }
}

/// The parsed value with its key's span, or `None` once the error is recorded.
fn keep<T>(parsed: syn::Result<T>, key_span: Span, errors: &mut Errors) -> Option<(T, Span)> {
    parsed
        .map(|value| (value, key_span))
        .map_err(|error| errors.push(error))
        .ok()
}

fn default_crate() -> syn::Path {
    let ident = syn::Ident::new("hotpocket", Span::call_site());
    syn::parse_quote!(::#ident)
}

/// The option keys.
#[derive(Clone, Copy)]
enum Key {
    State,
    Store,
    NplTimeoutMs,
    ErrorReply,
    Crate,
}

impl Key {
    const ALL: [Key; 5] = [
        Key::State,
        Key::Store,
        Key::NplTimeoutMs,
        Key::ErrorReply,
        Key::Crate,
    ];

    fn name(self) -> &'static str {
        match self {
            Key::State => "state",
            Key::Store => "store",
            Key::NplTimeoutMs => "npl_timeout_ms",
            Key::ErrorReply => "error_reply",
            Key::Crate => "crate",
        }
    }

    fn example(self) -> &'static str {
        match self {
            Key::State => "`state = \"state.json\"`",
            Key::Store => "`store`",
            Key::NplTimeoutMs => "`npl_timeout_ms = 500`",
            Key::ErrorReply => "`error_reply = Self::error_reply`",
            Key::Crate => "`crate = \"hotpocket\"`",
        }
    }
}

/// Skips whatever follows a key that cannot be used (`= expr` or `(..)`), so
/// that the options after it are still checked.
fn skip_value(meta: &ParseNestedMeta<'_>) -> syn::Result<()> {
    if meta.input.peek(Token![=]) {
        let _: Expr = meta.value()?.parse()?;
    } else if meta.input.peek(syn::token::Paren) {
        let _: proc_macro2::Group = meta.input.parse()?;
    }
    Ok(())
}

fn lit(value: &Expr) -> Option<&Lit> {
    match value {
        Expr::Lit(ExprLit { lit, attrs }) if attrs.is_empty() => Some(lit),
        Expr::Group(group) => lit(&group.expr),
        _ => None,
    }
}

fn parse_state(value: &Expr) -> syn::Result<String> {
    let Some(Lit::Str(lit)) = lit(value) else {
        return Err(syn::Error::new_spanned(
            value,
            "expected a file name string, e.g. `state = \"state.json\"`",
        ));
    };
    let file = lit.value();
    if file.is_empty() || file == "." || file == ".." || file.contains(['/', '\0']) {
        return Err(syn::Error::new_spanned(
            lit,
            "`state` must name a file in the contract's working directory, e.g. `state = \"state.json\"` (no `/`, not `.` or `..`)",
        ));
    }
    Ok(file)
}

fn parse_timeout(value: &Expr) -> syn::Result<u64> {
    let Some(Lit::Int(lit)) = lit(value) else {
        return Err(syn::Error::new_spanned(
            value,
            "expected an integer number of milliseconds, e.g. `npl_timeout_ms = 500`",
        ));
    };
    match lit.base10_parse::<u64>() {
        Ok(0) => Err(syn::Error::new_spanned(
            lit,
            "`npl_timeout_ms` must be greater than 0",
        )),
        Ok(ms) => Ok(ms),
        Err(_) => Err(syn::Error::new_spanned(
            lit,
            "`npl_timeout_ms` must fit in a `u64`",
        )),
    }
}

fn parse_error_reply(value: Expr) -> syn::Result<syn::ExprPath> {
    match value {
        Expr::Path(path) if path.attrs.is_empty() => Ok(path),
        Expr::Group(group) => parse_error_reply(*group.expr),
        other => Err(syn::Error::new_spanned(
            other,
            "expected the path of a function `fn(&Self, &hotpocket::InputFailure<'_>) -> Option<Vec<u8>>`, e.g. `error_reply = Self::error_reply`",
        )),
    }
}

fn parse_crate(value: &Expr) -> syn::Result<syn::Path> {
    let Some(Lit::Str(lit)) = lit(value) else {
        return Err(syn::Error::new_spanned(
            value,
            "expected the runtime crate's path as a string, e.g. `crate = \"hotpocket\"`",
        ));
    };
    lit.parse::<syn::Path>().map_err(|_| {
        syn::Error::new_spanned(
            lit,
            "expected the runtime crate's path, e.g. `crate = \"hotpocket\"`",
        )
    })
}
