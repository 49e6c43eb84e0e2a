//! `cargo run --example books`: the pkg-router demo. See `--help` and the README walkthrough.

mod app;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "info,sqlx=warn".into()),
        )
        .init();
    app::cli::main().await
}
