//! Command-line arguments (clap derive). No logic here: `crate::settings` resolves them.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Churn scores, product suggestions and retention offers from purchase data.
///
/// Exit codes: 0 success, 1 internal error, 2 usage or configuration error, 3 bad input data,
/// 4 insufficient data, 5 model mismatch, 6 output could not be written, 7 another retain is
/// writing the same output or model directory.
#[derive(Debug, Parser)]
#[command(name = "retain", version, about, long_about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check an input file: rows read, kept and rejected per reason, and warnings.
    Validate(ValidateArgs),
    /// Build customer features (RFM and purchase rhythm) at an as-of date.
    Features(FeaturesArgs),
    /// Write realistic synthetic purchases (deterministic per seed).
    Generate(GenerateArgs),
    /// Train the churn and co-purchase models and save them in the model directory.
    Train(TrainArgs),
    /// Product suggestions per customer (repurchase and cross-sell), long format.
    Recommend(RecommendArgs),
    /// Score every customer with a saved model, choose retention offers, write the CRM file.
    Score(ScoreArgs),
    /// Honest out-of-time evaluation at a cutoff date (DESIGN.md protocol).
    Backtest(BacktestArgs),
    /// The main job: train on the input, score, suggest products, choose offers, write out/.
    Run(RunArgs),
    /// The steps of `run` as separate processes, for an engine that moves the data between
    /// them (Apache Spark: spark/retain_spark.py, see spark/README.md).
    #[command(subcommand)]
    Shard(ShardStep),
}

/// `retain shard ...`: plan → route (each input file) → finish → clean (each shard) → run. Every
/// step takes the same settings as `retain run`.
#[derive(Debug, Subcommand)]
pub enum ShardStep {
    /// Open the input's files, check their columns, write the plan every later step reads.
    Plan(ShardPlanArgs),
    /// Read one input file and write its rows by customer shard, with the evidence of reading.
    Route(ShardRouteArgs),
    /// Check the evidence of every file (date formats, unreadable values), write the shape.
    Finish(ShardFinishArgs),
    /// Clean one shard's rows: its lines and the partials the run merges.
    Clean(ShardCleanArgs),
    /// `retain run` on cleaned shards: merge their partials, then train, score and write.
    Run(ShardRunArgs),
}

// Every step takes all of `retain run`'s arguments (`--input`, the settings, the campaign's),
// so that an engine hands each the same ones; a step uses those it needs.

#[derive(Debug, Args)]
pub struct ShardPlanArgs {
    /// The plan file to write (JSON).
    #[arg(long, value_name = "FILE")]
    pub plan: PathBuf,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Args)]
pub struct ShardRouteArgs {
    /// The plan `retain shard plan` wrote.
    #[arg(long, value_name = "FILE")]
    pub plan: PathBuf,
    /// The input file to read: its index in the plan.
    #[arg(long, value_name = "INDEX")]
    pub file: usize,
    /// Directory to write `rows-SHARD-FILE-BATCH.arrow` and `evidence-FILE.json` into.
    #[arg(long, value_name = "DIR")]
    pub into: PathBuf,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Args)]
pub struct ShardFinishArgs {
    /// The plan `retain shard plan` wrote.
    #[arg(long, value_name = "FILE")]
    pub plan: PathBuf,
    /// Directory holding every file's `evidence-FILE.json`.
    #[arg(long, value_name = "DIR")]
    pub evidence: PathBuf,
    /// The shape file to write (JSON).
    #[arg(long, value_name = "FILE")]
    pub shape: PathBuf,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Args)]
pub struct ShardCleanArgs {
    /// The plan `retain shard plan` wrote.
    #[arg(long, value_name = "FILE")]
    pub plan: PathBuf,
    /// The shape `retain shard finish` wrote.
    #[arg(long, value_name = "FILE")]
    pub shape: PathBuf,
    /// The shard to clean.
    #[arg(long, value_name = "SHARD")]
    pub shard: usize,
    /// Directory holding the shard's `rows-SHARD-*.arrow` files (from every route step).
    #[arg(long, value_name = "DIR")]
    pub rows: PathBuf,
    /// Directory to write the shard's `shard-SHARD/` (lines and partials) into.
    #[arg(long, value_name = "DIR")]
    pub into: PathBuf,
    #[command(flatten)]
    pub run: RunArgs,
}

#[derive(Debug, Args)]
pub struct ShardRunArgs {
    /// The plan `retain shard plan` wrote.
    #[arg(long, value_name = "FILE")]
    pub plan: PathBuf,
    /// The shape `retain shard finish` wrote.
    #[arg(long, value_name = "FILE")]
    pub shape: PathBuf,
    /// Directory holding `shard-SHARD/` for every shard with rows, as `retain shard clean`
    /// wrote them.
    #[arg(long, value_name = "DIR")]
    pub cleaned: PathBuf,
    /// The engine named in the manifest.
    #[arg(long, value_name = "NAME", default_value = "spark")]
    pub engine: String,
    #[command(flatten)]
    pub run: RunArgs,
}

/// Settings shared by every command that reads transactions. Each overrides the config file.
#[derive(Debug, Args, Clone, Default)]
pub struct SettingsArgs {
    /// TOML configuration file (column mapping, date format, cleaning rules); see data/online_retail.toml.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Your column holding the customer id [default: customer_id].
    #[arg(long, value_name = "NAME")]
    pub col_customer_id: Option<String>,
    /// Your column holding the order date or datetime [default: order_date].
    #[arg(long, value_name = "NAME")]
    pub col_order_date: Option<String>,
    /// Your column holding the order (invoice) id [default: order_id].
    #[arg(long, value_name = "NAME")]
    pub col_order_id: Option<String>,
    /// Your column holding the product id [default: product_id].
    #[arg(long, value_name = "NAME")]
    pub col_product_id: Option<String>,
    /// Your column holding the product name [default: product_name].
    #[arg(long, value_name = "NAME")]
    pub col_product_name: Option<String>,
    /// Your column holding the quantity [default: quantity].
    #[arg(long, value_name = "NAME")]
    pub col_quantity: Option<String>,
    /// Your column holding the unit price [default: unit_price].
    #[arg(long, value_name = "NAME")]
    pub col_unit_price: Option<String>,
    /// Your column holding the country [default: country].
    #[arg(long, value_name = "NAME")]
    pub col_country: Option<String>,
    /// CSV field separator [default: ,]; a tab as '\t' or tab.
    #[arg(long, value_name = "CHAR")]
    pub separator: Option<String>,
    /// Character encoding of CSV files: utf-8, windows-1252 (cp1252), iso-8859-1 (latin1),
    /// utf-16le or utf-16be [default: utf-8]. A byte-order mark wins over it.
    #[arg(long, value_name = "NAME")]
    pub encoding: Option<crate::config::TextEncoding>,
    /// strftime format of order dates, tried before the built-in ISO 8601 formats (e.g. "%d/%m/%Y %H:%M"); without it, ISO 8601 and common export formats (9.12.2011, 12/9/2011, ...) are recognised.
    #[arg(long, value_name = "FORMAT")]
    pub date_format: Option<String>,
    /// IANA time zone (e.g. Europe/Berlin) to convert order dates with a UTC offset to; without it their local time as written is kept.
    #[arg(long, value_name = "ZONE")]
    pub time_zone: Option<String>,
    /// Numbers are written with a decimal comma (2,50 or 1.234,50), as in German exports.
    #[arg(long)]
    pub decimal_comma: bool,
    /// Share of rows (0-1) with unparseable values in one column above which reading fails [default: 0.01].
    #[arg(long, value_name = "SHARE")]
    pub max_unparseable_share: Option<f64>,
    /// Order ids starting with this text are cancellations; "" disables the rule [default: C].
    #[arg(long, value_name = "TEXT")]
    pub cancellation_prefix: Option<String>,
    /// Comma-separated product codes that are not products (postage, fees) [default: POST,DOT,M,...].
    #[arg(long, value_name = "CODES", value_delimiter = ',')]
    pub non_product_codes: Option<Vec<String>>,
    /// Comma-separated prefixes of product codes that are not products [default: gift_0001_].
    #[arg(long, value_name = "PREFIXES", value_delimiter = ',')]
    pub non_product_prefixes: Option<Vec<String>>,
    /// Keep exact duplicate lines instead of rejecting them.
    #[arg(long)]
    pub keep_duplicates: bool,
    /// Memory budget (e.g. 6GiB, 512MiB): inputs whose lines need more are split by customer
    /// into shards, spilled to the work directory and worked on a few at a time [default: 6GiB].
    #[arg(long, value_name = "SIZE")]
    pub memory_limit: Option<String>,
    /// Split the lines into this many customer shards, whatever their size (1 keeps them in
    /// memory); the output is the same for every count.
    #[arg(long, value_name = "K")]
    pub shards: Option<usize>,
    /// Directory for spilled shards, removed afterwards [default: a hidden directory beside the
    /// output, or the system's temp directory].
    #[arg(long, value_name = "DIR")]
    pub work_dir: Option<PathBuf>,
    /// Fewest customers a feature table may have [default: 50].
    #[arg(long, value_name = "N")]
    pub min_customers: Option<usize>,
    /// Fewest days of purchase history before the as-of date [default: 60].
    #[arg(long, value_name = "DAYS")]
    pub min_history_days: Option<i64>,
    /// Churn horizon: churned = no purchase in the next DAYS days [default: 90].
    #[arg(long, value_name = "DAYS")]
    pub horizon_days: Option<u32>,
    /// Churn probability at or above which a customer is high risk [default: 0.7].
    #[arg(long, value_name = "P")]
    pub risk_high: Option<f64>,
    /// Churn probability at or above which a customer is medium risk [default: 0.4].
    #[arg(long, value_name = "P")]
    pub risk_medium: Option<f64>,
    /// Products suggested per list and customer [default: 10].
    #[arg(long, value_name = "K")]
    pub k: Option<usize>,
    /// Comma-separated product ids never to suggest.
    #[arg(long, value_name = "IDS", value_delimiter = ',')]
    pub blocked_products: Option<Vec<String>>,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Transactions: a CSV, gzip CSV or Parquet file, a directory of them (hive-style
    /// `key=value` subdirectories supply columns), or a quoted glob such as 'exports/2024-*.csv.gz'.
    #[arg(long, short, value_name = "PATH")]
    pub input: PathBuf,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Write every rejected row with its line and reason to this CSV file.
    #[arg(long, value_name = "FILE")]
    pub quarantine: Option<PathBuf>,
    #[command(flatten)]
    pub settings: SettingsArgs,
}

#[derive(Debug, Args)]
pub struct FeaturesArgs {
    /// Transactions: a CSV, gzip CSV or Parquet file, a directory of them (hive-style
    /// `key=value` subdirectories supply columns), or a quoted glob such as 'exports/2024-*.csv.gz'.
    #[arg(long, short, value_name = "PATH")]
    pub input: PathBuf,
    /// Features are built from purchases strictly before this date (YYYY-MM-DD)
    /// [default: the day after the last purchase in the input].
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<String>,
    /// Output file; .parquet or .csv.
    #[arg(long, short, value_name = "FILE")]
    pub out: PathBuf,
    #[command(flatten)]
    pub settings: SettingsArgs,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Number of customers to simulate (about 20 rows each).
    #[arg(long, value_name = "N", default_value_t = 3000)]
    pub customers: usize,
    /// Random seed; the same seed writes the same file.
    #[arg(long, value_name = "S", default_value_t = 42)]
    pub seed: u64,
    /// First day of the simulated window (YYYY-MM-DD).
    #[arg(long, value_name = "DATE", default_value = "2023-01-01")]
    pub start: String,
    /// Length of the simulated window in days.
    #[arg(long, value_name = "DAYS", default_value_t = 730)]
    pub days: u32,
    /// Output file: .csv, .csv.gz or .parquet.
    #[arg(long, short, value_name = "PATH")]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Transactions: a CSV, gzip CSV or Parquet file, a directory of them (hive-style
    /// `key=value` subdirectories supply columns), or a quoted glob such as 'exports/2024-*.csv.gz'.
    #[arg(long, short, value_name = "PATH")]
    pub input: PathBuf,
    /// Train for scoring at this date (YYYY-MM-DD): features at as-of − horizon, labels up to
    /// as-of [default: the day after the last purchase in the input].
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<String>,
    /// Directory the model is saved in.
    #[arg(long, value_name = "DIR", default_value = "models")]
    pub model_dir: PathBuf,
    #[command(flatten)]
    pub settings: SettingsArgs,
}

#[derive(Debug, Args)]
pub struct ScoreArgs {
    /// Transactions: a CSV, gzip CSV or Parquet file, a directory of them (hive-style
    /// `key=value` subdirectories supply columns), or a quoted glob such as 'exports/2024-*.csv.gz'.
    #[arg(long, short, value_name = "PATH")]
    pub input: PathBuf,
    /// Directory holding churn-model.json.
    #[arg(long, value_name = "DIR", default_value = "models")]
    pub model_dir: PathBuf,
    /// Score as of this date (YYYY-MM-DD) [default: the day after the last purchase in the input].
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<String>,
    /// Output directory, replaced as a whole when the run succeeds: at_risk_customers.csv,
    /// scores.parquet, scores.csv, recommendations.csv, manifest.json, _SUCCESS.
    #[arg(long, short, value_name = "DIR")]
    pub out: PathBuf,
    #[command(flatten)]
    pub campaign: CampaignArgs,
    #[command(flatten)]
    pub settings: SettingsArgs,
}

/// The retention campaign and the output directory (`score` and `run`).
#[derive(Debug, Args, Clone)]
pub struct CampaignArgs {
    /// Offer catalog (TOML) [default: the built-in catalog, as in data/offers.toml].
    #[arg(long, value_name = "FILE")]
    pub offers: Option<PathBuf>,
    /// Campaign id. The control group is drawn from a hash of it and the customer id: keep it for
    /// the length of one campaign, change it for the next [default: campaign.id of the config
    /// file, else retain].
    #[arg(long, value_name = "ID")]
    pub campaign: Option<String>,
    /// Share (0-1) of the customers selected for an offer who are held out as a control group
    /// [default: campaign.control_share of the config file, else 0.1].
    #[arg(long, value_name = "SHARE")]
    pub control_share: Option<f64>,
    /// Customers never to court (opt-outs): one customer id per line, or a CSV export (`,` `;`
    /// or tab) with a customer_id column or the ids in its first column; `#` starts a comment. A
    /// list more than half of whose entries match no customer of the input is refused (exit 3).
    #[arg(long, value_name = "FILE")]
    pub suppress: Option<PathBuf>,
    /// Accept a suppression list most of whose entries match no customer of this input (one
    /// that also holds other shops' customers); they are still counted in the manifest.
    #[arg(long)]
    pub allow_unmatched_suppressions: bool,
    /// Budget: total cost of all offers sent, filled by the highest expected benefit first.
    #[arg(long, value_name = "AMOUNT")]
    pub max_cost: Option<f64>,
    /// Budget: most customers to contact, the highest expected benefit first.
    #[arg(long, value_name = "N")]
    pub max_contacts: Option<usize>,
    /// CSV dialect of the output files: crm (comma, dot decimals) or excel-de (semicolon,
    /// decimal comma, UTF-8 BOM).
    #[arg(long, value_enum, default_value_t = crate::output::Profile::Crm)]
    pub profile: crate::output::Profile,
    /// Do everything but write: print the files that would be written, with their rows.
    #[arg(long)]
    pub dry_run: bool,
    /// Add the seconds each stage took to manifest.json (which then differs between reruns).
    #[arg(long)]
    pub timings: bool,
}

#[derive(Debug, Args)]
pub struct RecommendArgs {
    /// Transactions: a CSV, gzip CSV or Parquet file, a directory of them (hive-style
    /// `key=value` subdirectories supply columns), or a quoted glob such as 'exports/2024-*.csv.gz'.
    #[arg(long, short, value_name = "PATH")]
    pub input: PathBuf,
    /// Directory holding the co-purchase model (copurchase.json, copurchase-pairs.parquet).
    #[arg(long, value_name = "DIR", default_value = "models")]
    pub model_dir: PathBuf,
    /// Count baskets again from the input instead of loading the saved co-purchase model.
    #[arg(long)]
    pub refit: bool,
    /// Suggest as of this date (YYYY-MM-DD) [default: the day after the last purchase].
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<String>,
    /// Output file: .csv or .parquet.
    #[arg(long, short, value_name = "FILE")]
    pub out: PathBuf,
    #[command(flatten)]
    pub settings: SettingsArgs,
}

#[derive(Debug, Args)]
pub struct BacktestArgs {
    /// Transactions: a CSV, gzip CSV or Parquet file, a directory of them (hive-style
    /// `key=value` subdirectories supply columns), or a quoted glob such as 'exports/2024-*.csv.gz'.
    #[arg(long, short, value_name = "PATH")]
    pub input: PathBuf,
    /// Cutoff date (YYYY-MM-DD): training sees only purchases before it; evaluation uses the
    /// horizon after it.
    #[arg(long, value_name = "DATE")]
    pub cutoff: String,
    /// Print the report as JSON (DESIGN.md keys) instead of tables.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub settings: SettingsArgs,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Transactions: a CSV, gzip CSV or Parquet file, a directory of them (hive-style
    /// `key=value` subdirectories supply columns), or a quoted glob such as 'exports/2024-*.csv.gz'.
    #[arg(
        long,
        short,
        value_name = "PATH",
        default_value = "data/sample/transactions.csv"
    )]
    pub input: PathBuf,
    /// Output directory, replaced as a whole when the run succeeds.
    #[arg(long, short, value_name = "DIR", default_value = "out")]
    pub out: PathBuf,
    /// As-of date (YYYY-MM-DD) [default: the day after the last purchase in the input].
    #[arg(long, value_name = "DATE")]
    pub as_of: Option<String>,
    /// Also save the trained models here, for nightly `retain score --model-dir DIR` (they are
    /// always in the output directory too).
    #[arg(long, value_name = "DIR")]
    pub model_dir: Option<PathBuf>,
    #[command(flatten)]
    pub campaign: CampaignArgs,
    #[command(flatten)]
    pub settings: SettingsArgs,
}
