//! `retain score`: score every customer with a saved model; writes scores.parquet and scores.csv.

use std::path::Path;

use chrono::NaiveDate;

use crate::clean::Transactions;
use crate::cli::ScoreArgs;
use crate::config::Config;
use crate::error::Result;
use crate::io::write;
use crate::model::score::{self, RiskTiers};
use crate::model::{ChurnModel, train};
use crate::settings;

/// Scores `tx` at `as_of` and writes the score files into `out`.
pub(crate) fn score_to(
    model: &ChurnModel,
    tx: &Transactions,
    as_of: NaiveDate,
    config: &Config,
    out: &Path,
) -> Result<usize> {
    if as_of.to_string() < model.as_of {
        super::progress(format!(
            "warning: scoring at {as_of}, before the model's training date {}: its labels saw the future of these customers",
            model.as_of
        ));
    }
    let table = train::scoring_table(
        tx,
        as_of,
        model.horizon_days,
        model.propensity_shrink,
        &config.features,
    )?;
    let tiers = RiskTiers {
        high: config.scoring.risk_high,
        medium: config.scoring.risk_medium,
    };
    let mut scores = score::score(model, &table, tiers)?;
    write::write_table(&mut scores, &out.join("scores.parquet"))?;
    write::write_table(&mut scores, &out.join("scores.csv"))?;
    Ok(scores.height())
}

pub fn run(args: &ScoreArgs) -> Result<()> {
    let config = settings::resolve(&args.settings)?;
    let model = ChurnModel::load(&args.model_dir)?;
    let cleaned = super::load(&args.input, &config, false)?;
    let tx = &cleaned.transactions;
    let as_of = settings::as_of_or_default(settings::parse_as_of(args.as_of.as_deref())?, tx)?;
    let n = score_to(&model, tx, as_of, &config, &args.out)?;
    let saved = args.model_dir.join(crate::recommend::artifact::META_FILE);
    if tx.has(crate::schema::input::PRODUCT_ID) && saved.exists() {
        let history = crate::recommend::History::build(
            tx,
            as_of,
            crate::recommend::CoPurchaseParams::default().popularity_days,
        )?;
        let (copurchase, meta) = crate::recommend::artifact::load(&args.model_dir, &history)?;
        let rows = super::recommend::write_suggestions(
            &copurchase,
            &history,
            tx,
            &meta.blend,
            &config,
            &args.out.join("recommendations.csv"),
        )?;
        super::progress(format!("wrote {rows} suggestions"));
    }
    super::progress(format!(
        "scored {n} customers at {as_of} with {}; wrote {}",
        model.model_version,
        args.out.display()
    ));
    Ok(())
}
