//! The example GitHub Actions workflow (examples/github-actions/biv-gate.yml) calls biv only with
//! subcommands and options the CLI has, so the example cannot silently rot.

use std::path::PathBuf;
use std::process::Command;

/// Every `biv …` command in the workflow, continuation lines joined.
fn biv_commands(workflow: &str) -> Vec<String> {
    let mut commands = Vec::new();
    let mut current: Option<String> = None;
    for line in workflow.lines() {
        let text = line.trim();
        let (body, continues) = match text.strip_suffix('\\') {
            Some(body) => (body.trim_end(), true),
            None => (text, false),
        };
        match current.as_mut() {
            Some(command) => {
                command.push(' ');
                command.push_str(body);
            }
            None if body.starts_with("biv ") => current = Some(body.to_owned()),
            None => continue,
        }
        if !continues {
            commands.extend(current.take());
        }
    }
    commands
}

#[test]
fn the_workflow_uses_only_options_the_cli_has() {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/github-actions/biv-gate.yml");
    let workflow = std::fs::read_to_string(&path).expect("the example workflow");
    let commands = biv_commands(&workflow);
    let used: Vec<String> = commands
        .iter()
        .map(|c| c.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .collect();
    for expected in [
        "biv review check",
        "biv release evidence",
        "biv release promote",
    ] {
        assert!(
            used.iter().any(|u| u == expected),
            "{expected} missing: {used:?}"
        );
    }
    // an option assembled in a shell array before the command counts too
    let arrays = workflow
        .lines()
        .filter(|l| l.contains("=(--"))
        .flat_map(|l| l.split("=(").nth(1).map(str::to_owned))
        .collect::<Vec<_>>();
    for command in &commands {
        let words: Vec<&str> = command.split_whitespace().collect();
        let help = Command::new(env!("CARGO_BIN_EXE_biv"))
            .args(&words[1..3])
            .arg("--help")
            .output()
            .expect("biv runs");
        assert!(help.status.success(), "{command}: --help failed");
        let help = String::from_utf8(help.stdout).expect("UTF-8 help");
        let mut options: Vec<&str> = words
            .iter()
            .copied()
            .filter(|w| w.starts_with("--"))
            .collect();
        if words[2] == "promote" {
            options.extend(arrays.iter().filter_map(|a| a.split_whitespace().next()));
        }
        assert!(!options.is_empty(), "{command}");
        for option in options {
            assert!(
                help.contains(&format!("{option} ")) || help.contains(&format!("{option}\n")),
                "`{option}` of `{}` is not an option of the CLI",
                words[..3].join(" ")
            );
        }
    }
}
