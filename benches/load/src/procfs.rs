//! What `/proc` tells about a process (resident memory, CPU time) and about the machine.

use std::time::Duration;

/// Clock ticks per second of `/proc/<pid>/stat` (`USER_HZ`): 100 on every Linux architecture
/// the kernel exposes to user space this way.
const USER_HZ: u64 = 100;

/// Resident set size of process `pid` (`"self"` for this one), in KiB (`VmRSS`).
pub(crate) fn rss_kib(pid: &str) -> std::io::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no VmRSS in /proc/{pid}/status")))
}

/// Field `name` of `/proc/meminfo` (`"SUnreclaim"`: the kernel's unreclaimable slab, where
/// sockets live), KiB; the whole machine's.
pub(crate) fn meminfo_kib(name: &str) -> std::io::Result<u64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo")?;
    meminfo
        .lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no {name} in /proc/meminfo")))
}

/// User plus system CPU time of process `pid` (`"self"` for this one), all threads.
pub(crate) fn cpu_time(pid: &str) -> std::io::Result<Duration> {
    let (user, system) = cpu_times(pid)?;
    Ok(user + system)
}

/// User and system CPU time of process `pid` (`"self"` for this one), apart, all threads
/// (those that exited included), in 10 ms ticks.
pub(crate) fn cpu_times(pid: &str) -> std::io::Result<(Duration, Duration)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name (field 2) is in parentheses and may hold spaces: split after it.
    let after_name = stat
        .rfind(')')
        .and_then(|at| stat.get(at + 1..))
        .ok_or_else(|| std::io::Error::other("malformed /proc stat"))?;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
    let ticks = |index: usize| -> std::io::Result<u64> {
        fields
            .get(index)
            .and_then(|value| value.parse().ok())
            .ok_or_else(|| std::io::Error::other("malformed /proc stat"))
    };
    let ms = |ticks: u64| Duration::from_millis(ticks * 1000 / USER_HZ);
    Ok((ms(ticks(11)?), ms(ticks(12)?)))
}

/// Time on a CPU of this process's live threads, in nanoseconds (the first field of
/// `/proc/self/task/<tid>/schedstat`, summed): user and system together, finer than the 10 ms
/// ticks of [`cpu_times`], but blind to threads that exited between two readings.
pub(crate) fn self_schedstat_ns() -> std::io::Result<u64> {
    let mut total = 0u64;
    for task in std::fs::read_dir("/proc/self/task")? {
        let path = task?.path().join("schedstat");
        // A thread may exit between the listing and the read.
        let Ok(stat) = std::fs::read_to_string(path) else {
            continue;
        };
        let ns = stat
            .split_whitespace()
            .next()
            .and_then(|ns| ns.parse::<u64>().ok())
            .ok_or_else(|| std::io::Error::other("malformed schedstat"))?;
        total += ns;
    }
    Ok(total)
}

/// One line describing the machine: CPU model, CPUs, memory, OS and kernel.
pub(crate) fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .and_then(|rest| rest.split_once(':'))
        .map_or("unknown CPU", |(_, name)| name.trim())
        .to_owned();
    let cpus = std::thread::available_parallelism().map_or(0, usize::from);
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_gib = meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|kib| kib.parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0 / 1024.0);
    let os = std::fs::read_to_string("/etc/os-release")
        .unwrap_or_default()
        .lines()
        .find_map(|line| line.strip_prefix("PRETTY_NAME="))
        .map_or("Linux".to_owned(), |name| name.trim_matches('"').to_owned());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let rustc = std::process::Command::new("rustc")
        .arg("--version")
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map_or_else(|| "rustc ?".to_owned(), |v| v.trim().to_owned());
    format!(
        "{cpus} CPU {model}, {mem_gib:.0} GiB, {os}, kernel {}, {rustc}",
        kernel.trim()
    )
}

/// Today's date (UTC) as `YYYY-MM-DD`, from the system clock.
pub(crate) fn today() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        assert!(rss_kib("self").unwrap() > 0);
        assert!(meminfo_kib("SUnreclaim").unwrap() > 0);
        assert!(meminfo_kib("Unreclaim").is_err());
        assert!(cpu_time("self").is_ok());
        assert!(self_schedstat_ns().unwrap() > 0);
        assert_eq!(today().len(), 10);
        assert!(machine().contains("CPU"));
    }
}
