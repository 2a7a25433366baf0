//! `retain score`: score every customer with a saved model, choose offers, and write the output
//! directory (CRM file, scores, suggestions, manifest) in one step.

use std::path::Path;

use chrono::NaiveDate;
use polars::prelude::*;
use sha2::{Digest, Sha256};

use super::stages::Stages;
use crate::clean::Transactions;
use crate::cli::{CampaignArgs, ScoreArgs};
use crate::config::{CampaignOptions, Config};
use crate::error::{Error, Result};
use crate::io::paths::{self, Replaced};
use crate::io::store;
use crate::model::ChurnModel;
use crate::model::artifact::InputFingerprint;
use crate::offers::{Budget, Campaign, Catalog};
use crate::output::{CampaignInfo, ManifestHead, Output, parts};
use crate::pipeline::{self, Models, Sink};
use crate::recommend::{CoPurchaseParams, History, Suggester};
use crate::settings;

pub use crate::pipeline::{CRM_FILE, RECOMMENDATIONS_FILE, SCORES_CSV, SCORES_PARQUET};
pub const REPORT_FILE: &str = "report.md";

/// The campaign from the flags, else the config file's `[campaign]`, else the defaults; reads the
/// catalog and the suppression list.
pub(crate) fn campaign(
    args: &CampaignArgs,
    config: &CampaignOptions,
    id_column: &str,
) -> Result<(Campaign, CampaignInfo)> {
    let merged = CampaignOptions {
        id: args.campaign.clone().unwrap_or_else(|| config.id.clone()),
        control_share: args.control_share.unwrap_or(config.control_share),
        offers: args.offers.clone().or_else(|| config.offers.clone()),
        suppress: args.suppress.clone().or_else(|| config.suppress.clone()),
        allow_unmatched_suppressions: args.allow_unmatched_suppressions
            || config.allow_unmatched_suppressions,
        max_cost: args.max_cost.or(config.max_cost),
        max_contacts: args.max_contacts.or(config.max_contacts),
    };
    merged.check().map_err(Error::Usage)?;
    let CampaignOptions {
        id,
        control_share,
        offers,
        suppress,
        allow_unmatched_suppressions,
        max_cost,
        max_contacts,
    } = merged;
    let (catalog, text, source) = match &offers {
        Some(path) => {
            let text = crate::io::read_text(path).map_err(|message| Error::Config {
                path: path.clone(),
                message,
            })?;
            (
                Catalog::parse(&text, path)?,
                text,
                path.display().to_string(),
            )
        }
        None => (
            Catalog::default_catalog(),
            crate::offers::catalog::DEFAULT_TOML.to_string(),
            "built-in (data/offers.toml)".to_string(),
        ),
    };
    let suppressed = match &suppress {
        Some(path) => Some(crate::offers::suppression::parse(
            &crate::io::read_file(path)?,
            path,
            id_column,
        )?),
        None => None,
    };
    let budget = Budget {
        max_total_cost: max_cost,
        max_contacts,
    };
    let info = CampaignInfo {
        id: id.clone(),
        offers_catalog: source,
        offers_catalog_sha256: format!("{:x}", Sha256::digest(text.as_bytes())),
        control_share,
        max_total_cost: max_cost,
        max_contacts,
        suppression: None,
    };
    Ok((
        Campaign {
            id,
            catalog,
            suppressed,
            allow_unmatched_suppressions,
            budget,
            control_share,
        },
        info,
    ))
}

/// Checks the suppression list against the customers of `tx` (refusing one that mostly matches
/// nobody) and records what it matched in `info`, for the manifest; says so on stderr.
pub(crate) fn check_suppression(
    campaign: &Campaign,
    info: &mut CampaignInfo,
    tx: &Transactions,
) -> Result<()> {
    let Some(list) = &campaign.suppressed else {
        return Ok(());
    };
    let ids = tx
        .customers
        .column(crate::schema::line::CUSTOMER_ID)?
        .str()?;
    let customers: std::collections::HashSet<&str> = ids.iter().flatten().collect();
    let report = list.check(
        &|id| customers.contains(id),
        campaign.allow_unmatched_suppressions,
    )?;
    super::progress(format!(
        "suppression list {} ({}): {} entries, {} match a customer of this input, {} match none{}",
        report.file,
        report.column,
        report.entries,
        report.matched,
        report.unmatched,
        if report.unmatched_examples.is_empty() {
            String::new()
        } else {
            format!(" (e.g. {})", report.unmatched_examples.join(", "))
        }
    ));
    info.suppression = Some(report);
    Ok(())
}

/// The files `score` and `run` read besides the input: config, catalog and suppression list (from
/// the flags, else the config file).
pub(crate) fn campaign_reads<'a>(
    settings: &'a crate::cli::SettingsArgs,
    args: &'a CampaignArgs,
    config: &'a CampaignOptions,
) -> Vec<(&'static str, &'a Path)> {
    let mut reads = super::settings_reads(settings);
    let offers = args.offers.as_deref().or(config.offers.as_deref());
    let suppress = args.suppress.as_deref().or(config.suppress.as_deref());
    reads.extend(offers.map(|p| ("--offers", p)));
    reads.extend(suppress.map(|p| ("--suppress", p)));
    reads
}

/// What `score` and `run` hand to the shared last stages.
pub(crate) struct Job<'a> {
    pub command: &'static str,
    pub model: &'a ChurnModel,
    pub suggester: Option<&'a Suggester>,
    pub tx: &'a Transactions,
    pub as_of: NaiveDate,
    pub config: &'a Config,
    pub campaign: &'a Campaign,
    pub campaign_info: CampaignInfo,
    pub campaign_args: &'a CampaignArgs,
    pub fingerprint: InputFingerprint,
    /// What the user should know so far (the quality report's warnings in `run`).
    pub warnings: Vec<String>,
    /// The engine, for a run made of `retain shard` steps.
    pub engine: Option<crate::output::EngineInfo>,
}

/// Scores, suggests, chooses offers, writes the files, the report and the manifest, and puts the
/// output directory in place (or prints the dry run's plan).
pub(crate) fn complete(job: Job<'_>, mut out: Output, stages: &mut Stages) -> Result<()> {
    let models = Models {
        churn: job.model,
        suggester: job.suggester,
    };
    let mut files = Files {
        out: &mut out,
        stages,
        open: Vec::new(),
    };
    let delivery = pipeline::deliver(
        job.tx,
        models,
        job.campaign,
        job.as_of,
        job.config,
        &mut files,
    )?;
    files.close()?;
    let mut warnings = job.warnings;
    warnings.extend(delivery.warnings);
    let head = ManifestHead {
        command: job.command,
        as_of: job.as_of.to_string(),
        horizon_days: job.model.horizon_days,
        model_version: job.model.model_version.clone(),
        profile: job.campaign_args.profile.name(),
        input: job.fingerprint,
        rows: job.tx.accounting.clone(),
        engine: job.engine,
        campaign: Some(job.campaign_info),
        summary: Some(delivery.summary),
        warnings,
    };
    finish(
        out,
        &head,
        job.model,
        job.campaign,
        stages,
        job.campaign_args.timings,
    )
}

/// The output directory as the pipeline's [`Sink`]: each file is opened at its first part and
/// closed (recorded) once the pipeline is done, in the order of [`FILE_ORDER`].
struct Files<'a> {
    out: &'a mut Output,
    stages: &'a mut Stages,
    open: Vec<(&'static str, parts::TableFile)>,
}

/// The order in which the files are recorded (a dry run lists them so).
const FILE_ORDER: [&str; 4] = [CRM_FILE, SCORES_PARQUET, SCORES_CSV, RECOMMENDATIONS_FILE];

impl Sink for Files<'_> {
    fn stage(&mut self, name: &'static str) {
        self.stages
            .start(if name == pipeline::WRITE && self.out.is_dry_run() {
                "list files (dry run: nothing is written)"
            } else {
                name
            });
    }

    fn append(&mut self, file: &'static str, rows: &DataFrame) -> Result<()> {
        let at = match self.open.iter().position(|(name, _)| *name == file) {
            Some(at) => at,
            None => {
                self.open.push((file, self.out.open(file)?));
                self.open.len() - 1
            }
        };
        self.open[at].1.append(rows)
    }
}

impl Files<'_> {
    fn close(mut self) -> Result<()> {
        for name in FILE_ORDER {
            if let Some(at) = self.open.iter().position(|(open, _)| *open == name) {
                let (_, file) = self.open.swap_remove(at);
                self.out.close(name, file)?;
            }
        }
        Ok(())
    }
}

/// Writes the report and the manifest and puts the output directory in place (or prints the dry
/// run's plan).
fn finish(
    mut out: Output,
    head: &ManifestHead,
    model: &ChurnModel,
    campaign: &Campaign,
    stages: &mut Stages,
    record_timings: bool,
) -> Result<()> {
    let report = crate::output::report::markdown(head, model, &campaign.catalog);
    out.bytes(REPORT_FILE, report.as_bytes())?;
    let timings = stages.timings();
    match out.finish(head, record_timings.then_some(timings))? {
        Some(plan) => super::print_stdout(&plan)?,
        None => super::progress("output complete: manifest.json and _SUCCESS written"),
    }
    Ok(())
}

pub fn run(args: &ScoreArgs) -> Result<()> {
    let config = settings::resolve(&args.settings)?;
    let as_of = settings::parse_as_of(args.as_of.as_deref())?;
    let (campaign, mut info) = campaign(
        &args.campaign,
        &config.campaign,
        &config.columns.customer_id,
    )?;
    // The output directory is replaced as a whole: nothing read may be inside it.
    let mut reads = campaign_reads(&args.settings, &args.campaign, &config.campaign);
    reads.extend([
        ("--input", args.input.as_path()),
        ("--model-dir", &args.model_dir),
    ]);
    paths::refuse_overlap(&reads, &[("--out", Replaced::Dir(&args.out))])?;
    let models = store::open(&args.model_dir)?;
    let (bytes, path) = store::read(&args.model_dir, crate::model::artifact::FILE_NAME)?;
    let model = ChurnModel::from_json(&bytes, &path.display().to_string())?;
    let out = Output::begin(&args.out, args.campaign.profile, args.campaign.dry_run)?;
    let mut stages = Stages::new(5);

    stages.start("read input");
    let cleaned = super::load(&args.input, &config, false, Some(&args.out))?;
    let tx = &cleaned.transactions;
    check_suppression(&campaign, &mut info, tx)?;
    let unchecked = model.check_columns(
        &tx.present,
        &args
            .model_dir
            .join(crate::model::artifact::FILE_NAME)
            .display()
            .to_string(),
        &args.input.display().to_string(),
    )?;
    for warning in unchecked.iter().chain(models.warning().as_ref()) {
        super::progress(format!("warning: {warning}"));
    }
    let (as_of, unused) = settings::as_of_or_default(as_of, tx)?;
    let fingerprint = InputFingerprint::of_input(tx, tx.inputs.checksums()?);
    let saved = models.has(crate::recommend::artifact::META_FILE);
    let suggester = if tx.has(crate::schema::input::PRODUCT_ID) && saved {
        let history = History::for_scoring(tx, as_of, CoPurchaseParams::default().popularity_days)?;
        let (model, meta) = super::read_copurchase(&args.model_dir, &history)?;
        Some(Suggester {
            model,
            history,
            blend: meta.blend,
            chosen_by: meta.blend_chosen_by,
        })
    } else {
        None
    };

    let job = Job {
        command: "score",
        model: &model,
        suggester: suggester.as_ref(),
        tx,
        as_of,
        config: &config,
        campaign: &campaign,
        campaign_info: info,
        campaign_args: &args.campaign,
        fingerprint,
        warnings: tx
            .notes
            .iter()
            .cloned()
            .chain(unused)
            .chain(unchecked)
            .chain(models.warning())
            .collect(),
        engine: None,
    };
    complete(job, out, &mut stages)
}
