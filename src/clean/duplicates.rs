//! Exact duplicate rows: every canonical column equal to an earlier row's.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::hash::BuildHasherDefault;

use polars::prelude::*;

use super::DUPLICATE;
use crate::error::Result;
use crate::schema::{input, line};

/// Rows equal in every canonical column to an earlier row. Rows are hashed (a fixed seed, so runs
/// agree) and a row whose hash was seen is compared value by value with the first row of that
/// hash: a hash collision can hide a duplicate (odds about n² / 2⁶⁵) but never invent one.
pub(super) fn duplicate_mask(work: &DataFrame) -> Result<BooleanChunked> {
    use polars::polars_utils::aliases::PlSeedableRandomStateQuality;
    let keys: Vec<&Column> = [
        input::CUSTOMER_ID,
        input::ORDER_ID,
        line::ORDER_TS,
        input::PRODUCT_ID,
        input::PRODUCT_NAME,
        input::QUANTITY,
        input::UNIT_PRICE,
        input::COUNTRY,
    ]
    .into_iter()
    .map(|name| work.column(name))
    .collect::<PolarsResult<_>>()?;
    let state = PlSeedableRandomStateQuality::fixed();
    let mut hashes = Vec::with_capacity(work.height());
    keys[0]
        .as_materialized_series()
        .vec_hash(state.clone(), &mut hashes)?;
    for key in &keys[1..] {
        key.as_materialized_series()
            .vec_hash_combine(state.clone(), &mut hashes)?;
    }
    let mut first_row: HashMap<u64, usize, BuildHasherDefault<PrehashedHasher>> =
        HashMap::with_capacity_and_hasher(hashes.len(), Default::default());
    let mut duplicate = vec![false; hashes.len()];
    for (row, hash) in hashes.iter().enumerate() {
        match first_row.entry(*hash) {
            Entry::Vacant(slot) => {
                slot.insert(row);
            }
            Entry::Occupied(first) => {
                let first = *first.get();
                let mut equal = true;
                for key in &keys {
                    if key.get(row)? != key.get(first)? {
                        equal = false;
                        break;
                    }
                }
                duplicate[row] = equal;
            }
        }
    }
    Ok(BooleanChunked::from_slice(DUPLICATE.into(), &duplicate))
}

/// The keys are already hashes: pass them through.
#[derive(Default)]
struct PrehashedHasher(u64);

impl std::hash::Hasher for PrehashedHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}
