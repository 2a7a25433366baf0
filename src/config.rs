//! The TOML configuration file: column mapping, parsing and cleaning rules, with documented defaults.
//!
//! Every setting can also be given as a command-line flag; flags win over the file
//! (see [`crate::cli`] and `resolve` in each command).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::schema::input;

/// The whole configuration file. Unknown keys are refused so that a typo cannot be silently ignored.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub columns: ColumnMap,
    pub input: InputOptions,
    pub cleaning: CleaningRules,
    pub features: FeatureOptions,
    pub model: ModelOptions,
    pub scoring: ScoringOptions,
    pub recommend: RecommendOptions,
    pub campaign: CampaignOptions,
    pub engine: EngineOptions,
}

/// How a run holds its data: the memory budget that sets the shard count, or the shard count,
/// and where shards are spilled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EngineOptions {
    /// Memory budget, e.g. "6GiB": the line table is split into as many shards as it needs to
    /// fit (see [`crate::engine::budget`]).
    pub memory_limit: String,
    /// The shard count, instead of one chosen from the budget.
    pub shards: Option<usize>,
    /// Where shards are spilled [default: beside the output, or the system's temp directory].
    pub work_dir: Option<PathBuf>,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            memory_limit: crate::engine::budget::DEFAULT_MEMORY_LIMIT.into(),
            shards: None,
            work_dir: None,
        }
    }
}

impl EngineOptions {
    /// The memory budget in bytes.
    pub fn memory_limit_bytes(&self) -> std::result::Result<u64, String> {
        crate::engine::budget::parse_size(&self.memory_limit)
            .map_err(|e| format!("engine.memory_limit (--memory-limit): {e}"))
    }
}

/// Which column of the user's file holds each canonical column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ColumnMap {
    pub customer_id: String,
    pub order_date: String,
    pub order_id: String,
    pub product_id: String,
    pub product_name: String,
    pub quantity: String,
    pub unit_price: String,
    pub country: String,
}

impl Default for ColumnMap {
    fn default() -> Self {
        ColumnMap {
            customer_id: input::CUSTOMER_ID.into(),
            order_date: input::ORDER_DATE.into(),
            order_id: input::ORDER_ID.into(),
            product_id: input::PRODUCT_ID.into(),
            product_name: input::PRODUCT_NAME.into(),
            quantity: input::QUANTITY.into(),
            unit_price: input::UNIT_PRICE.into(),
            country: input::COUNTRY.into(),
        }
    }
}

impl ColumnMap {
    /// (canonical name, user's name) for every canonical column, in [`input::ALL`] order.
    pub fn pairs(&self) -> [(&'static str, &str); 8] {
        [
            (input::CUSTOMER_ID, &self.customer_id),
            (input::ORDER_ID, &self.order_id),
            (input::ORDER_DATE, &self.order_date),
            (input::PRODUCT_ID, &self.product_id),
            (input::PRODUCT_NAME, &self.product_name),
            (input::QUANTITY, &self.quantity),
            (input::UNIT_PRICE, &self.unit_price),
            (input::COUNTRY, &self.country),
        ]
    }

    /// The user's name of a canonical column.
    pub fn source_name<'a>(&'a self, canonical: &'a str) -> &'a str {
        self.pairs()
            .into_iter()
            .find(|(c, _)| *c == canonical)
            .map_or(canonical, |(_, user)| user)
    }

    /// No two roles name the same column: one column cannot hold both the customer and the
    /// order id.
    pub fn check_distinct(&self) -> std::result::Result<(), String> {
        let pairs = self.pairs();
        for (i, (canonical, user)) in pairs.iter().enumerate() {
            if let Some((other, _)) = pairs[i + 1..].iter().find(|(_, u)| u == user) {
                let flag = |c: &str| format!("--col-{}", c.replace('_', "-"));
                return Err(format!(
                    "{canonical} and {other} are both mapped to the column '{user}' \
                     ({} / columns.{canonical}, {} / columns.{other}; a role left unmapped \
                     reads the column of its own name); each role needs its own column: \
                     map one of them to another column",
                    flag(canonical),
                    flag(other),
                ));
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InputOptions {
    /// CSV field separator (one ASCII character).
    pub separator: String,
    /// A strftime format for `order_date`, tried before the built-in ISO 8601 formats
    /// (`2011-12-09T12:50:00`, `2011-12-09 12:50:00`, `2011-12-09`, with optional fractional seconds).
    pub date_format: Option<String>,
    /// An IANA time zone (`Europe/Berlin`): order dates written with a UTC offset, and zoned
    /// Parquet columns, are converted to its local time. Unset: their local time as written is kept.
    pub time_zone: Option<String>,
    /// Numbers are written with a decimal comma (`2,50`, `1.234,50`), as German and other European
    /// exports do. A number with a decimal point then counts as unparseable.
    pub decimal_comma: bool,
    /// Above this share of rows with an unparseable value in one column, reading stops with an
    /// error instead of rejecting the rows: a wrong date format or mapping must not pass silently.
    pub max_unparseable_share: f64,
    /// The character encoding of CSV files. A byte-order mark (UTF-8, UTF-16LE or UTF-16BE) wins
    /// over it, since it is unambiguous.
    pub encoding: TextEncoding,
}

/// The character encodings a CSV file may be written in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum TextEncoding {
    #[default]
    Utf8,
    /// Windows' Western European code page (German and other Windows exports).
    Windows1252,
    /// Read as windows-1252, as browsers do (WHATWG): the two differ only in bytes 0x80-0x9F,
    /// control characters in ISO-8859-1 that real text does not hold.
    Latin1,
    Utf16Le,
    Utf16Be,
}

impl TextEncoding {
    /// Every encoding with its name and the other names it is known by.
    pub const ALL: [(TextEncoding, &'static str, &'static [&'static str]); 5] = [
        (TextEncoding::Utf8, "utf-8", &["utf8"]),
        (TextEncoding::Windows1252, "windows-1252", &["cp1252"]),
        (
            TextEncoding::Latin1,
            "iso-8859-1",
            &["latin1", "latin-1", "iso8859-1"],
        ),
        (TextEncoding::Utf16Le, "utf-16le", &["utf16le"]),
        (TextEncoding::Utf16Be, "utf-16be", &["utf16be"]),
    ];

    /// The name written in configuration files and messages.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(e, _, _)| *e == self)
            .map_or("utf-8", |(_, name, _)| name)
    }

    pub fn is_utf16(self) -> bool {
        matches!(self, TextEncoding::Utf16Le | TextEncoding::Utf16Be)
    }
}

impl std::fmt::Display for TextEncoding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for TextEncoding {
    type Err = String;

    /// Names and aliases, ignoring case.
    fn from_str(text: &str) -> std::result::Result<Self, String> {
        let wanted = text.trim().to_ascii_lowercase();
        Self::ALL
            .iter()
            .find(|(_, name, aliases)| *name == wanted || aliases.contains(&wanted.as_str()))
            .map(|(e, _, _)| *e)
            .ok_or_else(|| {
                format!(
                    "unknown encoding '{text}'; expected one of {} (or cp1252, latin1)",
                    Self::ALL.map(|(_, name, _)| name).join(", ")
                )
            })
    }
}

impl TryFrom<String> for TextEncoding {
    type Error = String;

    fn try_from(text: String) -> std::result::Result<Self, String> {
        text.parse()
    }
}

impl From<TextEncoding> for String {
    fn from(encoding: TextEncoding) -> String {
        encoding.name().to_string()
    }
}

impl InputOptions {
    /// The checked time zone, if one is set.
    pub fn zone(&self) -> std::result::Result<Option<polars::prelude::TimeZone>, String> {
        let Some(name) = &self.time_zone else {
            return Ok(None);
        };
        polars::prelude::TimeZone::opt_try_new(Some(name.as_str())).map_err(|_| {
            format!(
                "input.time_zone (--time-zone) '{name}' is not a time zone; expected an IANA name such as Europe/Berlin or UTC"
            )
        })
    }

    /// The user's date format as it is tried: without a trailing UTC offset directive.
    pub fn date_format_used(&self) -> Option<String> {
        self.date_format
            .as_deref()
            .and_then(|f| crate::clean::parse::format_without_offset(f).ok())
    }
}

impl Default for InputOptions {
    fn default() -> Self {
        InputOptions {
            separator: ",".into(),
            date_format: None,
            time_zone: None,
            decimal_comma: false,
            max_unparseable_share: 0.01,
            encoding: TextEncoding::Utf8,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CleaningRules {
    /// An order id that starts with this text is a cancellation (UCI: `C536379`). Empty: no rule.
    pub cancellation_prefix: String,
    /// Product codes that are not products: postage, fees, manual adjustments, discounts.
    pub non_product_codes: Vec<String>,
    /// Product codes starting with any of these are not products either (gift vouchers).
    pub non_product_prefixes: Vec<String>,
    /// Reject exact duplicate lines (every input column equal) beyond the first.
    pub drop_duplicates: bool,
}

impl Default for CleaningRules {
    fn default() -> Self {
        CleaningRules {
            cancellation_prefix: "C".into(),
            non_product_codes: [
                "POST",
                "DOT",
                "M",
                "m",
                "C2",
                "D",
                "S",
                "B",
                "CRUK",
                "BANK CHARGES",
                "AMAZONFEE",
                "ADJUST",
            ]
            .map(String::from)
            .to_vec(),
            non_product_prefixes: vec!["gift_0001_".into()],
            drop_duplicates: true,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FeatureOptions {
    /// Fewer customers than this at the as-of date is "insufficient data".
    pub min_customers: usize,
    /// Less history than this many days before the as-of date is "insufficient data".
    pub min_history_days: i64,
}

impl Default for FeatureOptions {
    fn default() -> Self {
        FeatureOptions {
            min_customers: 50,
            min_history_days: 60,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelOptions {
    /// Churn horizon: churned = no valid purchase in the next this many days.
    pub horizon_days: u32,
    /// Pseudo-buyers that shrink a product's return share toward the overall share.
    pub propensity_shrink: f64,
}

impl Default for ModelOptions {
    fn default() -> Self {
        ModelOptions {
            horizon_days: 90,
            propensity_shrink: 20.0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScoringOptions {
    /// Churn probability at or above which a customer is "high" risk.
    pub risk_high: f64,
    /// Churn probability at or above which a customer is "medium" risk (below: "low").
    pub risk_medium: f64,
}

impl Default for ScoringOptions {
    fn default() -> Self {
        ScoringOptions {
            risk_high: 0.7,
            risk_medium: 0.4,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RecommendOptions {
    /// Products per list and customer.
    pub k: usize,
    /// Product ids never suggested (discontinued, out of stock, not to be promoted).
    pub blocked_products: Vec<String>,
}

impl Default for RecommendOptions {
    fn default() -> Self {
        RecommendOptions {
            k: 10,
            blocked_products: Vec::new(),
        }
    }
}

/// The campaign of `score` and `run`, for schedulers that keep it in a file: the same settings as
/// their flags, which win over these.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CampaignOptions {
    /// Campaign id: the control group is drawn from a hash of it and the customer id.
    pub id: String,
    /// Share (0-1) of the customers selected for an offer who are held out as a control group.
    pub control_share: f64,
    /// Offer catalog (TOML), relative to this file; without it the built-in catalog.
    pub offers: Option<PathBuf>,
    /// Customers never to court (one id per line, or a CSV with a customer_id column), relative
    /// to this file.
    pub suppress: Option<PathBuf>,
    /// Accept a suppression list most of whose entries match no customer of the input.
    pub allow_unmatched_suppressions: bool,
    /// Budget: total cost of all offers sent.
    pub max_cost: Option<f64>,
    /// Budget: most customers to contact.
    pub max_contacts: Option<usize>,
}

impl Default for CampaignOptions {
    fn default() -> Self {
        CampaignOptions {
            id: "retain".into(),
            control_share: 0.1,
            offers: None,
            suppress: None,
            allow_unmatched_suppressions: false,
            max_cost: None,
            max_contacts: None,
        }
    }
}

impl CampaignOptions {
    /// Checks the campaign, whether its values came from the file or from `score`/`run` flags
    /// (the messages name both).
    pub fn check(&self) -> std::result::Result<(), String> {
        if self.id.trim().is_empty() {
            return Err("campaign.id (--campaign) must not be empty".into());
        }
        if !(0.0..=1.0).contains(&self.control_share) {
            return Err(format!(
                "campaign.control_share (--control-share) must be between 0 and 1, got {}",
                self.control_share
            ));
        }
        if self.max_cost.is_some_and(|m| !(m.is_finite() && m >= 0.0)) {
            return Err("campaign.max_cost (--max-cost) must be a number ≥ 0".into());
        }
        Ok(())
    }
}

impl Config {
    /// Reads a configuration file; `None` gives the defaults.
    pub fn load(path: Option<&Path>) -> Result<Config> {
        let Some(path) = path else {
            return Ok(Config::default());
        };
        let text = std::fs::read_to_string(path).map_err(|e| Error::Config {
            path: path.into(),
            message: e.to_string(),
        })?;
        let mut config: Config = toml::from_str(&text).map_err(|e| Error::Config {
            path: path.into(),
            message: e.to_string(),
        })?;
        // Two roles on one column is checked once the flags are merged: a flag may remap one.
        config.check_values().map_err(|message| Error::Config {
            path: path.into(),
            message,
        })?;
        // Paths in the file are relative to the file, wherever retain is started from.
        let base = path.parent().unwrap_or(Path::new(""));
        for file in [
            &mut config.campaign.offers,
            &mut config.campaign.suppress,
            &mut config.engine.work_dir,
        ]
        .into_iter()
        .flatten()
        {
            if file.is_relative() {
                *file = base.join(&*file);
            }
        }
        Ok(config)
    }

    /// Checks values that the types alone cannot.
    pub fn check(&self) -> std::result::Result<(), String> {
        self.check_values()?;
        self.columns.check_distinct()
    }

    /// Each value on its own, as [`Config::check`] without the check that needs every flag.
    fn check_values(&self) -> std::result::Result<(), String> {
        self.engine.memory_limit_bytes()?;
        if self
            .engine
            .shards
            .is_some_and(|k| !(1..=crate::engine::budget::MAX_SHARDS).contains(&k))
        {
            return Err(format!(
                "engine.shards (--shards) must be between 1 and {}",
                crate::engine::budget::MAX_SHARDS
            ));
        }
        if self.input.separator.len() != 1 || !self.input.separator.is_ascii() {
            return Err(format!(
                "input.separator must be one ASCII character, got '{}'",
                self.input.separator
            ));
        }
        if let Some(format) = &self.input.date_format {
            crate::clean::parse::format_without_offset(format)?;
        }
        self.input.zone()?;
        if !(0.0..=1.0).contains(&self.input.max_unparseable_share) {
            return Err(format!(
                "input.max_unparseable_share must be between 0 and 1, got {}",
                self.input.max_unparseable_share
            ));
        }
        if self.model.horizon_days == 0 || self.model.horizon_days > 3650 {
            return Err(format!(
                "model.horizon_days must be between 1 and 3650, got {}",
                self.model.horizon_days
            ));
        }
        // Checked again with the fit's other parameters; here so that `validate` finds it too.
        if self.model.propensity_shrink.is_nan() || self.model.propensity_shrink < 0.0 {
            return Err(format!(
                "model.propensity_shrink must be ≥ 0, got {}",
                self.model.propensity_shrink
            ));
        }
        if self.recommend.k == 0 || self.recommend.k > 1000 {
            return Err(format!(
                "recommend.k must be between 1 and 1000, got {}",
                self.recommend.k
            ));
        }
        let s = &self.scoring;
        if !(0.0 <= s.risk_medium && s.risk_medium <= s.risk_high && s.risk_high <= 1.0) {
            return Err(format!(
                "scoring thresholds must satisfy 0 ≤ risk_medium ≤ risk_high ≤ 1, got {} and {}",
                s.risk_medium, s.risk_high
            ));
        }
        self.campaign.check()?;
        for (canonical, user) in self.columns.pairs() {
            if user.is_empty() {
                return Err(format!("columns.{canonical} must not be empty"));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mapping_file_overrides_only_what_it_names() {
        let config: Config = toml::from_str(
            "[columns]\ncustomer_id = \"CustomerID\"\n[cleaning]\ncancellation_prefix = \"X\"\n",
        )
        .unwrap();
        assert_eq!(config.columns.customer_id, "CustomerID");
        assert_eq!(config.columns.order_date, "order_date");
        assert_eq!(config.cleaning.cancellation_prefix, "X");
        assert!(
            config
                .cleaning
                .non_product_codes
                .contains(&"POST".to_string())
        );
    }

    #[test]
    fn unknown_key_is_refused() {
        let err = toml::from_str::<Config>("[columns]\ncustomerid = \"CustomerID\"\n").unwrap_err();
        assert!(err.to_string().contains("customerid"), "{err}");
    }

    #[test]
    fn campaign_paths_are_relative_to_the_file_and_values_are_checked() {
        let dir = std::env::temp_dir().join(format!("retain-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("shop.toml");
        std::fs::write(
            &path,
            "[campaign]\nid = \"spring\"\noffers = \"offers.toml\"\nsuppress = \"/abs/optout.txt\"\nmax_contacts = 500\n",
        )
        .unwrap();
        let config = Config::load(Some(&path)).unwrap();
        assert_eq!(config.campaign.id, "spring");
        assert_eq!(config.campaign.offers, Some(dir.join("offers.toml")));
        assert_eq!(
            config.campaign.suppress,
            Some(PathBuf::from("/abs/optout.txt"))
        );
        assert_eq!(config.campaign.max_contacts, Some(500));
        assert_eq!(config.campaign.control_share, 0.1);
        std::fs::write(&path, "[campaign]\ncontrol_share = 1.5\n").unwrap();
        let err = Config::load(Some(&path)).unwrap_err().to_string();
        assert!(err.contains("campaign.control_share"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_readme_reference_is_the_defaults() {
        let readme = include_str!("../README.md");
        let section = &readme[readme.find("## Configuration reference").unwrap()..];
        let start = section.find("```toml\n").unwrap() + "```toml\n".len();
        let block = &section[start..start + section[start..].find("```").unwrap()];
        let documented: Config = toml::from_str(block).unwrap();
        assert_eq!(documented, Config::default());
    }

    #[test]
    fn encoding_names_and_aliases_parse_ignoring_case() {
        for (text, encoding) in [
            ("UTF-8", TextEncoding::Utf8),
            ("utf8", TextEncoding::Utf8),
            ("Windows-1252", TextEncoding::Windows1252),
            ("CP1252", TextEncoding::Windows1252),
            ("latin1", TextEncoding::Latin1),
            ("ISO-8859-1", TextEncoding::Latin1),
            ("utf-16le", TextEncoding::Utf16Le),
            ("UTF-16BE", TextEncoding::Utf16Be),
        ] {
            assert_eq!(text.parse::<TextEncoding>(), Ok(encoding), "{text}");
        }
        let err = "ebcdic".parse::<TextEncoding>().unwrap_err();
        assert!(
            err.contains("utf-8, windows-1252, iso-8859-1, utf-16le, utf-16be"),
            "{err}"
        );
        let config: Config = toml::from_str("[input]\nencoding = \"cp1252\"\n").unwrap();
        assert_eq!(config.input.encoding, TextEncoding::Windows1252);
        assert!(
            toml::to_string(&config)
                .unwrap()
                .contains("encoding = \"windows-1252\"")
        );
    }

    #[test]
    fn two_roles_on_one_column_are_refused_once_the_flags_are_merged() {
        let mut config = Config::default();
        config.columns.customer_id = "order_id".into();
        let err = config.check().unwrap_err();
        assert!(
            err.contains("customer_id and order_id are both mapped to the column 'order_id'"),
            "{err}"
        );
        assert!(config.check_values().is_ok());
        config.columns.order_id = "InvoiceNo".into();
        assert!(config.check().is_ok());
    }

    #[test]
    fn bad_separator_is_refused() {
        let mut config = Config::default();
        config.input.separator = ";;".into();
        assert!(config.check().unwrap_err().contains("separator"));
    }

    #[test]
    fn negative_or_nan_propensity_shrink_is_refused() {
        for bad in [-1.0, f64::NAN] {
            let mut config = Config::default();
            config.model.propensity_shrink = bad;
            assert!(config.check().unwrap_err().contains("propensity_shrink"));
        }
        let mut config = Config::default();
        config.model.propensity_shrink = 0.0;
        assert!(config.check().is_ok());
    }
}
