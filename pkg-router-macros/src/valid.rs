//! Checks on the annotated function's signature.

use crate::attr::{Args, Errors, Schema};
use quote::quote;
use syn::{FnArg, Signature, Type};

const GENERIC: &str = "a pkg_handler cannot be generic: the router must know its argument types";

/// Reports everything that makes `sig` unusable as a handler's signature.
pub(crate) fn check_signature(sig: &Signature, errors: &mut Errors) {
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
    if !sig.generics.params.is_empty() {
        // `new_spanned` covers `<...>` whole, not only the `<`.
        errors.push(syn::Error::new_spanned(&sig.generics, GENERIC));
    } else if let Some(where_clause) = &sig.generics.where_clause {
        errors.push(syn::Error::new_spanned(where_clause, GENERIC));
    }
    if let Some(variadic) = &sig.variadic {
        errors.push(syn::Error::new_spanned(
            variadic,
            "a pkg_handler cannot be variadic",
        ));
    }
    for input in &sig.inputs {
        match input {
            FnArg::Receiver(receiver) => errors.push(syn::Error::new_spanned(
                receiver,
                "a pkg_handler is a free function: `self` is not allowed (use `State<T>` for shared data)",
            )),
            FnArg::Typed(typed) => {
                if let Some(impl_trait) = find_impl_trait(&typed.ty) {
                    errors.push(syn::Error::new_spanned(
                        impl_trait,
                        "a pkg_handler cannot take `impl Trait` arguments: name a concrete extractor type",
                    ));
                }
            }
        }
    }
    if sig.inputs.len() > 12 {
        errors.push(syn::Error::new_spanned(
            &sig.inputs,
            "a pkg_handler takes at most 12 arguments",
        ));
    }
}

/// Refuses `schema = U` on a handler that takes a `Data<T>` argument: the schema comes from `T`,
/// and a second declaration could disagree with it silently.
///
/// Detected by the argument's type name (`Data<..>`, `pkg_router::Data<..>`); a `Data` hidden
/// behind a type alias, or `schema_json = ..` with a `Data<T>` whose `T` has a schema, is
/// refused when the router is built instead (`BuildError::ConflictingSchemas`).
pub(crate) fn check_schema_source(sig: &Signature, args: &Args, errors: &mut Errors) {
    let Some(Schema::Derived(key, schema)) = &args.schema else {
        return;
    };
    let data = sig.inputs.iter().find_map(|input| match input {
        FnArg::Typed(typed) => data_argument(&typed.ty),
        FnArg::Receiver(_) => None,
    });
    if let Some(data) = data {
        let schema_text = quote!(#schema).to_string().replace(' ', "");
        let data_text = quote!(#data).to_string().replace(' ', "");
        errors.push(syn::Error::new_spanned(
            quote!(#key = #schema),
            format!(
                "the schema comes from `{data_text}`; remove `schema = {schema_text}` \
                 (`schema = ..` is for handlers without a `Data<T>` argument)"
            ),
        ));
    }
}

/// `ty` itself if it is a `Data<..>` (by its last path segment).
fn data_argument(ty: &Type) -> Option<&Type> {
    match ty {
        Type::Group(group) => data_argument(&group.elem),
        Type::Paren(paren) => data_argument(&paren.elem),
        Type::Path(path)
            if path.qself.is_none()
                && path.path.segments.last().is_some_and(|segment| {
                    segment.ident == "Data"
                        && matches!(segment.arguments, syn::PathArguments::AngleBracketed(_))
                }) =>
        {
            Some(ty)
        }
        _ => None,
    }
}

/// The first `impl Trait` anywhere in `ty` (`impl X`, `Data<impl X>`, `&impl X`, ...).
pub(crate) fn find_impl_trait(ty: &Type) -> Option<&syn::TypeImplTrait> {
    use syn::{GenericArgument, PathArguments, ReturnType};
    match ty {
        Type::ImplTrait(impl_trait) => Some(impl_trait),
        Type::Array(array) => find_impl_trait(&array.elem),
        Type::Group(group) => find_impl_trait(&group.elem),
        Type::Paren(paren) => find_impl_trait(&paren.elem),
        Type::Ptr(ptr) => find_impl_trait(&ptr.elem),
        Type::Reference(reference) => find_impl_trait(&reference.elem),
        Type::Slice(slice) => find_impl_trait(&slice.elem),
        Type::Tuple(tuple) => tuple.elems.iter().find_map(find_impl_trait),
        Type::Path(path) => path
            .qself
            .as_ref()
            .and_then(|qself| find_impl_trait(&qself.ty))
            .or_else(|| {
                path.path
                    .segments
                    .iter()
                    .find_map(|segment| match &segment.arguments {
                        PathArguments::AngleBracketed(args) => {
                            args.args.iter().find_map(|arg| match arg {
                                GenericArgument::Type(ty) => find_impl_trait(ty),
                                _ => None,
                            })
                        }
                        PathArguments::Parenthesized(args) => {
                            args.inputs.iter().find_map(find_impl_trait).or_else(|| {
                                match &args.output {
                                    ReturnType::Type(_, ty) => find_impl_trait(ty),
                                    ReturnType::Default => None,
                                }
                            })
                        }
                        PathArguments::None => None,
                    })
            }),
        _ => None,
    }
}
