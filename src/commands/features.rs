//! `retain features`: the customer feature table at an as-of date, as Parquet or CSV.

use crate::cli::FeaturesArgs;
use crate::error::Result;
use crate::io::paths::{self, Replaced};
use crate::io::write;
use crate::schema::input;
use crate::{features, settings};
use polars::prelude::DataFrame;

pub fn run(args: &FeaturesArgs) -> Result<()> {
    let config = settings::resolve(&args.settings)?;
    write::TableFormat::from_path(&args.out)?;
    let mut reads = super::settings_reads(&args.settings);
    reads.push(("--input", &args.input));
    paths::refuse_overlap(&reads, &[("--out", Replaced::File(&args.out))])?;
    let as_of = settings::parse_as_of(args.as_of.as_deref())?;
    let started = std::time::Instant::now();
    let built = match as_of {
        // The as-of date is known before any line is read: each shard's rows are aggregated as
        // soon as it is cleaned, and its lines are neither spilled nor read back.
        Some(as_of) => {
            let visit = move |lines: &DataFrame, customers: &DataFrame, present: &[&str]| {
                features::aggregate_shard(
                    lines,
                    customers,
                    present.contains(&input::PRODUCT_ID),
                    as_of,
                )
            };
            let (cleaned, parts) =
                super::load_visiting(&args.input, &config, false, Some(&args.out), Some(&visit))?;
            settings::as_of_or_default(Some(as_of), &cleaned.transactions)?;
            features::compute_from_shards(parts, as_of, &config.features)?
        }
        None => {
            let cleaned = super::load(&args.input, &config, false, Some(&args.out))?;
            let tx = &cleaned.transactions;
            let (as_of, _) = settings::as_of_or_default(None, tx)?;
            features::compute(tx, as_of, &config.features)?
        }
    };
    crate::memory::release();
    super::progress(format!(
        "built features of {} customers at {} ({:.2} s)",
        built.table.height(),
        built.as_of,
        started.elapsed().as_secs_f64()
    ));
    // CSV in the crm profile (rounded, quoted text) like every CSV of score and run.
    crate::output::write_table(&built.table, &args.out, crate::output::Profile::Crm)?;
    super::progress(format!("wrote {}", args.out.display()));
    Ok(())
}
