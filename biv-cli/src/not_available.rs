//! The placeholder for a command group that has not arrived yet.
//!
//! A group that is not available yet flattens [`NotAvailable`] into its arguments. It accepts any
//! further arguments (so `biv audit verify --full` reaches the group instead of failing as an
//! unknown subcommand), keeps `--help` working, and [`NotAvailable::report`] explains on stderr
//! that the group arrives with a later release.

use std::ffi::OsString;

use clap::Args;

use crate::exit::Exit;

/// Marks a group's `about` line as describing a command group that is not available yet.
///
/// Expands to a `&'static str`, so it can be used inside `#[command(about = ...)]`.
macro_rules! planned {
    ($about:literal) => {
        concat!($about, " (not available yet)")
    };
}
pub(crate) use planned;

/// Arguments of a command group that is not available yet: everything after the group name.
#[derive(Debug, Args)]
#[command(after_help = concat!(
    "Not available yet in biv ",
    env!("CARGO_PKG_VERSION"),
    ": this command group arrives with a later release; see the README's roadmap. \
     Running it exits with status 2."
))]
pub(crate) struct NotAvailable {
    /// Subcommands and options for this group; accepted and ignored until the group arrives.
    #[arg(
        trailing_var_arg = true,
        allow_hyphen_values = true,
        num_args = 0..,
        hide = true
    )]
    args: Vec<OsString>,
}

impl NotAvailable {
    /// Tells the user on stderr that `biv <group>` is not available yet, and returns
    /// [`Exit::Usage`]. Writes nothing to stdout.
    pub(crate) fn report(&self, group: &str) -> Exit {
        eprintln!("{}", message(group));
        Exit::Usage
    }
}

/// The text printed for `biv <group>` while the group is not available.
fn message(group: &str) -> String {
    format!(
        "biv {group}: not available yet in biv {version} \u{2014} this command group arrives with a \
         later release; see the README's roadmap.",
        version = env!("CARGO_PKG_VERSION"),
    )
}

#[cfg(test)]
mod tests {
    use super::message;

    #[test]
    fn the_message_names_the_group_and_the_version() {
        let text = message("audit");
        assert!(text.starts_with("biv audit: not available yet in biv "));
        assert!(text.contains(env!("CARGO_PKG_VERSION")));
        assert!(text.ends_with("see the README's roadmap."));
    }

    #[test]
    fn planned_marks_the_about_line() {
        assert_eq!(planned!("Do a thing"), "Do a thing (not available yet)");
    }
}
