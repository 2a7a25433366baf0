//! `retain backtest`: the out-of-time evaluation of DESIGN.md, as tables or JSON.

use crate::cli::BacktestArgs;
use crate::error::{Error, Result};
use crate::model::artifact::InputFingerprint;
use crate::model::backtest;
use crate::settings;

pub fn run(args: &BacktestArgs) -> Result<()> {
    let config = settings::resolve(&args.settings)?;
    let params = settings::churn_params(&config)?;
    let cutoff = settings::parse_date("--cutoff", &args.cutoff)?;
    let cleaned = super::load(&args.input, &config, false)?;
    let tx = &cleaned.transactions;
    let fingerprint = InputFingerprint::of_file(&args.input, tx.accounting.rows_read)?;
    let started = std::time::Instant::now();
    let mut report = backtest::backtest(
        tx,
        cutoff,
        config.model.horizon_days,
        &params,
        &config.features,
        fingerprint,
    )?;
    let churn_seconds = started.elapsed().as_secs_f64();
    if tx.has(crate::schema::input::PRODUCT_ID) {
        report.recommendations = Some(crate::recommend::evaluate::backtest(
            tx,
            cutoff,
            config.model.horizon_days,
            config.recommend.k,
            &crate::recommend::CoPurchaseParams::default(),
        )?);
    } else {
        report
            .warnings
            .push("no product_id column: no recommendations to evaluate".into());
    }
    let seconds = started.elapsed().as_secs_f64();
    super::progress(format!(
        "backtest done ({seconds:.2} s: churn {churn_seconds:.2} s, recommendations {:.2} s)",
        seconds - churn_seconds
    ));
    if args.json {
        let text =
            serde_json::to_string_pretty(&report).map_err(|e| Error::Internal(e.to_string()))?;
        super::print_stdout(&format!("{text}\n"))?;
    } else {
        super::print_stdout(&backtest::render(&report))?;
    }
    Ok(())
}
