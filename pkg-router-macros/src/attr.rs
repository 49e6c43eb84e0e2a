//! Parsing of the attribute's arguments: `id = .., roles = [..], pushes = [..], schema = ..,
//! schema_json = .., timeout = ..`.

use proc_macro2::{Span, TokenStream};
use syn::parse::{Parse, ParseStream, Parser};
use syn::punctuated::Punctuated;
use syn::{Expr, ExprArray, Ident, Lit, LitStr, Token, Type};

/// The accepted argument names, in the order error messages list them.
const ARGUMENTS: &[&str] = &["id", "roles", "pushes", "schema", "schema_json", "timeout"];
/// The largest package id, `2^31 - 1` (`pkg_router::pkg_id::MAX_PKG_ID`).
const MAX_PKG_ID: u64 = i32::MAX as u64;

/// The parsed arguments.
pub(crate) struct Args {
    pub(crate) ids: Vec<Expr>,
    pub(crate) roles: Vec<LitStr>,
    /// `roles = []` written out: public on purpose.
    pub(crate) public: bool,
    /// `pushes = [..]`: the push ids the handler sends.
    pub(crate) pushes: Vec<Expr>,
    pub(crate) schema: Option<Schema>,
    pub(crate) timeout: Option<Expr>,
}

/// Where the schema comes from.
pub(crate) enum Schema {
    /// `schema = T`: derived from `T: JsonSchema`; the `schema` keyword is kept for spans.
    Derived(Ident, Type),
    /// `schema_json = expr`: a hand-written schema, any expression producing `serde_json::Value`.
    Json(Expr),
}

/// [`ARGUMENTS`] as error messages list them: "`id`, `roles`, ...".
fn argument_list() -> String {
    let quoted: Vec<String> = ARGUMENTS.iter().map(|name| format!("`{name}`")).collect();
    quoted.join(", ")
}

/// One `name = value` pair, value not yet interpreted.
struct RawArg {
    name: Ident,
    value: TokenStream,
}

impl Parse for RawArg {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let name: Ident = input.call(syn::ext::IdentExt::parse_any)?;
        if !input.peek(Token![=]) {
            return Err(syn::Error::new(
                name.span(),
                format!("expected `{name} = ...`; arguments are {}", argument_list()),
            ));
        }
        input.parse::<Token![=]>()?;
        // Everything up to the next top-level comma is the value.
        let mut value = TokenStream::new();
        while !input.is_empty() && !input.peek(Token![,]) {
            let tt: proc_macro2::TokenTree = input.parse()?;
            value.extend(std::iter::once(tt));
        }
        if value.is_empty() {
            return Err(syn::Error::new(
                name.span(),
                format!("`{name}` needs a value"),
            ));
        }
        Ok(Self { name, value })
    }
}

/// Collects errors so one expansion reports every mistake.
#[derive(Default)]
pub(crate) struct Errors(Option<syn::Error>);

impl Errors {
    pub(crate) fn push(&mut self, err: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(err),
            None => self.0 = Some(err),
        }
    }

    pub(crate) fn finish(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}

impl Args {
    pub(crate) fn parse(tokens: TokenStream, errors: &mut Errors) -> Option<Self> {
        let raw = match Punctuated::<RawArg, Token![,]>::parse_terminated.parse2(tokens) {
            Ok(raw) => raw,
            Err(err) => {
                errors.push(err);
                return None;
            }
        };
        let mut ids: Option<(Ident, Vec<Expr>)> = None;
        let mut roles: Option<Vec<LitStr>> = None;
        let mut pushes: Vec<Expr> = Vec::new();
        let mut schema: Option<Schema> = None;
        let mut seen: Vec<String> = Vec::new();
        let mut timeout = None;
        for arg in raw {
            let key = arg.name.to_string();
            if !ARGUMENTS.contains(&key.as_str()) {
                errors.push(syn::Error::new(
                    arg.name.span(),
                    format!(
                        "unknown argument `{key}`, expected one of: {}",
                        argument_list()
                    ),
                ));
                continue;
            }
            if seen.contains(&key) {
                errors.push(syn::Error::new(
                    arg.name.span(),
                    format!("`{key}` specified more than once"),
                ));
                continue;
            }
            seen.push(key.clone());
            match key.as_str() {
                "id" => match parse_ids(arg.value.clone(), errors) {
                    Ok(list) if list.is_empty() => errors.push(syn::Error::new_spanned(
                        arg.value,
                        "`id` needs at least one package id",
                    )),
                    Ok(list) => ids = Some((arg.name, list)),
                    Err(err) => errors.push(err),
                },
                "pushes" => match parse_ids(arg.value.clone(), errors) {
                    Ok(list) => pushes = list,
                    Err(err) => errors.push(err),
                },
                "roles" => match parse_roles(arg.value, errors) {
                    Ok(list) => roles = Some(list),
                    Err(err) => errors.push(err),
                },
                "schema" | "schema_json" => {
                    if schema.is_some() {
                        errors.push(syn::Error::new(
                            arg.name.span(),
                            "`schema` and `schema_json` are mutually exclusive: give one",
                        ));
                        continue;
                    }
                    let parsed = if key == "schema" {
                        let key = arg.name.clone();
                        syn::parse2::<Type>(arg.value).map(|ty| Schema::Derived(key, ty))
                    } else {
                        syn::parse2::<Expr>(arg.value).map(Schema::Json)
                    };
                    match parsed {
                        Ok(parsed) => schema = Some(parsed),
                        Err(err) => errors.push(err),
                    }
                }
                _ => match syn::parse2::<Expr>(arg.value) {
                    Ok(expr) => timeout = Some(expr),
                    Err(err) => errors.push(err),
                },
            }
        }
        let Some((_, ids)) = ids else {
            if !seen.iter().any(|k| k == "id") {
                errors.push(syn::Error::new(
                    Span::call_site(),
                    "missing `id`: write `#[pkg_handler(id = PkgID::NAME)]` (or a list: `id = [A, B]`)",
                ));
            }
            return None;
        };
        Some(Self {
            ids,
            public: roles.as_ref().is_some_and(Vec::is_empty),
            roles: roles.unwrap_or_default(),
            pushes,
            schema,
            timeout,
        })
    }
}

fn parse_ids(value: TokenStream, errors: &mut Errors) -> syn::Result<Vec<Expr>> {
    let ids: Vec<Expr> = match syn::parse2::<Expr>(value)? {
        Expr::Array(ExprArray { elems, .. }) => elems.into_iter().collect(),
        single => vec![single],
    };
    for id in &ids {
        if let Some(err) = check_id(id) {
            errors.push(err);
        }
    }
    Ok(ids)
}

/// Refuses ids that cannot be package ids. The expansion casts each id `as u32`, which would
/// otherwise accept `true`, `'a'` or `1.5` silently and answer a string with "cast through a raw
/// pointer first".
fn check_id(id: &Expr) -> Option<syn::Error> {
    const WHAT: &str = "a package id is an integer literal or a path such as `PkgID::NAME`";
    match id {
        Expr::Group(group) => check_id(&group.expr),
        Expr::Paren(paren) => check_id(&paren.expr),
        Expr::Lit(syn::ExprLit {
            lit: Lit::Int(int), ..
        }) => match int.base10_parse::<u64>() {
            Ok(value) if value <= MAX_PKG_ID => None,
            Ok(value) => Some(syn::Error::new(
                int.span(),
                format!("package id {value} is too large: ids go up to 2^31-1 ({MAX_PKG_ID})"),
            )),
            Err(err) => Some(err),
        },
        Expr::Lit(lit) => Some(syn::Error::new_spanned(lit, WHAT)),
        Expr::Unary(syn::ExprUnary {
            op: syn::UnOp::Neg(_),
            ..
        }) => Some(syn::Error::new_spanned(
            id,
            "a package id cannot be negative: ids go from 0 to 2^31-1",
        )),
        Expr::Array(_) | Expr::Tuple(_) | Expr::Range(_) | Expr::Reference(_) => {
            Some(syn::Error::new_spanned(id, WHAT))
        }
        _ => None,
    }
}

fn parse_roles(value: TokenStream, errors: &mut Errors) -> syn::Result<Vec<LitStr>> {
    let expr = syn::parse2::<Expr>(value)?;
    let Expr::Array(array) = expr else {
        let example = match &expr {
            // A single role written without brackets: show the fix.
            Expr::Lit(syn::ExprLit {
                lit: Lit::Str(role),
                ..
            }) => format!("roles = [{:?}]", role.value()),
            _ => "roles = [\"view-books\"]".to_owned(),
        };
        return Err(syn::Error::new_spanned(
            expr,
            format!("`roles` must be a list of string literals: write `{example}`"),
        ));
    };
    let mut roles: Vec<LitStr> = Vec::new();
    for elem in array.elems {
        match elem {
            Expr::Lit(syn::ExprLit {
                lit: Lit::Str(role),
                ..
            }) => {
                if role.value().trim().is_empty() {
                    errors.push(syn::Error::new(role.span(), "a role cannot be empty"));
                } else if roles.iter().any(|r| r.value() == role.value()) {
                    errors.push(syn::Error::new(
                        role.span(),
                        format!("role `{}` listed more than once", role.value()),
                    ));
                } else {
                    roles.push(role);
                }
            }
            other => errors.push(syn::Error::new_spanned(
                other,
                "roles must be string literals, e.g. `roles = [\"view-books\"]`",
            )),
        }
    }
    Ok(roles)
}
