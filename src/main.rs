//! The `retain` binary: parse arguments, run, map the outcome to an exit code.

use std::error::Error as _;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = retain::cli::Cli::parse();
    match retain::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            let mut message = format!("error: {err}");
            let mut source = err.source();
            while let Some(cause) = source {
                message.push_str(&format!("\n  caused by: {cause}"));
                source = cause.source();
            }
            eprintln!("{message}");
            std::process::ExitCode::from(err.exit_code() as u8)
        }
    }
}
