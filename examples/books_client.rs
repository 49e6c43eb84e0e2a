//! A command-line client for the books demo, built on [`pkg_router::client::Client`]: it
//! authenticates, sends one request, prints the answer, then (with `--watch`) keeps printing
//! pushes until interrupted.
//!
//! ```text
//! T=$(cargo run -q --example books -- token --user alice --roles view-books,create-book)
//! cargo run -q --example books_client -- --token "$T" 4 '{"per_page": 2}'
//! cargo run -q --example books_client -- --token "$T" --watch 8 '{}'
//! cargo run -q --example books_client -- --token "$T" --format protobuf 4 '{"per_page": 2}'
//! ```
//!
//! `--format protobuf` speaks the binary format of protocol §7 (the output is the same JSON:
//! the client converts).
//!
//! Exit status: 0 when the server answered with status 0; 1 for an error answer, a refused
//! connection or bad arguments (the reason goes to stderr).

use pkg_router::RspCode;
use pkg_router::client::{Client, Format};
use serde_json::{Value, json};
use std::process::ExitCode;

const USAGE: &str = "usage: books_client [--url ws://127.0.0.1:8000/web] --token JWT [--format json|protobuf] [--watch] PKG_ID [DATA_JSON]";

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("books_client: {err}");
            ExitCode::FAILURE
        }
    }
}

/// What the command line asked for.
struct Args {
    url: String,
    token: String,
    format: Format,
    watch: bool,
    pkg_id: u32,
    data: Value,
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args().skip(1);
    let (mut url, mut token, mut format, mut watch, mut rest) = (
        "ws://127.0.0.1:8000/web".to_owned(),
        None,
        Format::Json,
        false,
        Vec::new(),
    );
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--url" => url = args.next().ok_or("--url needs a value")?,
            "--token" => token = Some(args.next().ok_or("--token needs a value")?),
            "--format" => {
                format = match args.next().ok_or("--format needs a value")?.as_str() {
                    name if name.eq_ignore_ascii_case("json") => Format::Json,
                    name if name.eq_ignore_ascii_case("protobuf") => Format::Protobuf,
                    other => return Err(format!("unknown format {other:?}\n{USAGE}")),
                }
            }
            "--watch" => watch = true,
            "-h" | "--help" => return Err(USAGE.to_owned()),
            _ => rest.push(arg),
        }
    }
    let usage = |what: &str| format!("{what}\n{USAGE}");
    let token = token.ok_or_else(|| usage("--token is required"))?;
    let pkg_id = rest.first().ok_or_else(|| usage("PKG_ID is required"))?;
    let pkg_id = pkg_id
        .parse()
        .map_err(|_| usage(&format!("PKG_ID must be a number, not {pkg_id:?}")))?;
    let data = match rest.get(1) {
        Some(text) => serde_json::from_str(text)
            .map_err(|err| usage(&format!("DATA_JSON is not JSON: {err}")))?,
        None => json!({}),
    };
    Ok(Args {
        url,
        token,
        format,
        watch,
        pkg_id,
        data,
    })
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let args = parse_args()?;
    let client = Client::connect(args.url)
        .token(args.token)
        .format(args.format)
        .await?;
    // Subscribed before the request, so a push it causes is not missed.
    let mut pushes = client.pushes();
    let answer = client.request(args.pkg_id, &args.data).await?;
    let printed = json!({
        "pkg_id": answer.pkg_id,
        "req_id": answer.req_id,
        "status_code": answer.status_code,
        "meta": answer.meta,
        "data": answer.data,
    });
    println!("{}", serde_json::to_string_pretty(&printed)?);
    if answer.status_code != RspCode::Ok {
        return Err(format!("the server answered status {}", answer.status_code as u8).into());
    }
    if args.watch {
        while let Some(push) = pushes.next().await {
            let push = json!({"pkg_id": push.pkg_id, "data": push.data});
            println!("{}", serde_json::to_string_pretty(&push)?);
        }
    }
    client.close().await;
    Ok(())
}
