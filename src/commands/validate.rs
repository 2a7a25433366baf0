//! `retain validate`: the data quality report, and the quarantine file of rejected rows.

use crate::cli::ValidateArgs;
use crate::error::Result;
use crate::io::paths::{self, Replaced};
use crate::io::write;
use crate::{quality, settings};

pub fn run(args: &ValidateArgs) -> Result<()> {
    let config = settings::resolve(&args.settings)?;
    if let Some(quarantine) = &args.quarantine {
        let mut reads = super::settings_reads(&args.settings);
        reads.push(("--input", &args.input));
        paths::refuse_overlap(&reads, &[("--quarantine", Replaced::File(quarantine))])?;
    }
    let mut cleaned = super::load(
        &args.input,
        &config,
        args.quarantine.is_some(),
        args.quarantine.as_deref(),
    )?;
    if let (Some(path), Some(rejected)) = (&args.quarantine, cleaned.rejected.as_mut()) {
        write::write_atomic(path, |out| write::csv_bytes(rejected, out))?;
        super::progress(format!(
            "wrote {} rejected rows to {}",
            rejected.height(),
            path.display()
        ));
    }
    let report = quality::report(&cleaned.transactions)?;
    if args.json {
        let text = serde_json::to_string_pretty(&report)
            .map_err(|e| crate::error::Error::Internal(e.to_string()))?;
        super::print_stdout(&format!("{text}\n"))?;
    } else {
        super::print_stdout(&quality::render(&report))?;
    }
    Ok(())
}
