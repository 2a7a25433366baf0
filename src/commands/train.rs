//! `retain train`: fit the churn and co-purchase models and save them atomically in a directory.

use std::path::Path;

use chrono::NaiveDate;

use crate::clean::Transactions;
use crate::cli::TrainArgs;
use crate::config::Config;
use crate::error::Result;
use crate::io::paths::{self, Replaced};
use crate::io::store;
use crate::model::artifact;
use crate::model::{ChurnModel, train};
use crate::recommend::Suggester;
use crate::settings;

/// Fits the churn model for `as_of`.
pub(crate) fn train_churn(
    tx: &Transactions,
    as_of: NaiveDate,
    config: &Config,
) -> Result<ChurnModel> {
    let params = settings::churn_params(config)?;
    let started = std::time::Instant::now();
    let (model, _) = train::train(
        tx,
        as_of,
        config.model.horizon_days,
        &params,
        &config.features,
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
    Ok(model)
}

/// Fits the co-purchase model when the input has product ids.
pub(crate) fn train_suggester(
    tx: &Transactions,
    as_of: NaiveDate,
    config: &Config,
) -> Result<Option<Suggester>> {
    if !tx.has(crate::schema::input::PRODUCT_ID) {
        return Ok(None);
    }
    let (model, history, blend, chosen_by) = super::recommend::fit(tx, as_of, config)?;
    Ok(Some(Suggester {
        model,
        history,
        blend,
        chosen_by,
    }))
}

/// The files of the model set, as bytes (name, content).
fn model_set(
    model: &ChurnModel,
    suggester: Option<&Suggester>,
    as_of: NaiveDate,
) -> Result<Vec<(&'static str, Vec<u8>)>> {
    let mut files = vec![(artifact::FILE_NAME, model.to_json()?)];
    if let Some(s) = suggester {
        files.extend(crate::recommend::artifact::to_files(
            &s.model,
            &s.blend,
            &s.chosen_by,
            as_of,
        )?);
    }
    Ok(files)
}

/// Where the models go: a model directory that others read (locked, written as a set), or a
/// staging directory that only this process knows.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ModelDir<'a> {
    Shared(&'a Path),
    Staging(&'a Path),
}

/// Saves the models as one set in each of `dirs` (serialised once; none for a dry run); returns
/// the names of the set's files (the set file last).
pub(crate) fn save(
    model: &ChurnModel,
    suggester: Option<&Suggester>,
    as_of: NaiveDate,
    dirs: &[ModelDir<'_>],
) -> Result<Vec<&'static str>> {
    let files = model_set(model, suggester, as_of)?;
    for dir in dirs {
        match *dir {
            ModelDir::Shared(dir) => store::save(dir, &files, &model.model_version)?,
            ModelDir::Staging(dir) => store::write_set(dir, &files, &model.model_version)?,
        }
    }
    let mut names: Vec<&'static str> = files.iter().map(|(name, _)| *name).collect();
    names.push(store::SET_FILE);
    Ok(names)
}

pub fn run(args: &TrainArgs) -> Result<()> {
    let config = settings::resolve(&args.settings)?;
    let mut reads = super::settings_reads(&args.settings);
    reads.push(("--input", &args.input));
    let written = super::model_files_in(&args.model_dir);
    let replaced: Vec<_> = written
        .iter()
        .map(|f| ("--model-dir", Replaced::File(f)))
        .collect();
    paths::refuse_overlap(&reads, &replaced)?;
    let as_of = settings::parse_as_of(args.as_of.as_deref())?;
    let cleaned = super::load(&args.input, &config, false, Some(&args.model_dir))?;
    let tx = &cleaned.transactions;
    let (as_of, _) = settings::as_of_or_default(as_of, tx)?;
    let model = train_churn(tx, as_of, &config)?;
    let suggester = train_suggester(tx, as_of, &config)?;
    save(
        &model,
        suggester.as_ref(),
        as_of,
        &[ModelDir::Shared(&args.model_dir)],
    )?;
    super::progress(format!("wrote the models to {}", args.model_dir.display()));
    Ok(())
}
