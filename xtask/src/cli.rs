//! Command-line parsing for `cargo xtask` (hand-written: three options do not need a parser
//! crate).

use crate::error::{Result, bail};

/// What `cargo xtask` was asked to do.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Task {
    /// `cargo xtask test`: the README's test command.
    Test(TestOptions),
    /// `cargo xtask help`, `--help`, `-h` or no arguments.
    Help,
}

/// Options of `cargo xtask test`.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct TestOptions {
    /// `--no-servers`: run plain `cargo test --workspace`; server-backed tests stay ignored.
    pub(crate) no_servers: bool,
    /// `--keep`: leave the temp dir (configs, logs, data) in place afterwards.
    pub(crate) keep: bool,
    /// Everything after `--`: passed to the test binaries (name filters, `--exact`, …).
    pub(crate) test_args: Vec<String>,
}

/// The text `cargo xtask help` prints.
pub(crate) const USAGE: &str = "\
usage: cargo xtask test [--no-servers] [--keep] [-- TEST-ARGS...]

  test          install the Debian packages the tests need (if missing), start the loopback
                test servers, run `cargo test --workspace --all-features --no-fail-fast -- --include-ignored`,
                stop the servers and print the totals (see docs/testing.md)
  --no-servers  run only `cargo test --workspace`: server-backed tests are NOT run
  --keep        keep the temp dir with the servers' configs, logs and data
  -- ARGS       passed to the test binaries, e.g. `-- servers` to run tests matching `servers`
";

/// Parses the arguments after `cargo xtask`.
pub(crate) fn parse(args: &[String]) -> Result<Task> {
    let Some((task, rest)) = args.split_first() else {
        return Ok(Task::Help);
    };
    match task.as_str() {
        "help" | "--help" | "-h" => Ok(Task::Help),
        "test" => parse_test(rest).map(Task::Test),
        other => bail!("unknown task `{other}`"),
    }
}

fn parse_test(args: &[String]) -> Result<TestOptions> {
    let mut options = TestOptions::default();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--no-servers" => options.no_servers = true,
            "--keep" => options.keep = true,
            "--" => {
                options.test_args = args.cloned().collect();
                break;
            }
            other => bail!("unknown option `{other}` (test filters go after `--`)"),
        }
    }
    Ok(options)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn no_arguments_is_help() {
        assert_eq!(parse(&[]).unwrap(), Task::Help);
        assert_eq!(parse(&args(&["--help"])).unwrap(), Task::Help);
    }

    #[test]
    fn test_with_options_and_filter() {
        let task = parse(&args(&["test", "--keep", "--", "servers", "--exact"])).unwrap();
        assert_eq!(
            task,
            Task::Test(TestOptions {
                no_servers: false,
                keep: true,
                test_args: args(&["servers", "--exact"]),
            })
        );
    }

    #[test]
    fn no_servers_flag() {
        let Task::Test(options) = parse(&args(&["test", "--no-servers"])).unwrap() else {
            panic!("expected the test task");
        };
        assert!(options.no_servers);
    }

    #[test]
    fn rejects_unknown_things() {
        assert!(parse(&args(&["build"])).is_err());
        assert!(parse(&args(&["test", "servers"])).is_err());
    }
}
