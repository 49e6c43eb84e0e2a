//! Tooling inside your own binary: print the route table and the AsyncAPI document, check
//! routes and RBAC coverage in CI, and scaffold a handler in one command.
//!
//! # Why inside your binary
//!
//! Handlers register at link time, so only the binary that links them knows which ids and
//! handlers exist: an external tool would have to build your app anyway. So the route-aware
//! commands run in your app, through a few lines at the top of `main`, and a cargo alias makes
//! them feel like a cargo subcommand. Scaffolding only edits source text; it lives in the same
//! place so that one alias serves all four commands.
//!
//! ```no_run
//! use pkg_router::cli::Cli;
//! use pkg_router::{BuildError, Router};
//!
//! fn router() -> Result<Router, BuildError> {
//!     Router::builder().with_registered().build()
//! }
//!
//! #[tokio::main]
//! async fn main() -> std::process::ExitCode {
//!     // `my-app routes|asyncapi|check|new-handler ...` runs the command and exits.
//!     if let Some(code) = Cli::new(router).intercept() {
//!         return code;
//!     }
//!     // ... serve as usual ...
//!     std::process::ExitCode::SUCCESS
//! }
//! ```
//!
//! With this alias in the app's `.cargo/config.toml`:
//!
//! ```toml
//! [alias]
//! pkg = "run --quiet --"
//! ```
//!
//! | command | what it does |
//! |---|---|
//! | `cargo pkg routes` (`--json`) | the route table: ids, names, handlers, roles, schema, pushes, source lines |
//! | `cargo pkg asyncapi` | the AsyncAPI 3.0 document, to stdout |
//! | `cargo pkg check` | exits 1 when an id has no handler, a handler requires no role without `roles = []`, a push id is sent by no handler, or the router does not build (two handlers on one id, ...) |
//! | `cargo pkg new-handler GET_REVIEWS --id 9 --roles view-reviews --schema 'book_id:i64'` | adds the id to `pkg_ids!`, writes `get_reviews.rs` next to it (payload type, handler, tests that pass as written) and `mod get_reviews;`; prompts for what is missing unless `--no-input` |
//!
//! `check` in CI: `cargo pkg check` (or [`check`] in a unit test of your own).

mod check;
mod scaffold;

pub use check::{Finding, check};
pub use scaffold::ScaffoldError;

use crate::router::{BuildError, Router};
use serde_json::{Value, json};
use std::io::{self, BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// The commands, bound to a function that builds your router.
///
/// # Examples
///
/// See the [module documentation](self).
pub struct Cli<F> {
    build: F,
    ids_file: Option<PathBuf>,
    root: Option<PathBuf>,
    title: String,
    version: String,
    address: String,
}

impl<F> std::fmt::Debug for Cli<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cli")
            .field("ids_file", &self.ids_file)
            .field("root", &self.root)
            .field("title", &self.title)
            .finish_non_exhaustive()
    }
}

/// The command names [`Cli::intercept`] takes over.
pub const COMMANDS: [&str; 4] = ["routes", "asyncapi", "check", "new-handler"];

impl<F> Cli<F>
where
    F: Fn() -> Result<Router, BuildError>,
{
    /// The commands for the router `build` returns (built only by the commands that need it:
    /// `new-handler` works even while the app's router does not build).
    ///
    /// # Examples
    ///
    /// See the [module documentation](self).
    pub fn new(build: F) -> Self {
        Self {
            build,
            ids_file: None,
            root: None,
            title: "API".to_owned(),
            version: "0.1.0".to_owned(),
            address: "/web".to_owned(),
        }
    }

    /// The file with the app's `pkg_ids!` block, relative to the crate root (default: the only
    /// file under `src/` that has one). `--ids FILE` overrides it.
    ///
    /// # Examples
    ///
    /// ```
    /// # fn router() -> Result<pkg_router::Router, pkg_router::BuildError> { todo!() }
    /// let cli = pkg_router::cli::Cli::new(router).ids_file("src/api/ids.rs");
    /// ```
    #[must_use]
    pub fn ids_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.ids_file = Some(path.into());
        self
    }

    /// The crate root `new-handler` edits (default: the current directory, which `cargo run`
    /// leaves at the directory it was run from).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn router() -> Result<pkg_router::Router, pkg_router::BuildError> { todo!() }
    /// let cli = pkg_router::cli::Cli::new(router).root(env!("CARGO_MANIFEST_DIR"));
    /// ```
    #[must_use]
    pub fn root(mut self, dir: impl Into<PathBuf>) -> Self {
        self.root = Some(dir.into());
        self
    }

    /// The title, version and WebSocket address the AsyncAPI document names (default `API`,
    /// `0.1.0`, `/web`).
    ///
    /// # Examples
    ///
    /// ```
    /// # fn router() -> Result<pkg_router::Router, pkg_router::BuildError> { todo!() }
    /// let cli = pkg_router::cli::Cli::new(router).asyncapi_info("Books API", "1.2.0", "/web");
    /// ```
    #[must_use]
    pub fn asyncapi_info(mut self, title: &str, version: &str, address: &str) -> Self {
        title.clone_into(&mut self.title);
        version.clone_into(&mut self.version);
        address.clone_into(&mut self.address);
        self
    }

    /// When the process's first argument is one of the [`COMMANDS`], runs it on the real
    /// stdin/stdout/stderr and returns its exit code; else `None` (serve as usual).
    ///
    /// # Examples
    ///
    /// See the [module documentation](self).
    pub fn intercept(&self) -> Option<ExitCode> {
        self.run_process().map(ExitCode::from)
    }

    /// Like [`intercept`](Self::intercept), for a `main` that returns something else than an
    /// `ExitCode` (the README's `Result`): when the first argument is a command, runs it and
    /// exits the process with its code; else returns.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// # fn router() -> Result<pkg_router::Router, pkg_router::BuildError> { todo!() }
    /// #[tokio::main]
    /// async fn main() -> Result<(), Box<dyn std::error::Error>> {
    ///     pkg_router::cli::Cli::new(router).exit_if_command();
    ///     // ... serve as usual ...
    ///     Ok(())
    /// }
    /// ```
    pub fn exit_if_command(&self) {
        if let Some(code) = self.run_process() {
            std::process::exit(i32::from(code));
        }
    }

    /// [`run`](Self::run) on the process's arguments and standard streams.
    fn run_process(&self) -> Option<u8> {
        let args: Vec<String> = std::env::args().skip(1).collect();
        self.run(
            &args,
            &mut io::stdin().lock(),
            &mut io::stdout().lock(),
            &mut io::stderr().lock(),
        )
    }

    /// Runs the command `args` names (`["check"]`, `["routes", "--json"]`, ...) with the given
    /// streams; `None` when `args` names no command. The exit code: 0 done, 1 findings or
    /// failure, 2 bad arguments.
    ///
    /// # Examples
    ///
    /// ```standalone_crate
    /// use pkg_router::cli::Cli;
    /// use pkg_router::{HandlerError, Route, Router};
    ///
    /// async fn ok() -> Result<(), HandlerError> { Ok(()) }
    ///
    /// let cli = Cli::new(|| Router::builder().route(Route::new(1, ok)).build());
    /// let (mut out, mut err) = (Vec::new(), Vec::new());
    /// let code = cli.run(&["check".to_owned()], &mut &b""[..], &mut out, &mut err);
    /// assert_eq!(code, Some(1)); // id 1 requires no role and is not declared public
    /// assert!(String::from_utf8(err)?.contains("requires no role"));
    /// assert_eq!(cli.run(&["serve".to_owned()], &mut &b""[..], &mut out, &mut Vec::new()), None);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn run(
        &self,
        args: &[String],
        input: &mut dyn BufRead,
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> Option<u8> {
        let (command, rest) = args.split_first()?;
        if !COMMANDS.contains(&command.as_str()) {
            return None;
        }
        let result = match command.as_str() {
            "new-handler" => {
                let root = self
                    .root
                    .clone()
                    .or_else(|| std::env::current_dir().ok())
                    .unwrap_or_else(|| PathBuf::from("."));
                match scaffold::new_handler(&root, self.ids_file.as_deref(), rest, input, out) {
                    Ok(()) => Ok(0),
                    Err(ScaffoldError::Usage(text)) => {
                        let _ = writeln!(err, "new-handler: {text}");
                        return Some(2);
                    }
                    Err(other) => Err(other.to_string()),
                }
            }
            other => self.route_command(other, rest, out, err),
        };
        Some(match result {
            Ok(code) => code,
            Err(message) => {
                let _ = writeln!(err, "{command}: {message}");
                1
            }
        })
    }

    fn route_command(
        &self,
        command: &str,
        rest: &[String],
        out: &mut dyn Write,
        err: &mut dyn Write,
    ) -> Result<u8, String> {
        let json = match rest {
            [] => false,
            [flag] if flag == "--json" && command == "routes" => true,
            _ => {
                let _ = writeln!(
                    err,
                    "{command}: unexpected arguments {rest:?} (usage: routes [--json] | asyncapi | check)"
                );
                return Ok(2);
            }
        };
        let router = match (self.build)() {
            Ok(router) => router,
            Err(build) => {
                let _ = writeln!(err, "{command}: the router does not build: {build}");
                return Ok(1);
            }
        };
        let written = match command {
            "routes" if json => writeln!(out, "{}", pretty(&routes_json(&router))),
            "routes" => write!(out, "{}", router.routes()),
            "asyncapi" => writeln!(
                out,
                "{}",
                pretty(&router.asyncapi(&self.title, &self.version, &self.address))
            ),
            _ => {
                let findings = check(router.routes());
                for finding in &findings {
                    let _ = writeln!(err, "check: {finding}");
                }
                if findings.is_empty() {
                    let handled = router
                        .routes()
                        .iter()
                        .filter(|row| row.handler.is_some())
                        .count();
                    writeln!(
                        out,
                        "check: ok ({handled} handlers, {} ids)",
                        router.routes().len()
                    )
                    .map_err(|e| e.to_string())?;
                    return Ok(0);
                }
                return Ok(1);
            }
        };
        written.map_err(|e| e.to_string())?;
        Ok(0)
    }
}

fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

/// The route table as JSON: one object per row.
fn routes_json(router: &Router) -> Value {
    Value::Array(
        router
            .routes()
            .iter()
            .map(|row| {
                json!({
                    "pkg_id": row.pkg_id,
                    "name": row.name,
                    "handler": row.handler,
                    "roles": row.roles,
                    "public": row.public,
                    "schema": row.has_schema,
                    "push": row.push,
                    "pushes": row.pushes,
                    "location": row.location,
                })
            })
            .collect(),
    )
}
