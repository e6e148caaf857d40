//! The `landscape` command: parse, run, print errors.

use clap::{CommandFactory, FromArgMatches};
use landscape::cli::{self, Cli};
use std::process::ExitCode;

fn main() -> ExitCode {
    let parsed = Cli::command()
        .try_get_matches()
        .and_then(|m| Cli::from_arg_matches(&m).map(|cli| (cli, m)));
    let (cli, explicit) = match parsed {
        Ok((cli, m)) => (cli, cli::explicit_arguments(&m)),
        Err(e) if !e.use_stderr() => {
            // --help and --version.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            // No command at all: the help, which lists the commands, on standard error.
            let _ = e.print();
            return ExitCode::from(2);
        }
        Err(e) => {
            // One line: clap's message up to its usage section, lines joined (a missing
            // argument is named on the line after the first).
            let text = e.render().to_string();
            let message: Vec<&str> = text
                .lines()
                .take_while(|l| !l.starts_with("Usage:"))
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with("For more information"))
                .collect();
            let line = if message.is_empty() {
                "error: invalid arguments".to_string()
            } else {
                message.join(" ")
            };
            eprintln!(
                "{} (see landscape --help)",
                landscape::error::one_line(&line)
            );
            return ExitCode::from(2);
        }
    };
    landscape::interrupt::install();
    match cli::run(cli, &explicit) {
        // A run stopped by Ctrl-C that saved what was complete still exits as interrupted.
        Ok(()) if landscape::interrupt::requested() => ExitCode::from(130),
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {e:#}");
            let usage = e
                .downcast_ref::<landscape::Error>()
                .is_some_and(landscape::Error::is_usage);
            ExitCode::from(if usage { 2 } else { 1 })
        }
    }
}
