//! The `retain` binary: parse arguments, run, map the outcome to an exit code.

use std::error::Error as _;
use std::sync::Mutex;

use clap::Parser;

/// Where the last panic happened, for the message of exit code 1.
static LAST_PANIC: Mutex<Option<String>> = Mutex::new(None);

fn main() -> std::process::ExitCode {
    let cli = retain::cli::Cli::parse();
    // A panic is either caught where the library expects one (a damaged input file, reported as
    // such) or a bug, reported once below with exit code 1: never Rust's exit code 101.
    std::panic::set_hook(Box::new(|info| {
        let place = info
            .location()
            .map_or(String::new(), |l| format!(" at {}:{}", l.file(), l.line()));
        if let Ok(mut last) = LAST_PANIC.lock() {
            *last = Some(format!(
                "{}{place}",
                retain::error::panic_message(info.payload())
            ));
        }
        if std::env::var_os("RUST_BACKTRACE").is_some_and(|v| !v.is_empty() && v != "0") {
            eprintln!("{info}\n{}", std::backtrace::Backtrace::force_capture());
        }
    }));
    let outcome = std::panic::catch_unwind(|| retain::run(cli)).unwrap_or_else(|_| {
        let what = LAST_PANIC
            .lock()
            .ok()
            .and_then(|last| last.clone())
            .unwrap_or_else(|| "a panic".into());
        Err(retain::error::Error::Internal(format!(
            "{what} (a bug in retain: please report it with the command and input)"
        )))
    });
    match outcome {
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
