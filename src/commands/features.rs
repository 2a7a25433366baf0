//! `retain features`: the customer feature table at an as-of date, as Parquet or CSV.

use crate::cli::FeaturesArgs;
use crate::error::Result;
use crate::io::paths::{self, Replaced};
use crate::io::write;
use crate::{features, settings};

pub fn run(args: &FeaturesArgs) -> Result<()> {
    let config = settings::resolve(&args.settings)?;
    write::TableFormat::from_path(&args.out)?;
    let mut reads = super::settings_reads(&args.settings);
    reads.push(("--input", &args.input));
    paths::refuse_overlap(&reads, &[("--out", Replaced::File(&args.out))])?;
    let as_of = settings::parse_as_of(args.as_of.as_deref())?;
    let cleaned = super::load(&args.input, &config, false, Some(&args.out))?;
    let tx = &cleaned.transactions;
    let (as_of, _) = settings::as_of_or_default(as_of, tx)?;
    let started = std::time::Instant::now();
    let built = features::compute(tx, as_of, &config.features)?;
    crate::memory::release();
    super::progress(format!(
        "built features of {} customers at {as_of} ({:.2} s)",
        built.table.height(),
        started.elapsed().as_secs_f64()
    ));
    // CSV in the crm profile (rounded, quoted text) like every CSV of score and run.
    crate::output::write_table(&built.table, &args.out, crate::output::Profile::Crm)?;
    super::progress(format!("wrote {}", args.out.display()));
    Ok(())
}
