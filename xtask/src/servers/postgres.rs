//! PostgreSQL 15: a throw-away cluster (`initdb` + `pg_ctl start`) on 127.0.0.1.
//!
//! PostgreSQL refuses to run as root, so when the harness is root the cluster belongs to the
//! `postgres` OS user (through `runuser`), and its directory is handed to that user.
//! Authentication is `trust` for the superuser `biv`; durability is switched off (`fsync=off`)
//! because the cluster is deleted after the run.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{EnvVar, READY_TIMEOUT, Summary};
use crate::error::{Context, Error, Result, bail};
use crate::process::{
    find_program, first_line, is_root, log_tail, require_program, run, send_signal,
};

/// The database superuser the tests connect as.
const USER: &str = "biv";
/// The OS account that owns the cluster when the harness runs as root.
const OS_USER: &str = "postgres";

/// A running PostgreSQL cluster; dropping it stops the server.
#[derive(Debug)]
pub(crate) struct Postgres {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    version: String,
    as_postgres: bool,
    running: bool,
}

impl Postgres {
    /// Creates a cluster in `dir/data` and starts it on 127.0.0.1:`port`.
    pub(crate) fn start(dir: &Path, port: u16) -> Result<Self> {
        let bin = bin_dir()?;
        let as_postgres = is_root();
        if as_postgres {
            hand_to_postgres(dir)?;
        }
        let version = first_line(Command::new(bin.join("postgres")).arg("--version"))?;
        let mut server = Self {
            bin,
            dir: dir.to_path_buf(),
            port,
            version,
            as_postgres,
            running: false,
        };
        let data = server.data_dir();
        run(server
            .pg_command("initdb")?
            .arg("-D")
            .arg(&data)
            .args(["-A", "trust", "-U", USER, "-E", "UTF8", "--locale=C"])
            .args(["--no-sync", "--no-instructions"]))?;

        let options = format!(
            "-c listen_addresses=127.0.0.1 -p {port} -k {} -c fsync=off \
             -c synchronous_commit=off -c full_page_writes=off",
            dir.display()
        );
        let log = server.log_path();
        let timeout = READY_TIMEOUT.as_secs().to_string();
        // From here on the guard must stop the server, even if `pg_ctl start` reports failure
        // after the postmaster came up.
        server.running = true;
        run(server
            .pg_command("pg_ctl")?
            .arg("-D")
            .arg(&data)
            .arg("-o")
            .arg(&options)
            .arg("-l")
            .arg(&log)
            .args(["-w", "-t", &timeout, "start"]))
        .map_err(|err| Error::msg(format!("{err}\n{}", log_tail(&log, 30))))?;
        server.check_accepts()?;
        Ok(server)
    }

    /// The connection URL the tests use.
    pub(crate) fn url(&self) -> String {
        format!("postgresql://{USER}@127.0.0.1:{}/postgres", self.port)
    }

    /// The summary line.
    pub(crate) fn summary(&self) -> Summary {
        Summary {
            name: "postgresql",
            version: self.version.clone(),
            address: self.url(),
        }
    }

    /// `BIV_TEST_PG_URL`.
    pub(crate) fn env(&self) -> Vec<EnvVar> {
        vec![("BIV_TEST_PG_URL", self.url())]
    }

    /// `pg_ctl stop -m fast`; if that fails, kills the postmaster by its PID.
    pub(crate) fn stop(&mut self) -> Result<()> {
        if !self.running {
            return Ok(());
        }
        self.running = false;
        let data = self.data_dir();
        let stopped = self.pg_command("pg_ctl").and_then(|mut cmd| {
            run(cmd
                .arg("-D")
                .arg(&data)
                .args(["-m", "fast", "-w", "-t", "20", "stop"]))
        });
        if let Err(err) = stopped {
            eprintln!("xtask: pg_ctl stop failed, killing the postmaster: {err}");
            let pid = self.postmaster_pid().context("reading postmaster.pid")?;
            send_signal(pid, "KILL")?;
        }
        Ok(())
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.join("postgres.log")
    }

    /// The postmaster's PID, from the first line of `postmaster.pid`.
    fn postmaster_pid(&self) -> Option<u32> {
        std::fs::read_to_string(self.data_dir().join("postmaster.pid"))
            .ok()?
            .lines()
            .next()?
            .trim()
            .parse()
            .ok()
    }

    /// Confirms with `pg_isready` that the server accepts connections over TCP.
    fn check_accepts(&self) -> Result<()> {
        let ready = self.bin.join("pg_isready");
        let port = self.port.to_string();
        crate::process::wait_until("postgresql", READY_TIMEOUT, &self.log_path(), || {
            Ok(Command::new(&ready)
                .args([
                    "-q",
                    "-h",
                    "127.0.0.1",
                    "-p",
                    &port,
                    "-U",
                    USER,
                    "-d",
                    "postgres",
                ])
                .status()?
                .success())
        })?;
        Ok(())
    }

    /// A command for a PostgreSQL program, run as the `postgres` user when the harness is root.
    fn pg_command(&self, program: &str) -> Result<Command> {
        let path = self.bin.join(program);
        let mut cmd = if self.as_postgres {
            let mut cmd = Command::new(require_program("runuser")?);
            cmd.args(["-u", OS_USER, "--"]).arg(&path);
            cmd
        } else {
            Command::new(&path)
        };
        // The postgres user may not be allowed into the caller's working directory.
        cmd.current_dir(&self.dir);
        Ok(cmd)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        if let Err(err) = self.stop() {
            eprintln!("xtask: could not stop postgresql: {err}");
        }
    }
}

/// The directory with `initdb`, `pg_ctl`, `postgres` and `pg_isready`: PostgreSQL 15 if
/// present, else the newest version under `/usr/lib/postgresql`, else the one on `PATH`.
fn bin_dir() -> Result<PathBuf> {
    let preferred = Path::new("/usr/lib/postgresql/15/bin");
    if preferred.join("pg_ctl").is_file() {
        return Ok(preferred.to_path_buf());
    }
    let newest = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(|entry| entry.ok())
        .filter_map(|entry| {
            let version: u32 = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("pg_ctl").is_file().then_some((version, bin))
        })
        .max_by_key(|(version, _)| *version);
    if let Some((_, bin)) = newest {
        return Ok(bin);
    }
    if let Some(pg_ctl) = find_program("pg_ctl")
        && let Some(dir) = pg_ctl.canonicalize()?.parent()
    {
        return Ok(dir.to_path_buf());
    }
    bail!("PostgreSQL server programs not found (install postgresql-15)")
}

/// Gives `dir` to the `postgres` OS user, so the cluster can live in it.
fn hand_to_postgres(dir: &Path) -> Result<()> {
    let id = |flag: &str| -> Result<u32> {
        let out = run(Command::new("id").args([flag, OS_USER]))
            .with_context(|| format!("looking up the `{OS_USER}` OS user"))?;
        String::from_utf8_lossy(&out.stdout)
            .trim()
            .parse()
            .context("`id` printed no number")
    };
    std::os::unix::fs::chown(dir, Some(id("-u")?), Some(id("-g")?))
        .with_context(|| format!("giving {} to the {OS_USER} user", dir.display()))
}
