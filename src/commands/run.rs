//! `retain run`: the main job. Reads the input, trains the churn and co-purchase models on the
//! history before the as-of date, scores every customer, chooses offers and writes the output
//! directory (models included) in one step.

use super::score::{self, CRM_FILE};
use super::stages::Stages;
use super::train::{ModelDir, save};
use crate::cli::RunArgs;
use crate::error::{Error, Result};
use crate::io::paths::{self, Replaced};
use crate::model::artifact::InputFingerprint;
use crate::output::Output;
use crate::{quality, settings};

pub const VALIDATION_FILE: &str = "validation.json";

pub fn run(args: &RunArgs) -> Result<()> {
    run_from(args, Source::Input)
}

/// Transactions cleaned elsewhere, given the settings `run` resolved.
pub(crate) type LoadCleaned<'a> =
    Box<dyn FnOnce(&crate::config::Config) -> Result<crate::clean::Cleaned> + 'a>;

/// Where `run`'s cleaned transactions come from.
pub(crate) enum Source<'a> {
    /// Read and cleaned from `--input` here.
    Input,
    /// Cleaned elsewhere, shard by shard (`retain shard run`): the transactions, the input
    /// files' checksums, and the engine for the manifest.
    Cleaned(
        LoadCleaned<'a>,
        Vec<(String, u64)>,
        crate::output::EngineInfo,
    ),
}

pub(crate) fn run_from(args: &RunArgs, source: Source) -> Result<()> {
    let config = settings::resolve(&args.settings)?;
    let as_of = settings::parse_as_of(args.as_of.as_deref())?;
    let (campaign, mut info) = score::campaign(
        &args.campaign,
        &config.campaign,
        &config.columns.customer_id,
    )?;
    // The output directory is replaced as a whole, and --model-dir's model files are
    // overwritten: nothing read may be among them, and --model-dir not inside --out.
    let mut reads = score::campaign_reads(&args.settings, &args.campaign, &config.campaign);
    reads.push(("--input", &args.input));
    let mut replaced = vec![("--out", Replaced::Dir(&args.out))];
    let model_files = args.model_dir.as_deref().map(super::model_files_in);
    for file in model_files.iter().flatten() {
        replaced.push(("--model-dir", Replaced::File(file)));
    }
    paths::refuse_overlap(&reads, &replaced)?;
    if let Some(dir) = &args.model_dir {
        paths::refuse_overlap(&[("--model-dir", dir)], &replaced[..1])?;
    }
    let mut out = Output::begin(&args.out, args.campaign.profile, args.campaign.dry_run)?;
    let mut stages = Stages::new(7);

    stages.start("read input");
    let (cleaned, checksums, engine) = match source {
        Source::Input => (
            super::load(&args.input, &config, false, Some(&args.out))?,
            None,
            None,
        ),
        Source::Cleaned(load, checksums, engine) => (load(&config)?, Some(checksums), Some(engine)),
    };
    let tx = &cleaned.transactions;
    score::check_suppression(&campaign, &mut info, tx)?;
    let report = quality::report(tx)?;
    for warning in &report.warnings {
        super::progress(format!("warning: {warning}"));
    }
    let (as_of, unused) = settings::as_of_or_default(as_of, tx)?;
    let checksums = match checksums {
        Some(known) => known,
        None => tx.inputs.checksums()?,
    };
    let fingerprint = InputFingerprint::of_input(tx, checksums);
    let file_free = quality::QualityReport {
        input: None,
        files: None,
        ..report.clone()
    };
    let mut validation =
        serde_json::to_vec_pretty(&file_free).map_err(|e| Error::Internal(e.to_string()))?;
    validation.push(b'\n');
    out.bytes(VALIDATION_FILE, &validation)?;

    stages.start("train churn model");
    let model = super::train::train_churn(tx, as_of, &config)?;
    stages.start("fit co-purchase model");
    let suggester = super::train::train_suggester(tx, as_of, &config)?;
    let staging = out.dir();
    let mut dirs = Vec::new();
    if let Some(dir) = &staging {
        dirs.push(ModelDir::Staging(dir));
        dirs.extend(args.model_dir.as_deref().map(ModelDir::Shared));
    }
    let names = save(&model, suggester.as_ref(), as_of, &dirs)?;
    if let (Some(_), Some(model_dir)) = (&staging, &args.model_dir) {
        super::progress(format!("saved the models to {}", model_dir.display()));
    }
    for name in names {
        out.record(name, None);
    }

    let target = args.out.display().to_string();
    let job = score::Job {
        command: "run",
        model: &model,
        suggester: suggester.as_ref(),
        tx,
        as_of,
        config: &config,
        campaign: &campaign,
        campaign_info: info,
        campaign_args: &args.campaign,
        fingerprint,
        warnings: report.warnings.iter().cloned().chain(unused).collect(),
        engine,
    };
    score::complete(job, out, &mut stages)?;
    if !args.campaign.dry_run {
        super::progress(format!(
            "wrote {target}; the CRM import is {target}/{CRM_FILE}"
        ));
    }
    Ok(())
}
