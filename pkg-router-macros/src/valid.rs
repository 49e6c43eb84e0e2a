//! Checks on the annotated function's signature.

use crate::attr::Errors;
use syn::spanned::Spanned;
use syn::{FnArg, ItemFn, Type};

/// Reports everything that makes `item` unusable as a handler.
pub(crate) fn check_signature(item: &ItemFn, errors: &mut Errors) {
    let sig = &item.sig;
    if sig.asyncness.is_none() {
        errors.push(syn::Error::new(
            sig.fn_token.span,
            "a pkg_handler must be an `async fn`",
        ));
    }
    if let Some(constness) = &sig.constness {
        errors.push(syn::Error::new(
            constness.span,
            "a pkg_handler cannot be `const`",
        ));
    }
    if let Some(unsafety) = &sig.unsafety {
        errors.push(syn::Error::new(
            unsafety.span,
            "a pkg_handler cannot be `unsafe`",
        ));
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        errors.push(syn::Error::new(
            sig.generics.span(),
            "a pkg_handler cannot be generic: the router must know its argument types",
        ));
    }
    if let Some(variadic) = &sig.variadic {
        errors.push(syn::Error::new(
            variadic.span(),
            "a pkg_handler cannot be variadic",
        ));
    }
    for input in &sig.inputs {
        match input {
            FnArg::Receiver(receiver) => errors.push(syn::Error::new(
                receiver.span(),
                "a pkg_handler is a free function: `self` is not allowed (use `State<T>` for shared data)",
            )),
            FnArg::Typed(typed) => {
                if let Type::ImplTrait(impl_trait) = &*typed.ty {
                    errors.push(syn::Error::new(
                        impl_trait.span(),
                        "a pkg_handler cannot take `impl Trait` arguments: name a concrete extractor type",
                    ));
                }
            }
        }
    }
    if sig.inputs.len() > 12 {
        errors.push(syn::Error::new(
            sig.inputs.span(),
            "a pkg_handler takes at most 12 arguments",
        ));
    }
}
