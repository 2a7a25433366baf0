//! `retain backtest`: the out-of-time evaluation of DESIGN.md, as tables or JSON.

use crate::cli::BacktestArgs;
use crate::error::{Error, Result};
use crate::model::backtest;
use crate::settings;

pub fn run(args: &BacktestArgs) -> Result<()> {
    let config = settings::resolve(&args.settings)?;
    let params = settings::churn_params(&config)?;
    let cutoff = settings::parse_date("--cutoff", &args.cutoff)?;
    let cleaned = super::load(&args.input, &config, false, None)?;
    let tx = &cleaned.transactions;
    let started = std::time::Instant::now();
    // The churn and the recommendation parts are independent: run them side by side.
    let (churn, recommendations) = rayon::join(
        || {
            let report = backtest::backtest(
                tx,
                cutoff,
                config.model.horizon_days,
                &params,
                &config.features,
            );
            (report, started.elapsed().as_secs_f64())
        },
        || {
            tx.has(crate::schema::input::PRODUCT_ID).then(|| {
                let report = crate::recommend::evaluate::backtest(
                    tx,
                    cutoff,
                    config.model.horizon_days,
                    config.recommend.k,
                    &crate::recommend::CoPurchaseParams::default(),
                );
                (report, started.elapsed().as_secs_f64())
            })
        },
    );
    let (report, churn_seconds) = churn;
    let mut report = report?;
    let mut recommendation_seconds = 0.0;
    match recommendations {
        Some((r, seconds)) => {
            report.recommendations = Some(r?);
            recommendation_seconds = seconds;
        }
        None => report
            .warnings
            .push("no product_id column: no recommendations to evaluate".into()),
    }
    super::progress(format!(
        "backtest done ({:.2} s; side by side: churn {churn_seconds:.2} s, recommendations {recommendation_seconds:.2} s)",
        started.elapsed().as_secs_f64()
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
