//! Resolves command-line flags and the config file into one [`Config`]: flags win over the file.

use chrono::NaiveDate;

use crate::cli::SettingsArgs;
use crate::config::Config;
use crate::error::{Error, Result};

/// Merges the config file (or defaults) with the flags. Every field of [`SettingsArgs`] is
/// destructured, so a new flag cannot be silently ignored.
pub fn resolve(args: &SettingsArgs) -> Result<Config> {
    let SettingsArgs {
        config,
        col_customer_id,
        col_order_date,
        col_order_id,
        col_product_id,
        col_product_name,
        col_quantity,
        col_unit_price,
        col_country,
        separator,
        encoding,
        date_format,
        time_zone,
        decimal_comma,
        max_unparseable_share,
        cancellation_prefix,
        non_product_codes,
        non_product_prefixes,
        keep_duplicates,
        memory_limit,
        shards,
        work_dir,
        min_customers,
        min_history_days,
        horizon_days,
        risk_high,
        risk_medium,
        k,
        blocked_products,
    } = args;
    let mut c = Config::load(config.as_deref())?;
    let set = |target: &mut String, value: &Option<String>| {
        if let Some(v) = value {
            target.clone_from(v);
        }
    };
    set(&mut c.columns.customer_id, col_customer_id);
    set(&mut c.columns.order_date, col_order_date);
    set(&mut c.columns.order_id, col_order_id);
    set(&mut c.columns.product_id, col_product_id);
    set(&mut c.columns.product_name, col_product_name);
    set(&mut c.columns.quantity, col_quantity);
    set(&mut c.columns.unit_price, col_unit_price);
    set(&mut c.columns.country, col_country);
    set(&mut c.input.separator, separator);
    // A tab typed on a command line arrives as the two characters \t.
    if c.input.separator == "\\t" || c.input.separator.eq_ignore_ascii_case("tab") {
        c.input.separator = "\t".into();
    }
    if let Some(v) = encoding {
        c.input.encoding = *v;
    }
    if date_format.is_some() {
        c.input.date_format.clone_from(date_format);
    }
    if time_zone.is_some() {
        c.input.time_zone.clone_from(time_zone);
    }
    if *decimal_comma {
        c.input.decimal_comma = true;
    }
    if let Some(v) = max_unparseable_share {
        c.input.max_unparseable_share = *v;
    }
    set(&mut c.cleaning.cancellation_prefix, cancellation_prefix);
    if let Some(v) = non_product_codes {
        c.cleaning.non_product_codes.clone_from(v);
    }
    if let Some(v) = non_product_prefixes {
        c.cleaning.non_product_prefixes.clone_from(v);
    }
    if *keep_duplicates {
        c.cleaning.drop_duplicates = false;
    }
    set(&mut c.engine.memory_limit, memory_limit);
    if shards.is_some() {
        c.engine.shards = *shards;
    }
    if work_dir.is_some() {
        c.engine.work_dir.clone_from(work_dir);
    }
    if let Some(v) = min_customers {
        c.features.min_customers = *v;
    }
    if let Some(v) = min_history_days {
        c.features.min_history_days = *v;
    }
    if let Some(v) = horizon_days {
        c.model.horizon_days = *v;
    }
    if let Some(v) = risk_high {
        c.scoring.risk_high = *v;
    }
    if let Some(v) = risk_medium {
        c.scoring.risk_medium = *v;
    }
    if let Some(v) = k {
        c.recommend.k = *v;
    }
    if let Some(v) = blocked_products {
        c.recommend.blocked_products.clone_from(v);
    }
    c.check().map_err(Error::Usage)?;
    Ok(c)
}

/// Parses a `YYYY-MM-DD` date argument.
pub fn parse_date(flag: &str, value: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(value, "%Y-%m-%d").map_err(|_| {
        Error::Usage(format!(
            "{flag} '{value}' is not a date; expected YYYY-MM-DD, e.g. 2011-09-10"
        ))
    })
}

/// Parses `--as-of` before any data is read, so a typo fails fast.
pub fn parse_as_of(flag: Option<&str>) -> Result<Option<NaiveDate>> {
    flag.map(|d| parse_date("--as-of", d)).transpose()
}

/// The as-of date given, or the default: the day after the last valid purchase (never the clock).
/// With a date given, purchase lines on or after it are counted: the note saying so is printed
/// and returned, for the manifest's warnings.
pub fn as_of_or_default(
    given: Option<NaiveDate>,
    tx: &crate::clean::Transactions,
) -> Result<(NaiveDate, Option<String>)> {
    match given {
        Some(d) => {
            let later = crate::features::lines_from(tx, d)?;
            let note = (later > 0).then(|| {
                format!(
                    "{} dated on or after the as-of date {d}; they are not used",
                    if later == 1 {
                        "1 purchase line is".to_string()
                    } else {
                        format!("{later} purchase lines are")
                    }
                )
            });
            if let Some(note) = &note {
                crate::commands::progress(format!("note: {note}"));
            }
            Ok((d, note))
        }
        None => Ok((crate::features::default_as_of(tx)?, None)),
    }
}

/// Model training parameters from the config.
pub fn churn_params(config: &Config) -> Result<crate::model::fit::CheckedParams> {
    crate::model::ChurnParams {
        propensity_shrink: config.model.propensity_shrink,
        ..Default::default()
    }
    .check()
}
