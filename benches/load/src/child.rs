//! A server under test in a child process (`<exe> serve <kind> --port 0`), so that its memory
//! and CPU time are its own.

use crate::procfs;
use crate::{BenchError, Kind, Plan};
use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdin, Command};

/// How long a server may take to start listening.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// The longest a server lives, whatever happens to the driver.
const MAX_LIFETIME_SECS: u64 = 1800;

/// A running server; killed when dropped.
#[derive(Debug)]
pub(crate) struct ServerProcess {
    child: Child,
    /// Closing it tells the server to exit.
    stdin: Option<ChildStdin>,
    pid: String,
    pub(crate) addr: SocketAddr,
}

impl ServerProcess {
    /// Starts server `kind` as `plan` says (executable, wrapper, threads) and waits until it
    /// listens.
    pub(crate) async fn start(plan: &Plan, kind: Kind) -> Result<Self, BenchError> {
        let mut command = match plan.server_wrapper.split_first() {
            Some((program, args)) => {
                let mut command = Command::new(program);
                command.args(args).arg(&plan.server_exe);
                command
            }
            None => Command::new(&plan.server_exe),
        };
        command.args([
            "serve",
            kind.name(),
            "--port",
            "0",
            "--max-lifetime",
            &MAX_LIFETIME_SECS.to_string(),
        ]);
        if let Some(threads) = plan.server_threads {
            command.args(["--threads", &threads.to_string()]);
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()?;
        let stdin = child.stdin.take();
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| BenchError::from("no stdout of the server process"))?;
        let pid = child
            .id()
            .ok_or_else(|| BenchError::from("server process exited at once"))?
            .to_string();
        let mut lines = BufReader::new(stdout).lines();
        // A wrapper may print lines of its own first.
        let listening = async {
            while let Some(line) = lines.next_line().await? {
                if let Some(port) = line.trim().strip_prefix("LISTENING ") {
                    return Ok::<_, BenchError>(port.parse::<u16>()?);
                }
            }
            Err(BenchError::from("the server exited before listening"))
        };
        let port = tokio::time::timeout(START_TIMEOUT, listening)
            .await
            .map_err(|_| {
                format!(
                    "{} server did not start within {START_TIMEOUT:?}",
                    kind.name()
                )
            })??;
        // Keep reading (and dropping) its output so a chatty wrapper never blocks.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Self {
            child,
            stdin,
            pid,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        })
    }

    /// The server's process id.
    pub(crate) fn pid(&self) -> &str {
        &self.pid
    }

    /// The server's resident memory, KiB.
    pub(crate) fn rss_kib(&self) -> std::io::Result<u64> {
        procfs::rss_kib(&self.pid)
    }

    /// The server's CPU time so far.
    pub(crate) fn cpu_time(&self) -> std::io::Result<Duration> {
        procfs::cpu_time(&self.pid)
    }

    /// Asks the server to exit (closes its input) and waits; kills it after 5 s.
    pub(crate) async fn stop(mut self) {
        stop(&mut self.child, self.stdin.take()).await;
    }
}

/// Closes a child's input (the harness's children exit when it closes), waits at most 5 s,
/// then kills it.
pub(crate) async fn stop(child: &mut Child, stdin: Option<ChildStdin>) {
    drop(stdin);
    if tokio::time::timeout(Duration::from_secs(5), child.wait())
        .await
        .is_err()
    {
        let _ = child.start_kill();
        let _ = child.wait().await;
    }
}
