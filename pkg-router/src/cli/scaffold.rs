//! `new-handler`: adds an id to the app's `pkg_ids!` block and writes its handler, payload type
//! and test. Source text in, source text out: no registry, so it works before the app has the
//! handler (and on an app that does not build yet for another reason).

use std::fmt::Write as _;
use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};

/// What `new-handler` can fail with; each message says what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScaffoldError {
    /// A bad argument or answer.
    #[error("{0}")]
    Usage(String),
    /// No `pkg_ids!` block, or more than one file with one.
    #[error("{0}")]
    IdsFile(String),
    /// The id or the name is taken.
    #[error("{0}")]
    Taken(String),
    /// The handler file exists (use `--force` to replace it).
    #[error("{} exists: pass --force to overwrite it", .0.display())]
    Exists(PathBuf),
    /// Reading or writing a file failed.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
}

fn io_error(path: &Path) -> impl FnOnce(io::Error) -> ScaffoldError + '_ {
    move |source| ScaffoldError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The kind of id to add.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    /// A request with a `Data<T>` payload.
    Request,
    /// A paginated listing (`PageParams` -> `Paginated<T>`).
    Paginated,
    /// A `#[push]` id: no handler.
    Push,
}

/// One field of the payload: `name: type`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Field {
    name: String,
    ty: String,
}

/// The parsed `new-handler` request.
#[derive(Debug, Default)]
pub(super) struct Request {
    name: Option<String>,
    id: Option<u32>,
    roles: Option<Vec<String>>,
    kind: Option<Kind>,
    fields: Option<Vec<Field>>,
    command: bool,
    force: bool,
    no_input: bool,
    ids_file: Option<PathBuf>,
    doc: Option<String>,
}

pub(super) const USAGE: &str = "\
new-handler [NAME] [--id N] [--roles a,b | --public] [--push | --paginated]
            [--schema 'field:Type,..'] [--command] [--doc TEXT] [--ids FILE] [--force] [--no-input]

  NAME          the id's name, e.g. GET_REVIEWS (any case; the handler is get_reviews)
  --id N        the package id (a free one; 0..=2^31-1)
  --roles a,b   roles the caller must all hold; --public for none, on purpose
  --push        a server push: adds `#[push] NAME = N` and no handler
  --paginated   a listing: PageParams in, Paginated<Item> out
  --schema ..   the payload's fields (String, bool, i32, i64, u32, u64, f64, Option<..>, Vec<..>)
  --command     also write the business logic as a function apart from the handler
  --ids FILE    the file with the pkg_ids! block (default: the one under src/)
  --force       overwrite the handler file if it exists
  --no-input    never prompt: a missing NAME or --id is an error (CI)";

impl Request {
    pub(super) fn parse(args: &[String]) -> Result<Self, ScaffoldError> {
        let mut request = Request::default();
        let mut args = args.iter();
        let value = |flag: &str, next: Option<&String>| {
            next.cloned()
                .ok_or_else(|| ScaffoldError::Usage(format!("{flag} needs a value\n\n{USAGE}")))
        };
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--id" => request.id = Some(parse_id(&value("--id", args.next())?)?),
                "--roles" => request.roles = Some(parse_roles(&value("--roles", args.next())?)?),
                "--public" => request.roles = Some(Vec::new()),
                "--push" => request.kind = Some(Kind::Push),
                "--paginated" => request.kind = Some(Kind::Paginated),
                "--schema" => {
                    request.fields = Some(parse_fields(&value("--schema", args.next())?)?);
                }
                "--command" => request.command = true,
                "--force" => request.force = true,
                "--no-input" => request.no_input = true,
                "--ids" => request.ids_file = Some(value("--ids", args.next())?.into()),
                "--doc" => request.doc = Some(value("--doc", args.next())?),
                "-h" | "--help" => return Err(ScaffoldError::Usage(USAGE.to_owned())),
                flag if flag.starts_with('-') => {
                    return Err(ScaffoldError::Usage(format!(
                        "unknown option {flag:?}\n\n{USAGE}"
                    )));
                }
                name if request.name.is_none() => request.name = Some(parse_name(name)?),
                extra => {
                    return Err(ScaffoldError::Usage(format!(
                        "unexpected argument {extra:?}\n\n{USAGE}"
                    )));
                }
            }
        }
        Ok(request)
    }

    /// Asks for what the arguments left out (unless `--no-input`).
    fn complete(
        &mut self,
        input: &mut dyn BufRead,
        out: &mut dyn Write,
    ) -> Result<(), ScaffoldError> {
        let mut ask = |question: &str| -> Result<String, ScaffoldError> {
            write!(out, "{question}: ").map_err(io_error(Path::new("<stdout>")))?;
            out.flush().map_err(io_error(Path::new("<stdout>")))?;
            let mut line = String::new();
            let read = input
                .read_line(&mut line)
                .map_err(io_error(Path::new("<stdin>")))?;
            if read == 0 {
                return Err(ScaffoldError::Usage(format!(
                    "no answer to {question:?} (end of input)"
                )));
            }
            Ok(line.trim().to_owned())
        };
        if self.name.is_none() {
            if self.no_input {
                return Err(ScaffoldError::Usage(format!("NAME is required\n\n{USAGE}")));
            }
            self.name = Some(parse_name(&ask("Name of the new id (e.g. GET_REVIEWS)")?)?);
        }
        if self.id.is_none() {
            if self.no_input {
                return Err(ScaffoldError::Usage(format!("--id is required\n\n{USAGE}")));
            }
            self.id = Some(parse_id(&ask("Package id (a free number)")?)?);
        }
        if self.no_input {
            return Ok(());
        }
        if self.kind.is_none() {
            let answer = ask("Kind: request, paginated or push [request]")?;
            self.kind = Some(match answer.to_ascii_lowercase().as_str() {
                "" | "request" | "r" => Kind::Request,
                "paginated" | "p" => Kind::Paginated,
                "push" => Kind::Push,
                other => {
                    return Err(ScaffoldError::Usage(format!(
                        "unknown kind {other:?}: answer request, paginated or push"
                    )));
                }
            });
        }
        if self.kind == Some(Kind::Push) {
            return Ok(());
        }
        if self.roles.is_none() {
            let answer = ask("Roles the caller must hold, comma-separated (empty: public)")?;
            self.roles = Some(parse_roles(&answer)?);
        }
        if self.fields.is_none() {
            let what = if self.kind == Some(Kind::Paginated) {
                "Fields of each item"
            } else {
                "Fields of the payload"
            };
            let answer = ask(&format!("{what}, as name:Type,.. (empty: none)"))?;
            self.fields = Some(parse_fields(&answer)?);
        }
        Ok(())
    }
}

fn parse_name(text: &str) -> Result<String, ScaffoldError> {
    let name = text.trim().to_ascii_uppercase();
    let valid = name.chars().next().is_some_and(|c| c.is_ascii_uppercase())
        && name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    if !valid {
        return Err(ScaffoldError::Usage(format!(
            "{text:?} is not a name: letters, digits and `_`, starting with a letter (GET_REVIEWS)"
        )));
    }
    Ok(name)
}

fn parse_id(text: &str) -> Result<u32, ScaffoldError> {
    match text.trim().parse::<u32>() {
        Ok(id) if id <= crate::pkg_id::MAX_PKG_ID => Ok(id),
        _ => Err(ScaffoldError::Usage(format!(
            "{text:?} is not a package id: a number from 0 to 2^31-1"
        ))),
    }
}

fn parse_roles(text: &str) -> Result<Vec<String>, ScaffoldError> {
    let mut roles = Vec::new();
    for role in text.split(',').map(str::trim).filter(|r| !r.is_empty()) {
        if role.contains(['"', '\\']) || role.chars().any(char::is_control) {
            return Err(ScaffoldError::Usage(format!("{role:?} is not a role name")));
        }
        if !roles.iter().any(|r| r == role) {
            roles.push(role.to_owned());
        }
    }
    Ok(roles)
}

/// The types a generated field may have, and a sample value of each for the generated test.
fn sample(ty: &str) -> Option<String> {
    let ty = ty.replace(' ', "");
    if ty.starts_with("Option<") && ty.ends_with('>') {
        return sample(&ty[7..ty.len() - 1]).map(|_| "null".to_owned());
    }
    if ty.starts_with("Vec<") && ty.ends_with('>') {
        return sample(&ty[4..ty.len() - 1]).map(|_| "[]".to_owned());
    }
    Some(
        match ty.as_str() {
            "String" => "\"text\"",
            "bool" => "true",
            "i32" | "i64" | "u32" | "u64" => "1",
            "f64" | "f32" => "1.5",
            _ => return None,
        }
        .to_owned(),
    )
}

fn parse_fields(text: &str) -> Result<Vec<Field>, ScaffoldError> {
    let mut fields: Vec<Field> = Vec::new();
    // Split on commas outside <..>: `tags:Vec<String>,n:i64`.
    let mut depth = 0i32;
    let mut parts = vec![String::new()];
    for c in text.chars() {
        match c {
            '<' => depth += 1,
            '>' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(String::new());
                continue;
            }
            _ => {}
        }
        if let Some(last) = parts.last_mut() {
            last.push(c);
        }
    }
    for part in parts.iter().map(|p| p.trim()).filter(|p| !p.is_empty()) {
        let Some((name, ty)) = part.split_once(':') else {
            return Err(ScaffoldError::Usage(format!(
                "field {part:?} needs a type: name:Type (title:String)"
            )));
        };
        let (name, ty) = (name.trim(), ty.trim().replace(' ', ""));
        let valid_name = name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !valid_name {
            return Err(ScaffoldError::Usage(format!(
                "field name {name:?}: lowercase letters, digits and `_` (author_id)"
            )));
        }
        if sample(&ty).is_none() {
            return Err(ScaffoldError::Usage(format!(
                "field {name}: type {ty:?} is not one new-handler writes (String, bool, i32, i64, \
                 u32, u64, f64, Option<..>, Vec<..>); write it by hand afterwards"
            )));
        }
        if fields.iter().any(|f| f.name == name) {
            return Err(ScaffoldError::Usage(format!("field {name} is given twice")));
        }
        fields.push(Field {
            name: name.to_owned(),
            ty,
        });
    }
    Ok(fields)
}

/// `GET_REVIEWS` -> `GetReviews`.
fn pascal(name: &str) -> String {
    name.split('_')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let lower = part.to_ascii_lowercase();
            let mut chars = lower.chars();
            chars
                .next()
                .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// The `pkg_ids!` block of the ids file.
struct IdsBlock {
    /// The enum's name.
    enum_name: String,
    /// Byte offsets of the `{` and `}` of the enum's body.
    open: usize,
    close: usize,
    /// `(name, id)` of every entry.
    entries: Vec<(String, u32)>,
}

/// The index of the `}` that closes the `{` at `open`.
fn matching_brace(text: &str, open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in text[open..].char_indices() {
        match c {
            '{' => depth += 1,
            '}' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(open + i);
                }
            }
            _ => {}
        }
    }
    None
}

fn parse_ids_block(text: &str, path: &Path) -> Result<IdsBlock, ScaffoldError> {
    let unreadable = |why: &str| {
        ScaffoldError::IdsFile(format!(
            "{}: cannot read its pkg_ids! block ({why}); add the id by hand or pass --ids",
            path.display()
        ))
    };
    let start = text
        .find("pkg_ids!")
        .ok_or_else(|| unreadable("none found"))?;
    let outer = start
        + text[start..]
            .find('{')
            .ok_or_else(|| unreadable("no `{`"))?;
    let open = outer
        + 1
        + text[outer + 1..]
            .find('{')
            .ok_or_else(|| unreadable("no enum"))?;
    let close = matching_brace(text, open).ok_or_else(|| unreadable("unbalanced braces"))?;
    // The enum's name is the last identifier before its `{` (after doc comments and `pub`).
    let header: String = text[outer + 1..open]
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join(" ");
    let enum_name = header
        .split_whitespace()
        .last()
        .filter(|name| name.chars().all(|c| c.is_alphanumeric() || c == '_'))
        .ok_or_else(|| unreadable("no enum name"))?
        .to_owned();
    let mut entries = Vec::new();
    for item in text[open + 1..close].split(',') {
        let code: String = item
            .lines()
            .map(|line| line.split("//").next().unwrap_or_default())
            .collect::<Vec<_>>()
            .join(" ");
        let code = code.replace("#[push]", " ");
        if let Some((name, id)) = code.split_once('=') {
            let name = name
                .split_whitespace()
                .last()
                .unwrap_or_default()
                .to_owned();
            let id = id.trim().replace('_', "");
            let id = id
                .parse::<u32>()
                .map_err(|_| unreadable(&format!("`{name} = {id}` is not a number")))?;
            entries.push((name, id));
        }
    }
    Ok(IdsBlock {
        enum_name,
        open,
        close,
        entries,
    })
}

/// The text with `NAME = id` added at the end of the block.
fn insert_id(text: &str, block: &IdsBlock, name: &str, id: u32, push: bool, doc: &str) -> String {
    let body = &text[block.open + 1..block.close];
    let attribute = if push { "#[push] " } else { "" };
    if !body.contains('\n') {
        // One line: `pub PkgID { A = 1, #[push] B = 100 }`.
        let trimmed = body.trim_end();
        let separator = if trimmed.trim().is_empty() || trimmed.ends_with(',') {
            " "
        } else {
            ", "
        };
        let end = block.open + 1 + trimmed.len();
        return format!(
            "{}{separator}{attribute}{name} = {id} {}",
            &text[..end],
            &text[block.close..]
        );
    }
    // Several lines: a new entry with the indentation of the last one, before the `}` line.
    let last_entry = body
        .lines()
        .rev()
        .find(|line| line.contains('='))
        .unwrap_or("        X");
    let indent: String = last_entry
        .chars()
        .take_while(|c| c.is_whitespace())
        .collect();
    let trimmed = body.trim_end();
    let comma = if trimmed.ends_with(',') || trimmed.ends_with('{') || trimmed.trim().is_empty() {
        ""
    } else {
        ","
    };
    let end = block.open + 1 + trimmed.len();
    let mut entry = format!("{comma}\n{indent}/// {doc}\n");
    if push {
        let _ = writeln!(entry, "{indent}#[push]");
    }
    let _ = write!(entry, "{indent}{name} = {id},");
    format!("{}{entry}{}", &text[..end], &text[end..])
}

/// Where the handler goes and how it names the enum.
struct Placement {
    /// The module file that declares the handler's module (`mod name;`).
    owner: PathBuf,
    /// The handler file.
    file: PathBuf,
    /// The enum's path from the handler module: `super::ids::PkgID` or `super::PkgID`.
    enum_path: String,
}

fn is_module_root(path: &Path) -> bool {
    matches!(
        path.file_name().and_then(|n| n.to_str()),
        Some("main.rs" | "lib.rs" | "mod.rs")
    )
}

fn place(ids_file: &Path, enum_name: &str, module: &str) -> Result<Placement, ScaffoldError> {
    let dir = ids_file.parent().unwrap_or(Path::new("."));
    let file = dir.join(format!("{module}.rs"));
    if is_module_root(ids_file) {
        return Ok(Placement {
            owner: ids_file.to_owned(),
            file,
            enum_path: format!("super::{enum_name}"),
        });
    }
    let stem = ids_file
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or_default();
    let mut candidates = vec![dir.join("mod.rs"), dir.join("lib.rs"), dir.join("main.rs")];
    if let (Some(parent), Some(name)) = (dir.parent(), dir.file_name()) {
        candidates.push(parent.join(format!("{}.rs", name.to_string_lossy())));
    }
    for owner in candidates {
        let Ok(text) = std::fs::read_to_string(&owner) else {
            continue;
        };
        if declares_module(&text, stem) {
            return Ok(Placement {
                owner,
                file,
                enum_path: format!("super::{stem}::{enum_name}"),
            });
        }
    }
    Err(ScaffoldError::IdsFile(format!(
        "{}: no module file next to it declares `mod {stem};` (mod.rs, lib.rs, main.rs)",
        ids_file.display()
    )))
}

fn declares_module(text: &str, module: &str) -> bool {
    text.lines().any(|line| {
        let line = line.trim();
        let line = line
            .strip_prefix("pub(crate) ")
            .or_else(|| line.strip_prefix("pub(super) "))
            .or_else(|| line.strip_prefix("pub "))
            .unwrap_or(line);
        line == format!("mod {module};")
    })
}

/// The owner's text with `mod module;` added after its last `mod ..;` line (or after its
/// leading comments and attributes).
fn add_module(text: &str, module: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let is_mod = |line: &&str| {
        let line = line.trim_start();
        ["mod ", "pub mod ", "pub(crate) mod ", "pub(super) mod "]
            .iter()
            .any(|prefix| line.starts_with(prefix))
            && line.trim_end().ends_with(';')
    };
    let at = match lines.iter().rposition(is_mod) {
        Some(last) => last + 1,
        None => lines
            .iter()
            .position(|line| {
                let line = line.trim_start();
                !(line.is_empty() || line.starts_with("//") || line.starts_with("#!"))
            })
            .unwrap_or(lines.len()),
    };
    let mut out: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
    out.insert(at, format!("mod {module};"));
    let mut joined = out.join("\n");
    joined.push('\n');
    joined
}

fn find_ids_file(root: &Path) -> Result<PathBuf, ScaffoldError> {
    let mut found = Vec::new();
    let mut stack = vec![root.join("src")];
    while let Some(dir) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs")
                && std::fs::read_to_string(&path).is_ok_and(|t| t.contains("pkg_ids!"))
            {
                found.push(path);
            }
        }
    }
    found.sort();
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(ScaffoldError::IdsFile(format!(
            "no pkg_ids! block under {}: pass --ids FILE",
            root.join("src").display()
        ))),
        _ => Err(ScaffoldError::IdsFile(format!(
            "several files under src/ have a pkg_ids! block ({}): pass --ids FILE",
            found
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ))),
    }
}

/// Runs `new-handler` in the crate at `root`: prompts on `input`/`out` for what `args` leave
/// out, edits the files and says what it changed on `out`.
pub(super) fn new_handler(
    root: &Path,
    default_ids_file: Option<&Path>,
    args: &[String],
    input: &mut dyn BufRead,
    out: &mut dyn Write,
) -> Result<(), ScaffoldError> {
    let mut request = Request::parse(args)?;
    request.complete(input, out)?;
    let (Some(name), Some(id)) = (request.name.clone(), request.id) else {
        return Err(ScaffoldError::Usage(USAGE.to_owned()));
    };
    let kind = request.kind.unwrap_or(Kind::Request);
    let ids_file = match request.ids_file.as_deref().or(default_ids_file) {
        Some(path) if path.is_absolute() => path.to_owned(),
        Some(path) => root.join(path),
        None => find_ids_file(root)?,
    };
    let ids_text = std::fs::read_to_string(&ids_file).map_err(io_error(&ids_file))?;
    let block = parse_ids_block(&ids_text, &ids_file)?;
    if let Some((taken, _)) = block.entries.iter().find(|(_, taken)| *taken == id) {
        return Err(ScaffoldError::Taken(format!(
            "id {id} is taken by {taken} in {}",
            ids_file.display()
        )));
    }
    if let Some((_, taken)) = block.entries.iter().find(|(n, _)| *n == name) {
        return Err(ScaffoldError::Taken(format!(
            "the name {name} is taken (id {taken}) in {}",
            ids_file.display()
        )));
    }
    let module = name.to_ascii_lowercase();
    let doc = request.doc.clone().unwrap_or_else(|| match kind {
        Kind::Push => format!(
            "Push: {} (generated by new-handler).",
            module.replace('_', " ")
        ),
        _ => format!("{} (generated by new-handler).", module.replace('_', " ")),
    });
    let doc = doc.replace(['\n', '\r'], " ");
    let placement = if kind == Kind::Push {
        None
    } else {
        let placement = place(&ids_file, &block.enum_name, &module)?;
        if placement.file.exists() && !request.force {
            return Err(ScaffoldError::Exists(placement.file));
        }
        Some(placement)
    };

    // Every check passed: write.
    let new_ids = insert_id(&ids_text, &block, &name, id, kind == Kind::Push, &doc);
    std::fs::write(&ids_file, new_ids).map_err(io_error(&ids_file))?;
    let report = |out: &mut dyn Write, line: String| {
        writeln!(out, "{line}").map_err(io_error(Path::new("<stdout>")))
    };
    report(
        out,
        format!(
            "added {}{name} = {id} to {}",
            if kind == Kind::Push { "#[push] " } else { "" },
            ids_file.display()
        ),
    )?;
    let Some(placement) = placement else {
        report(
            out,
            format!(
                "a push has no handler: add `pushes = [{}::{name}]` to the handlers that send it",
                block.enum_name
            ),
        )?;
        return Ok(());
    };
    let source = handler_source(&HandlerSpec {
        name: &name,
        module: &module,
        enum_path: &placement.enum_path,
        kind,
        roles: request.roles.as_deref().unwrap_or(&[]),
        fields: request.fields.as_deref().unwrap_or(&[]),
        command: request.command,
        doc: &doc,
    });
    std::fs::write(&placement.file, source).map_err(io_error(&placement.file))?;
    report(out, format!("wrote {}", placement.file.display()))?;
    let owner_text =
        std::fs::read_to_string(&placement.owner).map_err(io_error(&placement.owner))?;
    if !declares_module(&owner_text, &module) {
        std::fs::write(&placement.owner, add_module(&owner_text, &module))
            .map_err(io_error(&placement.owner))?;
        report(
            out,
            format!("added `mod {module};` to {}", placement.owner.display()),
        )?;
    }
    report(
        out,
        format!("next: fill in {module}, then `cargo test {module}`"),
    )?;
    Ok(())
}

struct HandlerSpec<'a> {
    name: &'a str,
    module: &'a str,
    enum_path: &'a str,
    kind: Kind,
    roles: &'a [String],
    fields: &'a [Field],
    command: bool,
    doc: &'a str,
}

fn handler_source(spec: &HandlerSpec<'_>) -> String {
    let HandlerSpec {
        name,
        module,
        enum_path,
        kind,
        roles,
        fields,
        command,
        doc,
    } = spec;
    let type_name = pascal(name);
    let enum_name = enum_path.rsplit("::").next().unwrap_or_default();
    let roles_list = roles
        .iter()
        .map(|r| format!("{r:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut struct_fields = String::new();
    let mut sample_fields = Vec::new();
    for field in *fields {
        let _ = writeln!(struct_fields, "    pub {}: {},", field.name, field.ty);
        if let Some(value) = sample(&field.ty) {
            sample_fields.push(format!("{:?}: {value}", field.name));
        }
    }
    let sample_json = format!("{{{}}}", sample_fields.join(", "));
    let mut s = String::new();
    let _ = writeln!(s, "//! `{name}`: {doc}");
    let _ = writeln!(s);
    let _ = writeln!(s, "use {enum_path};");
    match kind {
        Kind::Paginated => {
            let _ = writeln!(s, "use pkg_router::pagination::PageParams;");
            let _ = writeln!(
                s,
                "use pkg_router::{{pkg_handler, HandlerError, PageMeta, Paginated}};"
            );
        }
        _ => {
            let _ = writeln!(s, "use pkg_router::{{pkg_handler, Data, HandlerError}};");
        }
    }
    let _ = writeln!(s);
    let item = format!("{type_name}Item");
    match kind {
        Kind::Paginated => {
            let _ = writeln!(s, "/// One item of a `{name}` page.");
            let _ = writeln!(
                s,
                "#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]"
            );
            let _ = writeln!(s, "pub struct {item} {{\n{struct_fields}}}");
            let _ = writeln!(s);
            if *command {
                let _ = writeln!(
                    s,
                    "/// The business logic, apart from the transport: one page of items and the total.\n\
                     pub async fn {module}_page(offset: u64, limit: u32) -> Result<(Vec<{item}>, u64), HandlerError> {{\n    \
                     let _ = (offset, limit); // read one page from your repository here\n    \
                     Ok((Vec::new(), 0))\n}}\n"
                );
            }
            let _ = writeln!(s, "/// {doc}");
            let _ = writeln!(
                s,
                "#[pkg_handler(id = {enum_name}::{name}, roles = [{roles_list}])]"
            );
            let _ = writeln!(
                s,
                "pub async fn {module}(page: PageParams) -> Result<Paginated<{item}>, HandlerError> {{"
            );
            if *command {
                let _ = writeln!(
                    s,
                    "    let (items, total) = {module}_page(page.offset(), page.per_page).await?;"
                );
            } else {
                let _ = writeln!(
                    s,
                    "    // Read one page here: page.offset() and page.per_page (page.cursor in cursor mode).\n    \
                     let (items, total): (Vec<{item}>, u64) = (Vec::new(), 0);"
                );
            }
            let _ = writeln!(
                s,
                "    Ok(Paginated::new(items, PageMeta::offset(page.page, page.per_page, total)))\n}}"
            );
        }
        _ => {
            let request = format!("{type_name}Request");
            let _ = writeln!(s, "/// What `{name}` takes in `data`.");
            let _ = writeln!(
                s,
                "#[derive(Clone, Debug, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]"
            );
            let _ = writeln!(s, "#[serde(deny_unknown_fields)]");
            let _ = writeln!(s, "pub struct {request} {{\n{struct_fields}}}");
            let _ = writeln!(s);
            if *command {
                let _ = writeln!(
                    s,
                    "/// The business logic, apart from the transport (an HTTP route can call it too).\n\
                     pub async fn {module}_command(request: {request}) -> Result<{request}, HandlerError> {{\n    \
                     Ok(request) // do the work here\n}}\n"
                );
            }
            let _ = writeln!(s, "/// {doc}");
            let _ = writeln!(
                s,
                "#[pkg_handler(id = {enum_name}::{name}, roles = [{roles_list}])]"
            );
            let _ = writeln!(
                s,
                "pub async fn {module}(Data(request): Data<{request}>) -> Result<{request}, HandlerError> {{"
            );
            if *command {
                let _ = writeln!(s, "    {module}_command(request).await\n}}");
            } else {
                let _ = writeln!(
                    s,
                    "    // Do the work here; until then the request is echoed back.\n    Ok(request)\n}}"
                );
            }
        }
    }
    // The test: the handler through the router, with its roles and schema as declared.
    let call_data = if *kind == Kind::Paginated {
        "serde_json::json!({\"page\": 1, \"per_page\": 10})".to_owned()
    } else {
        format!("serde_json::json!({sample_json})")
    };
    let _ = writeln!(s);
    let _ = writeln!(s, "#[cfg(test)]\nmod tests {{");
    let _ = writeln!(s, "    use super::*;");
    let _ = writeln!(
        s,
        "    use pkg_router::testing::{{ResponseExt, TestRouter}};"
    );
    let _ = writeln!(s);
    let _ = writeln!(s, "    fn client() -> TestRouter {{");
    if roles.is_empty() {
        let _ = writeln!(s, "        TestRouter::registered({enum_name}::{name})");
    } else {
        let _ = writeln!(
            s,
            "        TestRouter::registered({enum_name}::{name}).with_roles([{roles_list}])"
        );
    }
    let _ = writeln!(s, "    }}");
    let _ = writeln!(s);
    let _ = writeln!(s, "    #[tokio::test]");
    let _ = writeln!(s, "    async fn {module}_answers() {{");
    let _ = writeln!(
        s,
        "        client().call({enum_name}::{name}, {call_data}).await.expect_ok();"
    );
    let _ = writeln!(s, "    }}");
    let _ = writeln!(s);
    let _ = writeln!(s, "    #[tokio::test]");
    let _ = writeln!(s, "    async fn {module}_refuses_invalid_data() {{");
    let bad = if *kind == Kind::Paginated {
        "serde_json::json!({\"per_page\": 0})"
    } else {
        "serde_json::json!({\"not_a_field\": true})"
    };
    let _ = writeln!(
        s,
        "        client().call({enum_name}::{name}, {bad}).await.expect_error(\"validation_error\");"
    );
    let _ = writeln!(s, "    }}");
    if !roles.is_empty() {
        let _ = writeln!(s);
        let _ = writeln!(s, "    #[tokio::test]");
        let _ = writeln!(s, "    async fn {module}_needs_its_roles() {{");
        let _ = writeln!(
            s,
            "        TestRouter::registered({enum_name}::{name})\n            .call({enum_name}::{name}, {call_data})\n            .await\n            .expect_error(\"permission_denied\");"
        );
        let _ = writeln!(s, "    }}");
    }
    let _ = writeln!(s, "}}");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_multi_line_block_gets_an_entry_with_its_indentation() {
        let text = "pkg_router::pkg_ids! {\n    /// Ids.\n    pub PkgID {\n        /// A.\n        A = 1,\n        #[push]\n        B = 100,\n    }\n}\n";
        let block = parse_ids_block(text, Path::new("ids.rs")).expect("parses");
        assert_eq!(block.enum_name, "PkgID");
        assert_eq!(block.entries, [("A".into(), 1), ("B".into(), 100)]);
        let added = insert_id(text, &block, "C", 2, false, "C.");
        assert!(
            added.contains("        B = 100,\n        /// C.\n        C = 2,\n    }\n}"),
            "{added}"
        );
        let again = parse_ids_block(&added, Path::new("ids.rs")).expect("parses");
        assert_eq!(again.entries.len(), 3);
    }

    #[test]
    fn a_one_line_block_gets_an_inline_entry() {
        let text = "pkg_ids! {\n    pub PkgID { CREATE_BOOK = 3, #[push] BOOK_CREATED = 100 }\n}\n";
        let block = parse_ids_block(text, Path::new("main.rs")).expect("parses");
        let added = insert_id(text, &block, "BOOK_GONE", 101, true, "x");
        assert!(
            added.contains(
                "{ CREATE_BOOK = 3, #[push] BOOK_CREATED = 100, #[push] BOOK_GONE = 101 }"
            ),
            "{added}"
        );
    }

    #[test]
    fn fields_split_outside_angle_brackets() {
        let fields = parse_fields("tags: Vec<String>, n:i64").expect("parses");
        assert_eq!(fields.len(), 2);
        assert!(parse_fields("x:HashMap<String,i64>").is_err());
        assert!(parse_fields("Bad:i64").is_err());
    }

    #[test]
    fn a_module_goes_after_the_last_mod_line() {
        let text = "//! App.\n\nmod ids;\nmod handlers;\n\nfn main() {}\n";
        assert_eq!(
            add_module(text, "get_x"),
            "//! App.\n\nmod ids;\nmod handlers;\nmod get_x;\n\nfn main() {}\n"
        );
        assert!(add_module("//! App.\nuse x;\n", "y").starts_with("//! App.\nmod y;\nuse x;"));
    }
}
