//! Generates the registration: the user's function unchanged, then a `const _` block holding
//! per-argument checks and the `inventory` record.

use crate::attr::{Args, Errors, Schema};
use crate::valid;
use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Expr, FnArg, ItemFn, ReturnType};

pub(crate) fn pkg_handler(args: TokenStream, item: TokenStream) -> TokenStream {
    let item_fn: ItemFn = match syn::parse2(item.clone()) {
        Ok(item_fn) => item_fn,
        Err(err) => {
            let err = syn::Error::new(err.span(), "#[pkg_handler] goes on an `async fn`");
            let compile_error = err.into_compile_error();
            return quote!(#compile_error #item);
        }
    };
    let mut errors = Errors::default();
    let args = Args::parse(args, &mut errors);
    valid::check_signature(&item_fn, &mut errors);
    match (args, errors.finish()) {
        (Some(args), Ok(())) => registration(&item_fn, &args),
        (_, Err(err)) => {
            // Re-emit the function so one mistake gives one error, not a cascade.
            let compile_error = err.into_compile_error();
            quote!(#compile_error #item_fn)
        }
        (None, Ok(())) => quote!(#item_fn),
    }
}

fn registration(item_fn: &ItemFn, args: &Args) -> TokenStream {
    let name = &item_fn.sig.ident;
    let arg_checks = item_fn.sig.inputs.iter().filter_map(|input| match input {
        FnArg::Typed(typed) => {
            let ty = &typed.ty;
            Some(quote_spanned! {ty.span()=>
                ::pkg_router::__private::assert_from_request::<#ty>();
            })
        }
        FnArg::Receiver(_) => None,
    });
    let return_check = match &item_fn.sig.output {
        ReturnType::Type(_, ty) if !matches!(**ty, syn::Type::ImplTrait(_)) => {
            quote_spanned! {ty.span()=>
                ::pkg_router::__private::assert_into_response::<#ty>();
            }
        }
        _ => quote!(),
    };
    let ids = args.ids.iter().map(|id| {
        quote_spanned! {id.span()=> (#id) as u32 }
    });
    let id_names = args.ids.iter().map(|id| match id {
        Expr::Path(path) => path
            .path
            .segments
            .last()
            .map(|segment| segment.ident.to_string())
            .unwrap_or_default(),
        _ => String::new(),
    });
    let roles = &args.roles;
    let (schema_fn, schema_field) = match &args.schema {
        None => (quote!(), quote!(::core::option::Option::None)),
        Some(Schema::Derived(ty)) => (
            quote_spanned! {ty.span()=>
                fn __pkg_router_schema() -> ::pkg_router::__private::Value {
                    ::pkg_router::schema_of::<#ty>()
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
    let timeout = match &args.timeout {
        None => quote!(::core::option::Option::None),
        Some(expr) => quote_spanned! {expr.span()=>
            ::core::option::Option::Some::<::core::time::Duration>(#expr)
        },
    };
    quote! {
        #item_fn

        #[doc(hidden)]
        const _: () = {
            #[allow(dead_code, clippy::all)]
            fn __pkg_router_checks() {
                #(#arg_checks)*
                #return_check
            }

            fn __pkg_router_make() -> ::pkg_router::__private::BoxedHandler {
                ::pkg_router::__private::BoxedHandler::new(#name)
            }

            #schema_fn

            ::pkg_router::__private::inventory::submit! {
                ::pkg_router::__private::HandlerRegistration {
                    ids: &[#(#ids),*],
                    id_names: &[#(#id_names),*],
                    roles: &[#(#roles),*],
                    schema: #schema_field,
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
