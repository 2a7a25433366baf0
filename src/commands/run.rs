//! `retain run`: the main job. Validates the input, builds features, trains the churn model on the
//! history before the as-of date, scores every customer and writes the output directory.

use crate::cli::RunArgs;
use crate::error::{Error, Result};
use crate::io::write;
use crate::model::artifact::{self, InputFingerprint};
use crate::model::train;
use crate::{features, quality, settings};

pub fn run(args: &RunArgs) -> Result<()> {
    let config = settings::resolve(&args.settings)?;
    let as_of = args
        .as_of
        .as_deref()
        .map(|d| settings::parse_date("--as-of", d))
        .transpose()?;
    let cleaned = super::load(&args.input, &config, false)?;
    let tx = &cleaned.transactions;
    let report = quality::report(tx)?;
    for warning in &report.warnings {
        super::progress(format!("warning: {warning}"));
    }
    let as_of = match as_of {
        Some(d) => d,
        None => features::default_as_of(tx)?,
    };
    let mut built = features::compute(tx, as_of, &config.features)?;
    super::progress(format!(
        "built features of {} customers at {as_of}",
        built.table.height()
    ));

    let validation =
        serde_json::to_vec_pretty(&report).map_err(|e| Error::Internal(e.to_string()))?;
    write::write_atomic(&args.out.join("validation.json"), |out| {
        std::io::Write::write_all(out, &validation).map_err(|source| Error::Output {
            path: args.out.join("validation.json"),
            source,
        })
    })?;
    write::write_table(&mut built.table, &args.out.join("features.parquet"))?;
    write::write_table(&mut built.table, &args.out.join("features.csv"))?;

    let params = settings::churn_params(&config)?;
    let fingerprint = InputFingerprint::of_file(&args.input, tx.accounting.rows_read)?;
    let (model, _) = train::train(
        tx,
        as_of,
        config.model.horizon_days,
        &params,
        &config.features,
        fingerprint,
    )?;
    let model_path = args.out.join(artifact::FILE_NAME);
    let bytes = model.to_json()?;
    write::write_atomic(&model_path, |out| {
        write::write_bytes(out, &bytes, &model_path)
    })?;
    let scored = super::score::score_to(&model, tx, as_of, &config, &args.out)?;
    super::progress(format!(
        "trained {} and scored {scored} customers",
        model.model_version
    ));
    if tx.has(crate::schema::input::PRODUCT_ID) {
        let (copurchase, history, blend, chosen_by) = super::recommend::fit(tx, as_of, &config)?;
        crate::recommend::artifact::save(&copurchase, &blend, &chosen_by, as_of, &args.out)?;
        let rows = super::recommend::write_suggestions(
            &copurchase,
            &history,
            tx,
            &blend,
            &config,
            &args.out.join("recommendations.csv"),
        )?;
        super::progress(format!("wrote {rows} suggestions"));
    }
    super::progress(format!("wrote {}", args.out.display()));
    Ok(())
}
