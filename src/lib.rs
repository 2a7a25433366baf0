//! retain: churn scores, product suggestions and retention offers from purchase data.
//!
//! Stages are pure functions from one typed value to the next
//! (raw input → [`clean::Transactions`] → [`features::CustomerFeatures`] → …);
//! [`commands`] is the only layer that reads arguments and writes files.

pub mod clean;
pub mod cli;
pub mod commands;
pub mod config;
pub mod engine;
pub mod error;
pub mod features;
pub mod generate;
pub mod io;
pub mod memory;
pub mod model;
pub mod offers;
pub mod output;
pub mod pipeline;
mod progress;
pub mod quality;
pub mod recommend;
pub mod schema;
pub mod settings;

pub use error::{Error, ExitCode, Result};

/// Runs one parsed command line.
pub fn run(cli: cli::Cli) -> Result<()> {
    use cli::Command;
    memory::configure();
    match &cli.command {
        Command::Validate(args) => commands::validate::run(args),
        Command::Features(args) => commands::features::run(args),
        Command::Generate(args) => commands::generate::run(args),
        Command::Train(args) => commands::train::run(args),
        Command::Score(args) => commands::score::run(args),
        Command::Recommend(args) => commands::recommend::run(args),
        Command::Backtest(args) => commands::backtest::run(args),
        Command::Run(args) => commands::run::run(args),
        Command::Shard(step) => commands::shard::run(step),
    }
}
