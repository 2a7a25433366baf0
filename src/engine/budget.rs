//! How many shards a run uses: as given (`--shards`), or the fewest whose lines fit the memory
//! budget (`--memory-limit`, `[engine] memory_limit`) with room for the stages' work.

use crate::error::{Error, Result};

/// The memory budget when none is given: 6 GiB, the target of a mid-size retailer's 100 M lines
/// on one machine.
pub const DEFAULT_MEMORY_LIMIT: &str = "6GiB";

/// Bytes of working memory a stage needs per byte of the shard's line table it reads (the
/// group-bys and joins of the feature and history stages, and the shard itself), with room.
pub const WORK_FACTOR: u64 = 8;

/// Most shards a run may be split into.
pub const MAX_SHARDS: usize = 4096;

/// Customers per part in the stages that make customer-level tables a part at a time (scores
/// with reasons, suggestions, CRM rows): about 64 KiB of budget per customer, between 1,024 and
/// 65,536. The files do not depend on it (see [`crate::output::parts`]).
pub fn customers_per_part(limit: u64) -> usize {
    (limit / (64 << 10)).clamp(1 << 10, 1 << 16) as usize
}

/// Reads a size such as `6GiB`, `512MiB`, `4GB`, `800M` or `1000000` (bytes). `K`, `M`, `G`, `T`
/// (with or without `B`) and the `iB` forms are powers of 1024, as in DuckDB's `memory_limit`.
pub fn parse_size(text: &str) -> std::result::Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("'{text}' is not a size; expected e.g. 6GiB, 512MiB or 4GB"))?;
    let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        "t" | "tb" | "tib" => 1 << 40,
        other => {
            return Err(format!(
                "'{text}': unknown unit '{other}'; expected B, KiB, MiB, GiB or TiB"
            ));
        }
    };
    let bytes = number * scale as f64;
    if !(bytes.is_finite() && bytes >= 1.0) {
        return Err(format!("'{text}' is not a positive size"));
    }
    Ok(bytes as u64)
}

/// Refuses a budget in which the largest customer's lines (`lines` of `per_line` bytes), times
/// [`WORK_FACTOR`], do not fit: a customer's lines are never split over shards.
pub fn check_largest(customer: &str, lines: u64, per_line: u64, limit: u64) -> Result<()> {
    let need = lines * per_line * WORK_FACTOR;
    if need <= limit {
        return Ok(());
    }
    Err(Error::Usage(format!(
        "customer '{customer}' has {lines} lines, which need about {} MiB to work on in one \
         shard (a customer's lines are never split); the memory budget is {} MiB: raise \
         --memory-limit (engine.memory_limit) to at least {} MiB",
        need.div_ceil(1 << 20),
        limit >> 20,
        need.div_ceil(1 << 20)
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_duckdb_reads_them() {
        assert_eq!(parse_size("6GiB"), Ok(6 << 30));
        assert_eq!(parse_size("4GB"), Ok(4 << 30));
        assert_eq!(parse_size("512 MiB"), Ok(512 << 20));
        assert_eq!(parse_size("1.5G"), Ok(3 << 29));
        assert_eq!(parse_size("1000"), Ok(1000));
        assert!(
            parse_size("6 parsecs")
                .unwrap_err()
                .contains("unknown unit")
        );
        assert!(parse_size("GiB").is_err());
        assert!(parse_size("0").is_err());
    }

    #[test]
    fn the_largest_customer_must_fit_the_budget() {
        // 1000 lines of 105 bytes, times 8: about 0.8 MiB.
        assert!(check_largest("C-17", 1000, 105, 1 << 20).is_ok());
        let err = check_largest("C-17", 1000, 105, 512 << 10)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("'C-17' has 1000 lines")
                && err.contains("--memory-limit")
                && err.contains("at least 1 MiB"),
            "{err}"
        );
    }
}
