//! `retain train`: fit the churn and co-purchase models and save them atomically in a directory.

use std::path::Path;

use chrono::NaiveDate;

use crate::clean::Transactions;
use crate::cli::TrainArgs;
use crate::config::Config;
use crate::error::Result;
use crate::io::write;
use crate::model::artifact::{self, InputFingerprint};
use crate::model::{ChurnModel, train};
use crate::recommend::{Blend, CoPurchaseModel, History};
use crate::settings;

/// The co-purchase model with the history it was fitted on and its validated blend.
pub(crate) type Suggester = (CoPurchaseModel, History, Blend);

/// Trains both models for `as_of` and saves them in `dir` (the co-purchase model only when the
/// input has product ids).
pub(crate) fn train_and_save(
    tx: &Transactions,
    input: &Path,
    as_of: NaiveDate,
    config: &Config,
    dir: &Path,
) -> Result<(ChurnModel, Option<Suggester>)> {
    let params = settings::churn_params(config)?;
    let fingerprint = InputFingerprint::of_file(input, tx.accounting.rows_read)?;
    let started = std::time::Instant::now();
    let (model, _) = train::train(
        tx,
        as_of,
        config.model.horizon_days,
        &params,
        &config.features,
        fingerprint,
    )?;
    super::progress(format!(
        "trained {} for {as_of} on {} customers ({:.2} s)",
        model.model_version,
        model.metrics.training.as_ref().map_or(0, |m| m.customers),
        started.elapsed().as_secs_f64()
    ));
    if let Some(v) = &model.metrics.validation {
        super::progress(format!(
            "validation at {}: ROC AUC {:.3}, Brier {:.3}, ECE {:.3} (alpha {})",
            v.features_at, v.metrics.auc, v.metrics.brier, v.metrics.ece, model.penalty.alpha
        ));
    }
    let path = dir.join(artifact::FILE_NAME);
    let bytes = model.to_json()?;
    write::write_atomic(&path, |out| write::write_bytes(out, &bytes, &path))?;
    let suggester = if tx.has(crate::schema::input::PRODUCT_ID) {
        let (copurchase, history, blend, chosen_by) = super::recommend::fit(tx, as_of, config)?;
        crate::recommend::artifact::save(&copurchase, &blend, &chosen_by, as_of, dir)?;
        Some((copurchase, history, blend))
    } else {
        None
    };
    super::progress(format!("wrote the models to {}", dir.display()));
    Ok((model, suggester))
}

pub fn run(args: &TrainArgs) -> Result<()> {
    let config = settings::resolve(&args.settings)?;
    let as_of = settings::parse_as_of(args.as_of.as_deref())?;
    let cleaned = super::load(&args.input, &config, false)?;
    let tx = &cleaned.transactions;
    let as_of = settings::as_of_or_default(as_of, tx)?;
    train_and_save(tx, &args.input, as_of, &config, &args.model_dir)?;
    Ok(())
}
