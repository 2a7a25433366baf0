//! The last stages of `score` and `run` as one function of typed values: score every customer,
//! suggest products, choose the offers, and hand the customer files to a [`Sink`] a part at a
//! time. Commands read the input and the models, call [`deliver`], and write.
//!
//! Customer-level tables are never whole: the scoring table (features) is, but scores with
//! reasons, suggestions and CRM rows are made a part of customers at a time, in each file's
//! order, so that millions of customers fit the memory budget (see [`crate::output::parts`]).

use chrono::NaiveDate;
use polars::prelude::*;

use crate::clean::Transactions;
use crate::config::Config;
use crate::engine::budget;
use crate::error::{Error, Result};
use crate::model::score::{self, RiskTiers};
use crate::model::{ChurnModel, train};
use crate::offers::{self, Campaign, Decision, Summary};
use crate::output::crm::{self, Picks};
use crate::output::parts;
use crate::recommend::Suggester;

/// The CRM import: customers selected for contact or control, by priority.
pub const CRM_FILE: &str = "at_risk_customers.csv";
/// Every customer's scores, reasons, decision and features, by id.
pub const SCORES_PARQUET: &str = "scores.parquet";
pub const SCORES_CSV: &str = "scores.csv";
/// Every customer's product suggestions, by id.
pub const RECOMMENDATIONS_FILE: &str = "recommendations.csv";

/// The stage names [`deliver`] reports, in order.
pub const SCORE: &str = "score customers";
pub const SUGGEST: &str = "suggest products";
pub const CHOOSE: &str = "choose offers";
pub const WRITE: &str = "write files";

/// The models a delivery scores with: the churn model, and the co-purchase model where the input
/// has products and one was trained.
#[derive(Clone, Copy)]
pub struct Models<'a> {
    pub churn: &'a ChurnModel,
    pub suggester: Option<&'a Suggester>,
}

/// Where [`deliver`] reports its stages and sends the rows of its files.
pub trait Sink {
    /// The next stage begins (see [`SCORE`], [`SUGGEST`], [`CHOOSE`], [`WRITE`]).
    fn stage(&mut self, name: &'static str);
    /// The next rows of `file`, in the file's order. Every file gets at least one part (with no
    /// rows where it has none), so that its header is written.
    fn append(&mut self, file: &'static str, rows: &DataFrame) -> Result<()>;
}

/// What a delivery did: the campaign's summary, and what the user should know.
#[derive(Debug)]
pub struct Delivery {
    pub summary: Summary,
    pub warnings: Vec<String>,
}

/// Scores every customer of `tx` at `as_of`, suggests products, chooses the campaign's offers
/// and sends the files' rows to `sink`: [`RECOMMENDATIONS_FILE`] (with a co-purchase model),
/// then [`CRM_FILE`], [`SCORES_PARQUET`] and [`SCORES_CSV`].
pub fn deliver(
    tx: &Transactions,
    models: Models<'_>,
    campaign: &Campaign,
    as_of: NaiveDate,
    config: &Config,
    sink: &mut impl Sink,
) -> Result<Delivery> {
    let model = models.churn;
    sink.stage(SCORE);
    let mut warnings = Vec::new();
    if !tx.has(crate::schema::input::UNIT_PRICE) {
        warnings.push(
            "without prices, expected values count purchase lines, not money, \
             so offers are weighed as if a line were worth one unit of the catalog's costs"
                .to_string(),
        );
    }
    warnings.extend(model_age_warning(model, as_of));
    for warning in &warnings {
        crate::progress::line(&format!("retain: warning: {warning}"));
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
    let predictions = score::predict(model, &table, tiers, part)?;

    sink.stage(SUGGEST);
    let picks = match models.suggester {
        Some(s) => {
            let blocked = crate::recommend::output::blocked(
                s.history.product_ids.iter().map(String::as_str),
                &config.recommend.blocked_products,
            );
            crate::recommend::output::write_parts(
                &s.model,
                &s.history,
                &ids,
                config.recommend.k,
                &s.blend,
                &blocked,
                part,
                |rows| sink.append(RECOMMENDATIONS_FILE, rows),
            )?
        }
        None => {
            crate::progress::line(
                "retain: no co-purchase model: the CRM file has no product suggestions",
            );
            Picks::none()
        }
    };

    sink.stage(CHOOSE);
    let candidates = offers::candidates(&predictions, |i| picks.has(codes[i]));
    let (decisions, mut summary) = offers::decide(&candidates, campaign);
    drop(candidates);
    let d = &summary.decisions;
    let count = |k: &str| d.get(k).copied().unwrap_or(0);
    crate::progress::line(&format!(
        "retain: {} customers: {} to contact, {} in the control group, {} over budget, {} no action, {} suppressed; cost {:.2}, expected net benefit {:.2}",
        summary.customers_scored,
        count("contact"),
        count("control"),
        count("over_budget"),
        count("no_action"),
        count("suppressed"),
        summary.total_cost,
        summary.total_expected_net_benefit,
    ));

    sink.stage(WRITE);
    // Customers in a file's order, a part at a time: scored (with reasons), decided, appended.
    let decided = |rows: &[usize]| -> Result<DataFrame> {
        let idx = IdxCa::from_vec("rows".into(), rows.iter().map(|&i| i as IdxSize).collect());
        let scored = score::score(model, &table.take(&idx)?, tiers)?;
        let chosen: Vec<&Decision> = rows.iter().map(|&i| &decisions[i]).collect();
        let customers: Vec<u32> = rows.iter().map(|&i| codes[i]).collect();
        crm::with_decisions(&scored, &chosen, &customers, &campaign.catalog, &picks)
    };
    let order = offers::crm_order(&decisions);
    for range in parts::ranges(order.len(), part) {
        let selected = decided(&order[range])?;
        let rows = crm::crm_part(&selected, campaign, as_of, &model.model_version)?;
        sink.append(CRM_FILE, &rows)?;
    }
    for range in parts::ranges(table.height(), part) {
        let rows: Vec<usize> = range.collect();
        let scores = decided(&rows)?;
        crm::tally_reasons(&scores, &mut summary.reasons)?;
        sink.append(SCORES_PARQUET, &scores)?;
        sink.append(SCORES_CSV, &scores)?;
    }
    Ok(Delivery { summary, warnings })
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
