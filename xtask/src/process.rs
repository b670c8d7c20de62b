//! Running programs: finding them, running them to completion with a clear error, and
//! keeping long-running servers under a guard that always stops them.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::error::{Context, Result, bail};

/// Directories searched after `PATH`: daemons live in `sbin`, which a non-root `PATH` may lack.
const EXTRA_DIRS: &[&str] = &["/usr/local/sbin", "/usr/sbin", "/sbin"];

/// How long a server gets to exit after SIGTERM before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// Finds an executable by name on `PATH` (then in the `sbin` directories).
pub(crate) fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(EXTRA_DIRS.iter().map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

/// Whether `path` is a regular file with an execute bit.
pub(crate) fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .is_ok_and(|meta| meta.is_file() && meta.permissions().mode() & 0o111 != 0)
}

/// Finds a program the harness cannot work without.
pub(crate) fn require_program(name: &str) -> Result<PathBuf> {
    find_program(name).with_context(|| format!("`{name}` not found on PATH or in /usr/sbin"))
}

/// Whether this process runs as root (uid 0).
pub(crate) fn is_root() -> bool {
    // /proc/self/status has "Uid:\treal\teffective\tsaved\tfs"; the effective uid decides.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().nth(1).map(|euid| euid == "0"))
        })
        .unwrap_or(false)
}

/// Sends `signal` (a name such as `TERM` or `KILL`) to process `pid`.
pub(crate) fn send_signal(pid: u32, signal: &str) -> Result<()> {
    kill(signal, &pid.to_string())
}

/// Sends `signal` to every process in the process group `pgid`.
pub(crate) fn signal_group(pgid: u32, signal: &str) -> Result<()> {
    kill(signal, &format!("-{pgid}"))
}

/// `kill -s SIGNAL -- TARGET` through the shell: std can only SIGKILL its own children, and
/// the shell's built-in `kill` needs no extra package.
fn kill(signal: &str, target: &str) -> Result<()> {
    run(Command::new("sh").args(["-c", "kill -s \"$1\" -- \"$2\"", "sh", signal, target]))
        .with_context(|| format!("sending SIG{signal} to {target}"))?;
    Ok(())
}

/// A short human-readable rendering of a command line, for messages.
pub(crate) fn describe(cmd: &Command) -> String {
    std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(OsStr::to_string_lossy)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `cmd` to completion, capturing its output; fails unless it exits with status 0.
pub(crate) fn run(cmd: &mut Command) -> Result<Output> {
    let line = describe(cmd);
    let output = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("could not run `{line}`"))?;
    if !output.status.success() {
        bail!(
            "`{line}` failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(output)
}

/// Runs `cmd` and returns the first non-empty line it printed (stdout, else stderr).
///
/// Used for `--version` output: some Go programs print it on stderr.
pub(crate) fn first_line(cmd: &mut Command) -> Result<String> {
    let output = run(cmd)?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    stdout
        .lines()
        .chain(stderr.lines())
        .map(str::trim)
        .find(|line| !line.is_empty())
        .map(str::to_owned)
        .with_context(|| format!("`{}` printed nothing", describe(cmd)))
}

/// The last `lines` lines of a log file (or a note that it cannot be read).
pub(crate) fn log_tail(path: &Path, lines: usize) -> String {
    const MAX_BYTES: u64 = 16 * 1024;
    let read = || -> std::io::Result<String> {
        let mut file = File::open(path)?;
        let len = file.metadata()?.len();
        file.seek(SeekFrom::Start(len.saturating_sub(MAX_BYTES)))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    };
    match read() {
        Ok(text) => {
            let all: Vec<&str> = text.lines().collect();
            let tail = &all[all.len().saturating_sub(lines)..];
            format!(
                "--- last lines of {} ---\n{}",
                path.display(),
                tail.join("\n")
            )
        }
        Err(err) => format!("--- {} cannot be read: {err} ---", path.display()),
    }
}

/// Polls `check` every 50 ms until it returns `true`, for at most `timeout`.
///
/// An error from `check` ends the wait at once (e.g. the server exited). On timeout the
/// error names `what` and carries the tail of `log`.
pub(crate) fn wait_until(
    what: &str,
    timeout: Duration,
    log: &Path,
    mut check: impl FnMut() -> Result<bool>,
) -> Result<Duration> {
    let start = Instant::now();
    while start.elapsed() < timeout {
        crate::interrupt::check()?;
        if check()? {
            return Ok(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    bail!(
        "{what} was not ready after {} s\n{}",
        timeout.as_secs(),
        log_tail(log, 30)
    )
}

/// A server process started by the harness; stopping it (or dropping the guard) ends it.
#[derive(Debug)]
pub(crate) struct Daemon {
    name: &'static str,
    child: Option<Child>,
    log: PathBuf,
}

impl Daemon {
    /// Spawns `cmd` in a process group of its own, with stdout and stderr written to `log`.
    ///
    /// Its own group keeps a Ctrl-C in the terminal away from it: the harness stops it.
    pub(crate) fn spawn(name: &'static str, cmd: &mut Command, log: &Path) -> Result<Self> {
        let out = File::create(log).with_context(|| format!("creating {}", log.display()))?;
        let err = out.try_clone()?;
        let line = describe(cmd);
        let child = cmd
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .with_context(|| format!("starting {name}: `{line}`"))?;
        Ok(Self {
            name,
            child: Some(child),
            log: log.to_path_buf(),
        })
    }

    /// The file that holds the server's output.
    pub(crate) fn log(&self) -> &Path {
        &self.log
    }

    /// Fails (with the log tail) if the process has already exited.
    pub(crate) fn check_running(&mut self) -> Result<()> {
        if let Some(child) = self.child.as_mut()
            && let Some(status) = child.try_wait()?
        {
            bail!(
                "{} exited early ({status})\n{}",
                self.name,
                log_tail(&self.log, 30)
            );
        }
        Ok(())
    }

    /// Stops the server's process group: SIGTERM, up to 10 s for it to exit, then SIGKILL.
    ///
    /// Returns an error only if the process could not be ended at all.
    pub(crate) fn stop(&mut self) -> Result<()> {
        let Some(mut child) = self.child.take() else {
            return Ok(());
        };
        if child.try_wait()?.is_some() {
            return Ok(());
        }
        if let Err(err) = signal_group(child.id(), "TERM") {
            eprintln!("xtask: {err}");
        }
        let deadline = Instant::now() + STOP_GRACE;
        while Instant::now() < deadline {
            if child.try_wait()?.is_some() {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        eprintln!(
            "xtask: {} (pid {}) ignored SIGTERM for {} s; killing it",
            self.name,
            child.id(),
            STOP_GRACE.as_secs()
        );
        if signal_group(child.id(), "KILL").is_err() {
            child
                .kill()
                .with_context(|| format!("killing {} (pid {})", self.name, child.id()))?;
        }
        child.wait()?;
        Ok(())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Err(err) = self.stop() {
            eprintln!("xtask: could not stop {}: {err}", self.name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_sh_and_not_nonsense() {
        assert!(find_program("sh").is_some());
        assert!(find_program("biv-no-such-program-anywhere").is_none());
    }

    #[test]
    fn run_reports_the_failing_command() {
        let err = run(Command::new("sh").args(["-c", "echo oops >&2; exit 3"])).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("sh -c"), "{text}");
        assert!(text.contains("oops"), "{text}");
    }

    #[test]
    fn first_line_skips_blank_lines_and_falls_back_to_stderr() {
        let line = first_line(Command::new("sh").args(["-c", "echo; echo ' v1.2 ' >&2"])).unwrap();
        assert_eq!(line, "v1.2");
    }

    #[test]
    fn daemon_stops_on_sigterm_and_drop_is_idempotent() {
        let log = std::env::temp_dir().join(format!("xtask-daemon-{}.log", std::process::id()));
        let mut daemon = Daemon::spawn("sleeper", Command::new("sleep").arg("60"), &log).unwrap();
        daemon.check_running().unwrap();
        let started = Instant::now();
        daemon.stop().unwrap();
        assert!(started.elapsed() < STOP_GRACE, "SIGTERM should end `sleep`");
        daemon.stop().unwrap();
        drop(daemon);
        let _ = std::fs::remove_file(log);
    }

    #[test]
    fn wait_until_times_out_with_the_log_tail() {
        let path = std::env::temp_dir().join(format!("xtask-wait-{}.log", std::process::id()));
        std::fs::write(&path, "listening failed: address in use\n").unwrap();
        let err = wait_until("server", Duration::from_millis(120), &path, || Ok(false))
            .unwrap_err()
            .to_string();
        assert!(err.contains("server was not ready"), "{err}");
        assert!(err.contains("address in use"), "{err}");
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn wait_until_stops_at_the_first_error() {
        let started = Instant::now();
        let err = wait_until(
            "server",
            Duration::from_secs(30),
            Path::new("/nonexistent"),
            || Err(crate::error::Error::msg("exited early")),
        )
        .unwrap_err();
        assert_eq!(err.to_string(), "exited early");
        assert!(started.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn log_tail_keeps_the_last_lines() {
        let path = std::env::temp_dir().join(format!("xtask-tail-{}.log", std::process::id()));
        std::fs::write(&path, "a\nb\nc\nd\n").unwrap();
        let tail = log_tail(&path, 2);
        assert!(tail.ends_with("c\nd"), "{tail}");
        let _ = std::fs::remove_file(path);
    }
}
