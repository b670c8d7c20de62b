//! Runs the real `biv` binary: version, help, the not-yet-available groups and usage errors.

use std::process::{Command, Output};

/// Every command group, in the order `biv --help` lists them.
const GROUPS: [&str; 13] = [
    "audit", "crypt", "keys", "pii", "review", "release", "drift", "logs", "health", "scale",
    "slo", "alert", "evidence",
];

/// Groups that have arrived and no longer answer "not available yet".
const AVAILABLE: [&str; 11] = [
    "audit", "crypt", "pii", "review", "scale", "health", "release", "drift", "alert", "keys",
    "logs",
];

fn biv(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_biv"))
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("the biv binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("stdout is UTF-8")
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).expect("stderr is UTF-8")
}

#[test]
fn version_prints_name_and_crate_version() {
    for flag in ["--version", "-V"] {
        let output = biv(&[flag]);
        assert_eq!(output.status.code(), Some(0), "{flag}");
        assert_eq!(
            stdout(&output),
            format!("biv {}\n", env!("CARGO_PKG_VERSION"))
        );
        assert!(output.stderr.is_empty(), "{flag}: {}", stderr(&output));
    }
}

#[test]
fn help_lists_every_group_and_the_exit_statuses() {
    for flag in ["--help", "-h"] {
        let output = biv(&[flag]);
        assert_eq!(output.status.code(), Some(0), "{flag}");
        let text = stdout(&output);
        for group in GROUPS {
            assert!(
                text.lines()
                    .any(|line| line.trim_start().starts_with(&format!("{group} "))),
                "biv {flag} does not list {group}:\n{text}"
            );
        }
        assert!(text.contains("Exit status"), "{text}");
    }
}

#[test]
fn no_arguments_prints_help_to_stderr_and_exits_2() {
    let output = biv(&[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    assert!(stderr(&output).contains("Usage: biv <COMMAND>"));
}

#[test]
fn every_group_is_not_available_yet_and_says_so() {
    for group in GROUPS.into_iter().filter(|g| !AVAILABLE.contains(g)) {
        for extra in [&[][..], &["verify", "--full"][..], &["--unknown-flag"][..]] {
            let mut args = vec![group];
            args.extend_from_slice(extra);
            let output = biv(&args);
            let shown = args.join(" ");
            assert_eq!(output.status.code(), Some(2), "biv {shown}");
            assert!(
                output.stdout.is_empty(),
                "biv {shown} wrote to stdout: {}",
                stdout(&output)
            );
            assert_eq!(
                stderr(&output),
                format!(
                    "biv {group}: not available yet in biv {} \u{2014} this command group arrives \
                     with a later release; see the README's roadmap.\n",
                    env!("CARGO_PKG_VERSION")
                ),
                "biv {shown}"
            );
        }
    }
}

#[test]
fn group_help_still_works_and_says_the_group_is_not_available() {
    for group in GROUPS.into_iter().filter(|g| !AVAILABLE.contains(g)) {
        for args in [
            vec![group, "--help"],
            vec![group, "-h"],
            vec!["help", group],
        ] {
            let shown = args.join(" ");
            let output = biv(&args);
            assert_eq!(output.status.code(), Some(0), "biv {shown}");
            let text = stdout(&output);
            assert!(
                text.contains(&format!("Usage: biv {group}")),
                "biv {shown}:\n{text}"
            );
            assert!(
                text.contains("Not available yet in biv"),
                "biv {shown}:\n{text}"
            );
            assert!(output.stderr.is_empty(), "biv {shown}: {}", stderr(&output));
        }
    }
}

#[test]
fn unknown_command_is_a_usage_error() {
    let output = biv(&["frobnicate"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    assert!(stderr(&output).contains("unrecognized subcommand 'frobnicate'"));
}

#[test]
fn unknown_top_level_flag_is_a_usage_error() {
    let output = biv(&["--frobnicate"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    assert!(stderr(&output).contains("--frobnicate"));
}
