//! `retain score`: score every customer with a saved model, choose offers, and write the output
//! directory (CRM file, scores, suggestions, manifest) in one step.

use std::path::Path;

use chrono::NaiveDate;
use polars::prelude::*;
use sha2::{Digest, Sha256};

use super::stages::Stages;
use super::train::Suggester;
use crate::clean::Transactions;
use crate::cli::{CampaignArgs, ScoreArgs};
use crate::config::{CampaignOptions, Config};
use crate::engine::budget;
use crate::error::{Error, Result};
use crate::io::paths::{self, Replaced};
use crate::io::store;
use crate::model::artifact::InputFingerprint;
use crate::model::score::{self, RiskTiers};
use crate::model::{ChurnModel, train};
use crate::offers::{Budget, Catalog, Decision};
use crate::output::crm::{self, Campaign, Picks, Summary};
use crate::output::{CampaignInfo, ManifestHead, Output, parts};
use crate::recommend::{CoPurchaseParams, History};
use crate::settings;

/// The CRM import: customers selected for contact or control.
pub const CRM_FILE: &str = "at_risk_customers.csv";
pub const SCORES_PARQUET: &str = "scores.parquet";
pub const SCORES_CSV: &str = "scores.csv";
pub const RECOMMENDATIONS_FILE: &str = "recommendations.csv";
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
            let text = std::fs::read_to_string(path).map_err(|e| Error::Config {
                path: path.clone(),
                message: e.to_string(),
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
        Some(path) => Some(crate::offers::suppression::load(path, id_column)?),
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
}

/// Scores, suggests, chooses offers, writes the files, the report and the manifest, and puts the
/// output directory in place (or prints the dry run's plan).
pub(crate) fn complete(job: Job<'_>, mut out: Output, stages: &mut Stages) -> Result<()> {
    let mut warnings = job.warnings;
    let summary = deliver(
        job.model,
        job.suggester,
        job.tx,
        job.as_of,
        job.config,
        job.campaign,
        &mut out,
        stages,
        &mut warnings,
    )?;
    let head = ManifestHead {
        command: job.command,
        as_of: job.as_of.to_string(),
        horizon_days: job.model.horizon_days,
        model_version: job.model.model_version.clone(),
        profile: job.campaign_args.profile.name(),
        input: job.fingerprint,
        rows: job.tx.accounting.clone(),
        campaign: Some(job.campaign_info),
        summary: Some(summary),
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

/// Scores every customer, suggests products, chooses offers and writes the result files into
/// `out`. Returns the campaign summary; adds what the user should know to `warnings`.
///
/// Customer-level tables are never whole: the scoring table (features) is, but scores with
/// reasons, suggestions and CRM rows are made a part of customers at a time and appended to
/// their files (see [`crate::output::parts`]), so that millions of customers fit the budget.
#[allow(clippy::too_many_arguments)]
fn deliver(
    model: &ChurnModel,
    suggester: Option<&Suggester>,
    tx: &Transactions,
    as_of: NaiveDate,
    config: &Config,
    campaign: &Campaign,
    out: &mut Output,
    stages: &mut Stages,
    warnings: &mut Vec<String>,
) -> Result<Summary> {
    stages.start("score customers");
    if !tx.has(crate::schema::input::UNIT_PRICE) {
        let warning = "without prices, expected values count purchase lines, not money, \
                       so offers are weighed as if a line were worth one unit of the catalog's costs"
            .to_string();
        super::progress(format!("warning: {warning}"));
        warnings.push(warning);
    }
    if let Some(warning) = model_age_warning(model, as_of) {
        super::progress(format!("warning: {warning}"));
        warnings.push(warning);
    }
    let part =
        budget::customers_per_part(config.engine.memory_limit_bytes().map_err(Error::Usage)?);
    let table = train::scoring_table(
        tx,
        as_of,
        model.horizon_days,
        model.propensity_shrink,
        &config.features,
    )?;
    let ids = tx
        .customers
        .column(crate::schema::line::CUSTOMER_ID)?
        .str()?
        .clone();
    let codes = customer_codes(&table, &ids)?;
    let tiers = RiskTiers {
        high: config.scoring.risk_high,
        medium: config.scoring.risk_medium,
    };
    let predicted = score::predict(model, &table, tiers, part)?;

    stages.start("suggest products");
    let (picks, suggestions) = match suggester {
        Some(s) => {
            let blocked = super::recommend::blocked_mask(
                s.history.product_ids.iter().map(String::as_str),
                config,
            );
            let mut file = out.open(RECOMMENDATIONS_FILE)?;
            let picks = crate::recommend::output::write_parts(
                &s.model,
                &s.history,
                &ids,
                config.recommend.k,
                &s.blend,
                &blocked,
                part,
                |rows| file.append(rows),
            )?;
            (picks, Some(file))
        }
        None => {
            super::progress("no co-purchase model: the CRM file has no product suggestions");
            (Picks::none(), None)
        }
    };

    stages.start("choose offers");
    let candidates = crm::candidates(&predicted, &codes, &picks)?;
    let (decisions, mut summary) = crm::decide(&candidates, campaign);
    drop(candidates);
    let d = &summary.decisions;
    let count = |k: &str| d.get(k).copied().unwrap_or(0);
    super::progress(format!(
        "{} customers: {} to contact, {} in the control group, {} over budget, {} no action, {} suppressed; cost {:.2}, expected net benefit {:.2}",
        summary.customers_scored,
        count("contact"),
        count("control"),
        count("over_budget"),
        count("no_action"),
        count("suppressed"),
        summary.total_cost,
        summary.total_expected_net_benefit,
    ));

    stages.start(if out.is_dry_run() {
        "list files (dry run: nothing is written)"
    } else {
        "write files"
    });
    // Customers in a file's order, a part at a time: scored (with reasons), decided, appended.
    let decided = |rows: &[usize]| -> Result<DataFrame> {
        let idx = IdxCa::from_vec("rows".into(), rows.iter().map(|&i| i as IdxSize).collect());
        let scored = score::score(model, &table.take(&idx)?, tiers)?;
        let chosen: Vec<&Decision> = rows.iter().map(|&i| &decisions[i]).collect();
        let customers: Vec<u32> = rows.iter().map(|&i| codes[i]).collect();
        crm::with_decisions(&scored, &chosen, &customers, &campaign.catalog, &picks)
    };
    let mut crm_file = out.open(CRM_FILE)?;
    let order = crm::crm_order(&decisions);
    for range in parts::ranges(order.len(), part) {
        let selected = decided(&order[range])?;
        crm_file.append(&crm::crm_part(
            &selected,
            campaign,
            as_of,
            &model.model_version,
        )?)?;
    }
    let mut parquet = out.open(SCORES_PARQUET)?;
    let mut csv = out.open(SCORES_CSV)?;
    for range in parts::ranges(table.height(), part) {
        let rows: Vec<usize> = range.collect();
        let scores = decided(&rows)?;
        crm::tally_reasons(&scores, &mut summary.reasons)?;
        parquet.append(&scores)?;
        csv.append(&scores)?;
    }
    out.close(CRM_FILE, crm_file)?;
    out.close(SCORES_PARQUET, parquet)?;
    out.close(SCORES_CSV, csv)?;
    if let Some(file) = suggestions {
        out.close(RECOMMENDATIONS_FILE, file)?;
    }
    Ok(summary)
}

/// The customer code of each row of `table` (sorted by customer id), from `ids` (every
/// customer's id by code; codes follow the sorted ids).
fn customer_codes(table: &DataFrame, ids: &StringChunked) -> Result<Vec<u32>> {
    let mut codes = Vec::with_capacity(table.height());
    let mut all = ids.iter().enumerate();
    for id in table
        .column(crate::schema::feature::CUSTOMER_ID)?
        .str()?
        .iter()
    {
        let id = id.unwrap_or_default();
        match all.find(|(_, candidate)| *candidate == Some(id)) {
            Some((code, _)) => codes.push(code as u32),
            None => {
                return Err(Error::Internal(format!(
                    "scored customer '{id}' is not among the input's customers in id order"
                )));
            }
        }
    }
    Ok(codes)
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

/// A model used before its training date, or more than one horizon after it: the first saw the
/// future of the customers it scores, the second has not seen the churn of the latest horizon.
fn model_age_warning(model: &ChurnModel, as_of: NaiveDate) -> Option<String> {
    let trained = NaiveDate::parse_from_str(&model.as_of, "%Y-%m-%d").ok()?;
    let age = (as_of - trained).num_days();
    if age < 0 {
        Some(format!(
            "scoring at {as_of}, before the model's training date {trained}: its labels saw the future of these customers"
        ))
    } else if age > i64::from(model.horizon_days) {
        Some(format!(
            "the churn model was trained at {trained}, {age} days before {as_of} and more than its {}-day horizon: it has not seen how customers churned since; retrain it (retain train)",
            model.horizon_days
        ))
    } else {
        None
    }
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
    let model = ChurnModel::load(&args.model_dir)?;
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
    let fingerprint = InputFingerprint::of_input(tx)?;
    let saved = models.has(crate::recommend::artifact::META_FILE);
    let suggester = if tx.has(crate::schema::input::PRODUCT_ID) && saved {
        let history = History::for_scoring(tx, as_of, CoPurchaseParams::default().popularity_days)?;
        let (model, meta) = crate::recommend::artifact::load(&args.model_dir, &history)?;
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
    };
    complete(job, out, &mut stages)
}
