//! `retain generate`: synthetic transactions written as CSV, gzip CSV or Parquet.

use crate::cli::GenerateArgs;
use crate::error::Result;
use crate::generate::{self, GenerateParams};
use crate::io::write;
use crate::settings;

pub fn run(args: &GenerateArgs) -> Result<()> {
    write::TableFormat::from_path(&args.out)?;
    let params = GenerateParams {
        customers: args.customers,
        seed: args.seed,
        start: settings::parse_date("--start", &args.start)?,
        days: args.days,
    };
    let started = std::time::Instant::now();
    let mut table = generate::generate(&params)?;
    super::progress(format!(
        "generated {} rows for {} customers ({:.2} s)",
        table.height(),
        params.customers,
        started.elapsed().as_secs_f64()
    ));
    write::write_table(&mut table, &args.out)?;
    super::progress(format!("wrote {}", args.out.display()));
    Ok(())
}
