//! A command-line client for the books demo: authenticates, sends one request, prints the
//! response, then (with `--watch`) keeps printing pushes.
//!
//! ```text
//! T=$(cargo run -q --example books -- token --user alice --roles view-books,create-book)
//! cargo run -q --example books_client -- --token "$T" 4 '{"per_page": 2}'
//! cargo run -q --example books_client -- --token "$T" --watch 8 '{}'
//! ```

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::process::ExitCode;
use tokio_tungstenite::tungstenite::Message;

const USAGE: &str =
    "usage: books_client [--url ws://127.0.0.1:8000/web] --token JWT [--watch] PKG_ID [DATA_JSON]";

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("books_client: {err}\n{USAGE}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (mut url, mut token, mut watch, mut rest) = (
        "ws://127.0.0.1:8000/web".to_owned(),
        None,
        false,
        Vec::new(),
    );
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--url" => url = args.next().ok_or("--url needs a value")?,
            "--token" => token = Some(args.next().ok_or("--token needs a value")?),
            "--watch" => watch = true,
            _ => rest.push(arg),
        }
    }
    let token = token.ok_or("--token is required")?;
    let pkg_id: u32 = rest.first().ok_or("PKG_ID is required")?.parse()?;
    let data: Value = match rest.get(1) {
        Some(text) => serde_json::from_str(text)?,
        None => json!({}),
    };

    let (mut socket, _) = tokio_tungstenite::connect_async(url.as_str()).await?;
    let auth = json!({"type": "auth", "token": format!("Bearer {token}")});
    socket.send(Message::text(auth.to_string())).await?;
    let req_id = uuid::Uuid::new_v4().to_string();
    let request = json!({"pkg_id": pkg_id, "req_id": req_id, "data": data});
    let mut sent = false;
    while let Some(message) = socket.next().await {
        match message? {
            Message::Text(text) => {
                let value: Value = serde_json::from_str(&text)?;
                if value["type"] == "auth_ok" && !sent {
                    socket.send(Message::text(request.to_string())).await?;
                    sent = true;
                    continue;
                }
                println!("{}", serde_json::to_string_pretty(&value)?);
                if value["req_id"] == req_id.as_str() && !watch {
                    return Ok(());
                }
            }
            Message::Close(frame) => {
                return Err(format!("server closed the connection: {frame:?}").into());
            }
            _ => {}
        }
    }
    Ok(())
}
