//! `retain train`: fit the churn model and save it atomically in the model directory.

use crate::cli::TrainArgs;
use crate::error::Result;
use crate::io::write;
use crate::model::artifact::{self, InputFingerprint};
use crate::model::train;
use crate::settings;

pub fn run(args: &TrainArgs) -> Result<()> {
    let config = settings::resolve(&args.settings)?;
    let params = settings::churn_params(&config)?;
    let cleaned = super::load(&args.input, &config, false)?;
    let tx = &cleaned.transactions;
    let as_of = settings::as_of_or_default(args.as_of.as_deref(), tx)?;
    let fingerprint = InputFingerprint::of_file(&args.input, tx.accounting.rows_read)?;
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
    let path = args.model_dir.join(artifact::FILE_NAME);
    let bytes = model.to_json()?;
    write::write_atomic(&path, |out| write::write_bytes(out, &bytes, &path))?;
    super::progress(format!("wrote {}", path.display()));
    if tx.has(crate::schema::input::PRODUCT_ID) {
        let (copurchase, _, blend, chosen_by) = super::recommend::fit(tx, as_of, &config)?;
        crate::recommend::artifact::save(&copurchase, &blend, &chosen_by, as_of, &args.model_dir)?;
        super::progress(format!(
            "wrote the co-purchase model to {}",
            args.model_dir.display()
        ));
    }
    Ok(())
}
