//! [`RedisServer`]: a throwaway `redis-server` for tests (feature `test-server`).

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a server may take to answer its first PING.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// A `redis-server` on a free loopback port, without persistence, stopped when dropped.
///
/// It can be killed, restarted on the same port, and paused (SIGSTOP: it keeps its sockets
/// but answers nothing, like a stalled server) to test what a cluster does meanwhile.
///
/// # Examples
///
/// ```no_run
/// use pkg_router_redis::test_server::RedisServer;
///
/// let Some(mut redis) = RedisServer::start_or_skip("my_test") else { return };
/// let url = redis.url(); // redis://127.0.0.1:<port>/
/// redis.pause();
/// redis.resume();
/// redis.kill();
/// redis.restart();
/// # let _ = url;
/// ```
#[derive(Debug)]
pub struct RedisServer {
    port: u16,
    child: Option<Child>,
    paused: bool,
}

/// Why a [`RedisServer`] did not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// `redis-server` is not on the `PATH` (Debian: `apt-get install redis-server`).
    #[error("redis-server is not installed (Debian: apt-get install redis-server)")]
    NotInstalled,
    /// It started but did not answer PING in time, or could not be spawned.
    #[error("redis-server did not start: {0}")]
    Failed(String),
}

impl RedisServer {
    /// Starts a server on a free loopback port and waits until it answers PING.
    ///
    /// # Errors
    ///
    /// [`ServerError::NotInstalled`] without the binary; [`ServerError::Failed`] when it does
    /// not come up.
    pub fn start() -> Result<Self, ServerError> {
        let port = free_port().map_err(|err| ServerError::Failed(err.to_string()))?;
        let mut server = Self {
            port,
            child: None,
            paused: false,
        };
        server.spawn()?;
        Ok(server)
    }

    /// [`start`](Self::start), or `None` with a loud banner on stderr when `redis-server` is
    /// not installed and the environment variable `CI` is not set (a developer's machine).
    ///
    /// # Panics
    ///
    /// When the server cannot start in CI (`CI` set), or cannot start although installed: a
    /// test that needs Redis must not pass silently there.
    pub fn start_or_skip(test: &str) -> Option<Self> {
        match Self::start() {
            Ok(server) => Some(server),
            Err(ServerError::NotInstalled) if std::env::var_os("CI").is_none() => {
                eprintln!(
                    "\n{bar}\n!!! SKIPPED {test}: redis-server is not installed.\n!!! Install it (Debian: apt-get install redis-server) to run the cluster tests;\n!!! in CI (CI set) this is a failure.\n{bar}\n",
                    bar = "!".repeat(78)
                );
                None
            }
            Err(err) => panic!("{test} needs redis-server: {err}"),
        }
    }

    /// `redis://127.0.0.1:<port>/`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The process id of the running server, if it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Kills the server (SIGKILL) and waits for it to exit: every connection to it breaks and
    /// its data is gone.
    pub fn kill(&mut self) {
        if self.paused {
            self.resume();
        }
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port (killing it first if it runs), empty, and
    /// waits until it answers PING.
    ///
    /// # Panics
    ///
    /// When it does not come back.
    pub fn restart(&mut self) {
        self.kill();
        if let Err(err) = self.spawn() {
            panic!("redis-server did not restart on port {}: {err}", self.port);
        }
    }

    /// Stops the process (SIGSTOP): its sockets stay open, nothing is answered.
    pub fn pause(&mut self) {
        if let Some(pid) = self.pid() {
            signal("-STOP", pid);
            self.paused = true;
        }
    }

    /// Continues a paused server (SIGCONT).
    pub fn resume(&mut self) {
        if let Some(pid) = self.pid() {
            signal("-CONT", pid);
            self.paused = false;
        }
    }

    /// Sends one command line and returns the first line of the reply (`+PONG`, `:3`, ...).
    ///
    /// # Errors
    ///
    /// When the server cannot be reached.
    pub fn command(&self, line: &str) -> std::io::Result<String> {
        command(self.port, line)
    }

    fn spawn(&mut self) -> Result<(), ServerError> {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string()])
            .args(["--bind", "127.0.0.1"])
            .args(["--save", ""])
            .args(["--appendonly", "no"])
            .args(["--protected-mode", "no"])
            .args(["--loglevel", "warning"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|err| match err.kind() {
                std::io::ErrorKind::NotFound => ServerError::NotInstalled,
                _ => ServerError::Failed(err.to_string()),
            })?;
        self.child = Some(child);
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if command(self.port, "PING").is_ok_and(|reply| reply == "+PONG") {
                return Ok(());
            }
            if let Some(child) = &mut self.child
                && let Ok(Some(status)) = child.try_wait()
            {
                self.child = None;
                return Err(ServerError::Failed(format!("exited with {status}")));
            }
            if Instant::now() > deadline {
                self.kill();
                return Err(ServerError::Failed("no PONG within 10 s".into()));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

fn free_port() -> std::io::Result<u16> {
    let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))?;
    Ok(listener.local_addr()?.port())
}

fn signal(which: &str, pid: u32) {
    let _ = Command::new("kill")
        .args([which, &pid.to_string()])
        .status();
}

fn command(port: u16, line: &str) -> std::io::Result<String> {
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_millis(200))?;
    stream.set_read_timeout(Some(Duration::from_millis(500)))?;
    stream.write_all(format!("{line}\r\n").as_bytes())?;
    let mut reply = Vec::new();
    let mut byte = [0u8; 1];
    while !reply.ends_with(b"\r\n") {
        if stream.read(&mut byte)? == 0 {
            break;
        }
        reply.push(byte[0]);
    }
    Ok(String::from_utf8_lossy(&reply).trim_end().to_owned())
}
