//! The saved co-purchase model: product pairs with scores (Parquet) and their metadata (JSON),
//! keyed by product id text so that a nightly run on new data can use them without recounting.

use std::collections::HashMap;
use std::path::Path;

use polars::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::copurchase::{CoPurchaseModel, CoPurchaseParams, Neighbour};
use super::history::History;
use super::suggest::Blend;
use crate::error::{Error, Result};

pub const FORMAT_VERSION: u32 = 1;
pub const PAIRS_FILE: &str = "copurchase-pairs.parquet";
pub const META_FILE: &str = "copurchase.json";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CoPurchaseMeta {
    pub format_version: u32,
    pub retain_version: String,
    /// Baskets before this date were counted.
    pub as_of: String,
    pub params: CoPurchaseParams,
    pub blend: Blend,
    pub blend_chosen_by: String,
    pub products: usize,
    pub pairs: usize,
    /// sha256 of the pairs file.
    pub pairs_sha256: String,
}

fn pairs_table(model: &CoPurchaseModel) -> Result<DataFrame> {
    let (mut a, mut b, mut s, mut c) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (p, list) in model.neighbours.iter().enumerate() {
        for n in list {
            a.push(model.product_ids[p].as_str());
            b.push(model.product_ids[n.product as usize].as_str());
            s.push(n.similarity);
            c.push(n.customers_together);
        }
    }
    Ok(DataFrame::new(
        a.len(),
        vec![
            Column::new("product_id".into(), a),
            Column::new("neighbour_id".into(), b),
            Column::new("similarity".into(), s),
            Column::new("customers_together".into(), c),
        ],
    )?)
}

/// The pairs file and the metadata (which names the pairs' checksum), as bytes: the model
/// directory's [`crate::io::store`] writes them, with the rest of the model set.
pub fn to_files(
    model: &CoPurchaseModel,
    blend: &Blend,
    chosen_by: &str,
    as_of: chrono::NaiveDate,
) -> Result<[(&'static str, Vec<u8>); 2]> {
    let mut table = pairs_table(model)?;
    let bytes = crate::io::write::parquet_bytes(&mut table)?;
    let meta = CoPurchaseMeta {
        format_version: FORMAT_VERSION,
        retain_version: env!("CARGO_PKG_VERSION").to_string(),
        as_of: as_of.to_string(),
        params: model.params.clone(),
        blend: *blend,
        blend_chosen_by: chosen_by.to_string(),
        products: model.product_ids.len(),
        pairs: table.height(),
        pairs_sha256: format!("{:x}", Sha256::digest(&bytes)),
    };
    let mut json = serde_json::to_vec_pretty(&meta).map_err(|e| Error::Internal(e.to_string()))?;
    json.push(b'\n');
    Ok([(META_FILE, json), (PAIRS_FILE, bytes)])
}

/// Loads a saved model onto the product codes of `history` (products unknown to it are dropped;
/// popularity is taken from `history`, so it is as recent as the data being scored).
/// `meta` and `pairs` are the bytes of [`META_FILE`] and [`PAIRS_FILE`] with their paths (for
/// messages).
pub fn from_bytes(
    meta: (&[u8], &Path),
    pairs: (&[u8], &Path),
    history: &History,
) -> Result<(CoPurchaseModel, CoPurchaseMeta)> {
    let mismatch = |what: String| Error::ModelMismatch(what);
    let ((text, meta_path), (bytes, pairs_path)) = (meta, pairs);
    let meta: CoPurchaseMeta = serde_json::from_slice(text).map_err(|e| {
        mismatch(format!(
            "{}: not a co-purchase model ({e})",
            meta_path.display()
        ))
    })?;
    if meta.format_version != FORMAT_VERSION {
        return Err(mismatch(format!(
            "{}: format version {} but this retain reads {FORMAT_VERSION}; retrain",
            meta_path.display(),
            meta.format_version
        )));
    }
    let digest = format!("{:x}", Sha256::digest(bytes));
    if digest != meta.pairs_sha256 {
        return Err(mismatch(format!(
            "{} does not match the checksum in {}: the files were changed after training",
            pairs_path.display(),
            meta_path.display()
        )));
    }
    let table = ParquetReader::new(std::io::Cursor::new(bytes)).finish()?;
    let code: HashMap<&str, u32> = history
        .product_ids
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i as u32))
        .collect();
    let mut neighbours: Vec<Vec<Neighbour>> = vec![Vec::new(); history.n_products()];
    let a = table.column("product_id")?.str()?.clone();
    let b = table.column("neighbour_id")?.str()?.clone();
    let s = table.column("similarity")?.f32()?.clone();
    let c = table.column("customers_together")?.u32()?.clone();
    for i in 0..table.height() {
        let (Some(from), Some(to)) = (
            a.get(i).and_then(|x| code.get(x)),
            b.get(i).and_then(|x| code.get(x)),
        ) else {
            continue;
        };
        neighbours[*from as usize].push(Neighbour {
            product: *to,
            similarity: s.get(i).unwrap_or(0.0),
            customers_together: c.get(i).unwrap_or(0),
        });
    }
    Ok((
        CoPurchaseModel {
            params: meta.params.clone(),
            neighbours,
            recent_buyers: history.recent_buyers.clone(),
            product_ids: history.product_ids.clone(),
            product_names: history.product_names.clone(),
        },
        meta,
    ))
}
