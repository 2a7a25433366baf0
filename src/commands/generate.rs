//! `retain generate`: synthetic transactions written as CSV, gzip CSV or Parquet, a chunk of
//! customers at a time (see [`generate::CHUNK_CUSTOMERS`]), so that memory stays bounded.

use polars::prelude::*;

use crate::cli::GenerateArgs;
use crate::error::Result;
use crate::generate::{self, GenerateParams};
use crate::io::write::{self, TableFormat, output_error};
use crate::settings;

pub fn run(args: &GenerateArgs) -> Result<()> {
    let format = TableFormat::from_path(&args.out)?;
    let params = GenerateParams {
        customers: args.customers,
        seed: args.seed,
        start: settings::parse_date("--start", &args.start)?,
        days: args.days,
    };
    params.check()?;
    let started = std::time::Instant::now();
    let path = args.out.as_path();
    let mut rows = 0;
    write::write_atomic(path, |out| {
        rows = match format {
            TableFormat::Csv => csv_chunks(&params, out)?,
            TableFormat::CsvGz => {
                let mut gz = flate2::write::GzEncoder::new(out, flate2::Compression::default());
                let rows = csv_chunks(&params, &mut gz)?;
                gz.finish().map_err(output_error(path))?;
                rows
            }
            TableFormat::Parquet => {
                // The writer is made for the first chunk's schema, taking the file with it.
                let mut sink = Some(out);
                let mut writer: Option<polars::io::parquet::write::BatchedWriter<_>> = None;
                let rows =
                    generate::generate_each(&params, generate::CHUNK_CUSTOMERS, |mut part| {
                        if let Some(file) = sink.take() {
                            writer = Some(
                                ParquetWriter::new(file)
                                    .with_compression(ParquetCompression::Zstd(None))
                                    .batched(part.schema())?,
                            );
                        }
                        if let Some(w) = writer.as_mut() {
                            part.rechunk_mut_par();
                            w.write_batch(&part)?;
                        }
                        Ok(())
                    })?;
                if let Some(w) = writer {
                    w.finish()?;
                }
                rows
            }
        };
        Ok(())
    })?;
    super::progress(format!(
        "generated {rows} rows for {} customers and wrote {} ({:.2} s)",
        params.customers,
        path.display(),
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

/// Writes the chunks as one CSV text: the header before the first.
fn csv_chunks<W: std::io::Write>(params: &GenerateParams, out: &mut W) -> Result<usize> {
    let mut header = true;
    generate::generate_each(params, generate::CHUNK_CUSTOMERS, |mut part| {
        CsvWriter::new(&mut *out)
            .include_header(std::mem::take(&mut header))
            .with_date_format(Some("%Y-%m-%d".into()))
            .with_datetime_format(Some("%Y-%m-%dT%H:%M:%S".into()))
            .finish(&mut part)?;
        Ok(())
    })
}
