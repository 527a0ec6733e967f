//! `Json<T>` needs an owned `T`: the runtime parses with serde's
//! `DeserializeOwned`, so a `T` that borrows from the input fails with
//! rustc's "implementation of `Deserialize` is not general enough", which
//! never names the cause. A lifetime or a reference written in `T` is
//! reported here instead. (A lifetime left out, `Json<Cmd>` for `Cmd<'a>`,
//! cannot be seen in the tokens; rustc's error stands then.)

use syn::visit::Visit;
use syn::{GenericArgument, PathArguments, Type};

use crate::diag::Errors;

const MESSAGE: &str = "`Json<T>` needs an owned `T` (serde's `DeserializeOwned`): the input is \
    parsed once for the handler and `T` cannot borrow from it; use `String` for `&str` and \
    `Vec<u8>` for `&[u8]` in `T`, or take `&str` / `&[u8]` and parse it yourself";

/// Reports every `Json<..>` in the input type `ty` whose argument borrows.
pub(super) fn check(ty: &Type, errors: &mut Errors) {
    let mut finder = JsonArgs(Vec::new());
    finder.visit_type(ty);
    for arg in finder.0 {
        let mut borrows = Borrows(false);
        borrows.visit_type(arg);
        if borrows.0 {
            errors.spanned(arg, MESSAGE);
        }
    }
}

/// The type arguments of every path segment named `Json`.
struct JsonArgs<'ast>(Vec<&'ast Type>);

impl<'ast> Visit<'ast> for JsonArgs<'ast> {
    fn visit_path_segment(&mut self, segment: &'ast syn::PathSegment) {
        if let (true, PathArguments::AngleBracketed(args)) =
            (segment.ident == "Json", &segment.arguments)
        {
            for arg in &args.args {
                if let GenericArgument::Type(ty) = arg {
                    self.0.push(ty);
                }
            }
        }
        syn::visit::visit_path_segment(self, segment);
    }
}

/// Whether a type names a lifetime other than `'static`, or a reference.
struct Borrows(bool);

impl<'ast> Visit<'ast> for Borrows {
    fn visit_lifetime(&mut self, lifetime: &'ast syn::Lifetime) {
        self.0 |= lifetime.ident != "static";
    }

    fn visit_type_reference(&mut self, reference: &'ast syn::TypeReference) {
        self.0 |= reference
            .lifetime
            .as_ref()
            .is_none_or(|lifetime| lifetime.ident != "static");
        syn::visit::visit_type_reference(self, reference);
    }
}
