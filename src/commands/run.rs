//! `retain run`: the main job. Validates the input, builds features, trains the churn model on the
//! history before the as-of date, scores every customer and writes the output directory.

use crate::cli::RunArgs;
use crate::error::{Error, Result};
use crate::io::write;
use crate::{features, quality, settings};

pub fn run(args: &RunArgs) -> Result<()> {
    let config = settings::resolve(&args.settings)?;
    let as_of = settings::parse_as_of(args.as_of.as_deref())?;
    let cleaned = super::load(&args.input, &config, false)?;
    let tx = &cleaned.transactions;
    let report = quality::report(tx)?;
    for warning in &report.warnings {
        super::progress(format!("warning: {warning}"));
    }
    let as_of = settings::as_of_or_default(as_of, tx)?;
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

    let (model, suggester) =
        super::train::train_and_save(tx, &args.input, as_of, &config, &args.out)?;
    let scored = super::score::score_to(&model, tx, as_of, &config, &args.out)?;
    super::progress(format!(
        "scored {scored} customers with {}",
        model.model_version
    ));
    if let Some((copurchase, history, blend)) = suggester {
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
