//! Generates the registration: the user's function unchanged, then a `const _` block holding
//! per-argument checks and the `inventory` record.

use crate::attr::{Args, Errors, Schema};
use crate::valid;
use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::{Attribute, Expr, FnArg, ReturnType, Signature, Visibility};

pub(crate) fn pkg_handler(args: TokenStream, item: TokenStream) -> TokenStream {
    let sig = match syn::parse2::<HandlerFn>(item.clone()) {
        Ok(handler_fn) => handler_fn.sig,
        Err(err) => {
            let err = syn::Error::new(err.span(), "#[pkg_handler] goes on an `async fn`");
            let compile_error = err.into_compile_error();
            return quote!(#compile_error #item);
        }
    };
    let mut errors = Errors::default();
    let args = Args::parse(args, &mut errors);
    valid::check_signature(&sig, &mut errors);
    if let Some(args) = &args {
        valid::check_schema_source(&sig, args, &mut errors);
    }
    // The user's function is always re-emitted as written, so a mistake in the attribute does not
    // also turn every call of the function into an error.
    match (args, errors.finish()) {
        (Some(args), Ok(())) => {
            let registration = registration(&sig, &args);
            quote!(#item #registration)
        }
        (_, Err(err)) => {
            let compile_error = err.into_compile_error();
            quote!(#compile_error #item)
        }
        (None, Ok(())) => item,
    }
}

/// A function as far as the registration needs it: its signature, and a body left unparsed.
///
/// Only the signature matters here; the body is re-emitted untouched. Not parsing it keeps a
/// syntax error in the body to the compiler's own message (instead of adding "goes on an
/// `async fn`" to it) and keeps working with body syntax newer than `syn`.
struct HandlerFn {
    sig: Signature,
}

impl Parse for HandlerFn {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        input.call(Attribute::parse_outer)?;
        input.parse::<Visibility>()?;
        let sig: Signature = input.parse()?;
        let body: proc_macro2::Group = input.parse()?;
        if body.delimiter() != proc_macro2::Delimiter::Brace {
            return Err(syn::Error::new(body.span(), "expected the function's body"));
        }
        if !input.is_empty() {
            return Err(input.error("unexpected tokens after the function"));
        }
        Ok(Self { sig })
    }
}

fn registration(sig: &Signature, args: &Args) -> TokenStream {
    let name = &sig.ident;
    let arg_types: Vec<&syn::Type> = sig
        .inputs
        .iter()
        .filter_map(|input| match input {
            FnArg::Typed(typed) => Some(&*typed.ty),
            FnArg::Receiver(_) => None,
        })
        .collect();
    // One check per argument and for the return type, spanned on the type itself so the
    // `on_unimplemented` message of `FromRequest`/`IntoResponse` points at the offending token.
    let arg_checks = arg_types.iter().map(|ty| {
        quote_spanned! {ty.span()=>
            let _ = <#ty as ::pkg_router::extract::FromRequest>::declare;
        }
    });
    let (return_check, return_type) = match &sig.output {
        ReturnType::Type(_, ty) if valid::find_impl_trait(ty).is_none() => (
            quote_spanned! {ty.span()=>
                let _ = <#ty as ::pkg_router::handler::IntoResponse>::into_reply;
            },
            quote!(#ty),
        ),
        // `impl Trait` is not allowed in a turbofish: leave the type to inference.
        ReturnType::Type(..) => (quote!(), quote!(_)),
        ReturnType::Default => (quote!(), quote!(())),
    };
    let (make_helper, make_call) = make_handler(name, &arg_types, &return_type);
    let ids = args.ids.iter().map(|id| {
        quote_spanned! {id.span()=> (#id) as u32 }
    });
    let id_names = args.ids.iter().map(id_name);
    let pushes = args.pushes.iter().map(|id| {
        quote_spanned! {id.span()=> (#id) as u32 }
    });
    let public = args.public;
    let roles = &args.roles;
    let schema_source = match &args.schema {
        None => String::new(),
        Some(Schema::Derived(_, ty)) => {
            format!("schema = {}", quote!(#ty).to_string().replace(' ', ""))
        }
        Some(Schema::Json(_)) => "schema_json = ..".to_owned(),
    };
    let (schema_fn, schema_field) = match &args.schema {
        None => (quote!(), quote!(::core::option::Option::None)),
        Some(Schema::Derived(_, ty)) => (
            quote_spanned! {ty.span()=>
                fn __pkg_router_schema() -> ::pkg_router::__private::Value {
                    ::pkg_router::schema::schema_of::<#ty>()
                }
            },
            quote!(::core::option::Option::Some(__pkg_router_schema)),
        ),
        Some(Schema::Json(expr)) => (
            quote_spanned! {expr.span()=>
                fn __pkg_router_schema() -> ::pkg_router::__private::Value {
                    ::core::convert::Into::<::pkg_router::__private::Value>::into(#expr)
                }
            },
            quote!(::core::option::Option::Some(__pkg_router_schema)),
        ),
    };
    // A typed `const` rather than `Some::<Duration>(expr)`: a wrong type is then reported as
    // "expected `Duration`" at the expression, without notes about `Option`'s variants.
    let (timeout_const, timeout) = match &args.timeout {
        None => (quote!(), quote!(::core::option::Option::None)),
        Some(expr) => (
            quote_spanned! {expr.span()=>
                const __PKG_ROUTER_TIMEOUT: ::core::time::Duration = #expr;
            },
            quote!(::core::option::Option::Some(__PKG_ROUTER_TIMEOUT)),
        ),
    };
    quote! {
        #[doc(hidden)]
        const _: () = {
            fn __pkg_router_make() -> ::pkg_router::__private::BoxedHandler {
                // The checks and the construction share one body: that is what lets rustc merge
                // their errors (see `make_handler`).
                #make_helper
                #(#arg_checks)*
                #return_check
                #make_call
            }

            #schema_fn
            #timeout_const

            ::pkg_router::__private::inventory::submit! {
                ::pkg_router::__private::HandlerRegistration {
                    ids: &[#(#ids),*],
                    id_names: &[#(#id_names),*],
                    roles: &[#(#roles),*],
                    public: #public,
                    pushes: &[#(#pushes),*],
                    schema: #schema_field,
                    schema_source: #schema_source,
                    make: __pkg_router_make,
                    path: ::core::concat!(::core::module_path!(), "::", ::core::stringify!(#name)),
                    file: ::core::file!(),
                    line: ::core::line!(),
                    timeout: #timeout,
                }
            }
        };
    }
}

/// Builds the `BoxedHandler` through a helper whose bounds name each argument type separately.
///
/// `BoxedHandler::new(name)` alone would also fail for a bad argument or return type, as a second
/// error ("`fn(..) {name}` is not a pkg-router handler") on top of the checks above. Passing the
/// types explicitly makes rustc blame the failing bound at the turbofish argument, which carries
/// the same span and predicate as the check; rustc then reports the two as one. What only this
/// call can catch, a future that is not `Send`, is blamed on the function's name.
///
/// Returns the helper (an item, emitted first so no item follows a statement) and its call.
fn make_handler(
    name: &syn::Ident,
    arg_types: &[&syn::Type],
    return_type: &TokenStream,
) -> (TokenStream, TokenStream) {
    let params: Vec<syn::Ident> = (1..=arg_types.len())
        .map(|i| quote::format_ident!("__A{i}"))
        .collect();
    let future = quote_spanned!(name.span()=> _);
    let helper = quote! {
        fn __pkg_router_new<__F, __Fut, __R, #(#params: 'static),*>(
            handler: __F,
        ) -> ::pkg_router::__private::BoxedHandler
        where
            __F: ::core::ops::Fn(#(#params),*) -> __Fut
                + ::core::clone::Clone
                + ::core::marker::Send
                + ::core::marker::Sync
                + 'static,
            __Fut: ::core::future::Future<Output = __R> + ::core::marker::Send + 'static,
            __R: ::pkg_router::handler::IntoResponse,
            #(#params: ::pkg_router::extract::FromRequest,)*
        {
            ::pkg_router::__private::BoxedHandler::new(handler)
        }
    };
    let call = quote! {
        __pkg_router_new::<_, #future, #return_type, #(#arg_types),*>(#name)
    };
    (helper, call)
}

/// The name an id is written as: the last segment of a path (`CREATE_BOOK`), or `""`.
fn id_name(id: &Expr) -> String {
    match id {
        Expr::Group(group) => id_name(&group.expr),
        Expr::Paren(paren) => id_name(&paren.expr),
        Expr::Path(path) => path
            .path
            .segments
            .last()
            .map(|segment| segment.ident.to_string())
            .unwrap_or_default(),
        _ => String::new(),
    }
}
