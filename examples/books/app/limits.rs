//! Every limit of `WsConfig` as a flag and an environment variable, so the demo can be
//! load-tested and tuned as shipped (`--rate-limit off`, `--max-in-flight 64`, ...).

use pkg_router::transport::{AuthMode, RateLimit, WsConfig};
use std::time::Duration;

/// One setting: its flag, its environment variable, and what it takes.
struct Setting {
    flag: &'static str,
    env: &'static str,
    help: &'static str,
    apply: fn(&mut WsConfig, &str) -> Result<(), String>,
}

fn number<T: std::str::FromStr>(value: &str) -> Result<T, String> {
    value
        .trim()
        .replace('_', "")
        .parse()
        .map_err(|_| format!("`{value}` is not a number"))
}

fn millis(value: &str) -> Result<Duration, String> {
    number::<u64>(value).map(Duration::from_millis)
}

fn optional_millis(value: &str) -> Result<Option<Duration>, String> {
    if value.trim() == "off" {
        return Ok(None);
    }
    millis(value).map(Some)
}

/// `MESSAGES/SECONDS` (`100/60`) or `off`.
fn rate_limit(value: &str) -> Result<Option<RateLimit>, String> {
    if value.trim() == "off" {
        return Ok(None);
    }
    let (messages, seconds) = value
        .split_once('/')
        .ok_or_else(|| format!("`{value}` is not MESSAGES/SECONDS (100/60) or off"))?;
    let messages: u32 = number(messages)?;
    let seconds: u64 = number(seconds)?;
    if messages == 0 || seconds == 0 {
        return Err(format!(
            "`{value}`: both numbers must be positive (or say off)"
        ));
    }
    Ok(Some(RateLimit::new(messages, Duration::from_secs(seconds))))
}

const SETTINGS: &[Setting] = &[
    Setting {
        flag: "--auth",
        env: "BOOKS_AUTH",
        help: "required | optional | disabled [required]",
        apply: |c, v| {
            c.auth = match v {
                "required" => AuthMode::Required,
                "optional" => AuthMode::Optional,
                "disabled" => AuthMode::Disabled,
                _ => return Err(format!("`{v}`: required, optional or disabled")),
            };
            Ok(())
        },
    },
    Setting {
        flag: "--auth-timeout-ms",
        env: "BOOKS_AUTH_TIMEOUT_MS",
        help: "wait for the auth frame [5000]",
        apply: |c, v| {
            c.auth_timeout = millis(v)?;
            Ok(())
        },
    },
    Setting {
        flag: "--allowed-origins",
        env: "BOOKS_ALLOWED_ORIGINS",
        help: "comma-separated, * for any [*]",
        apply: |c, v| {
            c.allowed_origins = v
                .split(',')
                .map(str::trim)
                .filter(|o| !o.is_empty())
                .map(str::to_owned)
                .collect();
            Ok(())
        },
    },
    Setting {
        flag: "--max-message-size",
        env: "BOOKS_MAX_MESSAGE_SIZE",
        help: "bytes [1048576]",
        apply: |c, v| {
            c.max_message_size = number(v)?;
            Ok(())
        },
    },
    Setting {
        flag: "--max-connections",
        env: "BOOKS_MAX_CONNECTIONS",
        help: "[10000]",
        apply: |c, v| {
            c.max_connections = number(v)?;
            Ok(())
        },
    },
    Setting {
        flag: "--max-connections-per-principal",
        env: "BOOKS_MAX_CONNECTIONS_PER_PRINCIPAL",
        help: "[5]",
        apply: |c, v| {
            c.max_connections_per_principal = number(v)?;
            Ok(())
        },
    },
    Setting {
        flag: "--rate-limit",
        env: "BOOKS_RATE_LIMIT",
        help: "MESSAGES/SECONDS per principal, or off [100/60]",
        apply: |c, v| {
            c.rate_limit = rate_limit(v)?;
            Ok(())
        },
    },
    Setting {
        flag: "--max-in-flight",
        env: "BOOKS_MAX_IN_FLIGHT",
        help: "requests of one connection at once [16]",
        apply: |c, v| {
            c.max_in_flight = number(v)?;
            Ok(())
        },
    },
    Setting {
        flag: "--handler-timeout-ms",
        env: "BOOKS_HANDLER_TIMEOUT_MS",
        help: "or off [30000]",
        apply: |c, v| {
            c.handler_timeout = optional_millis(v)?;
            Ok(())
        },
    },
    Setting {
        flag: "--outbound-queue",
        env: "BOOKS_OUTBOUND_QUEUE",
        help: "frames queued per connection [256]",
        apply: |c, v| {
            c.outbound_queue = number(v)?;
            Ok(())
        },
    },
    Setting {
        flag: "--ping-interval-ms",
        env: "BOOKS_PING_INTERVAL_MS",
        help: "[30000]",
        apply: |c, v| {
            c.ping_interval = millis(v)?;
            Ok(())
        },
    },
    Setting {
        flag: "--pong-timeout-ms",
        env: "BOOKS_PONG_TIMEOUT_MS",
        help: "[10000]",
        apply: |c, v| {
            c.pong_timeout = millis(v)?;
            Ok(())
        },
    },
    Setting {
        flag: "--max-malformed",
        env: "BOOKS_MAX_MALFORMED",
        help: "malformed frames in a row before 1008, 0 off [10]",
        apply: |c, v| {
            c.max_malformed = number(v)?;
            Ok(())
        },
    },
    Setting {
        flag: "--shutdown-grace-ms",
        env: "BOOKS_SHUTDOWN_GRACE_MS",
        help: "[10000]",
        apply: |c, v| {
            c.shutdown_grace = millis(v)?;
            Ok(())
        },
    },
    Setting {
        flag: "--close-linger-ms",
        env: "BOOKS_CLOSE_LINGER_MS",
        help: "[2000]",
        apply: |c, v| {
            c.close_linger = millis(v)?;
            Ok(())
        },
    },
    Setting {
        flag: "--read-buffer-size",
        env: "BOOKS_READ_BUFFER_SIZE",
        help: "bytes per connection",
        apply: |c, v| {
            c.read_buffer_size = number(v)?;
            Ok(())
        },
    },
    Setting {
        flag: "--write-buffer-size",
        env: "BOOKS_WRITE_BUFFER_SIZE",
        help: "bytes per connection",
        apply: |c, v| {
            c.write_buffer_size = number(v)?;
            Ok(())
        },
    },
];

/// The `--help` lines of the settings.
pub fn help() -> String {
    SETTINGS
        .iter()
        .map(|s| {
            format!(
                "    {:<36} {} [{}]\n",
                format!("{} VALUE", s.flag),
                s.help,
                s.env
            )
        })
        .collect()
}

/// The library's defaults, changed by every setting given as a flag (first) or in the
/// environment (`env` looks a variable up; the binary passes `std::env::var`).
pub fn ws_config(
    args: &[String],
    env: impl Fn(&str) -> Option<String>,
) -> Result<WsConfig, String> {
    let mut config = WsConfig::default();
    for setting in SETTINGS {
        let from_flag = args
            .iter()
            .position(|a| a == setting.flag)
            .map(|i| {
                args.get(i + 1)
                    .cloned()
                    .ok_or_else(|| format!("{} needs a value", setting.flag))
            })
            .transpose()?;
        if let Some(value) = from_flag.or_else(|| env(setting.env)) {
            (setting.apply)(&mut config, &value)
                .map_err(|why| format!("{} / {}: {why}", setting.flag, setting.env))?;
        }
    }
    Ok(config)
}
