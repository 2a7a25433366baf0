//! The long-format suggestion table: one row per customer, list and rank, with a reason in words.

use polars::prelude::*;
use rayon::prelude::*;

use super::copurchase::CoPurchaseModel;
use super::history::History;
use super::suggest::{Blend, Source, Suggestion};
use crate::error::Result;

fn reason(model: &CoPurchaseModel, s: &Suggestion) -> String {
    match (s.source, s.because) {
        (Source::Repurchase, Some((_, orders))) => format!(
            "bought in {orders} order{}",
            if orders == 1 { "" } else { "s" }
        ),
        (Source::CoPurchase, Some((from, together))) => {
            let name = &model.product_names[from as usize];
            let name = if name.is_empty() {
                &model.product_ids[from as usize]
            } else {
                name
            };
            if together > 0 {
                format!("bought together with {name} by {together} customers")
            } else {
                format!("often in the same basket as {name}")
            }
        }
        _ => format!(
            "popular: {} buyers in the last {} days",
            model.recent_buyers[s.product as usize], model.params.popularity_days
        ),
    }
}

/// One suggestion row before sorting: customer code, list name, rank, suggestion.
type Row = (usize, &'static str, usize, Suggestion);

/// Suggestions for every customer with product history: `customer_id`, `list`, `rank`,
/// `product_id`, `product_name`, `score`, `reason`; sorted by customer id, list, rank.
pub fn table(
    model: &CoPurchaseModel,
    history: &History,
    customer_ids: &StringChunked,
    k: usize,
    blend: &Blend,
    blocked: &[bool],
) -> Result<DataFrame> {
    let popular = model.popular();
    let rows: Vec<Row> = (0..history.customers.len())
        .into_par_iter()
        .filter(|&c| !history.customers[c].is_empty())
        .flat_map_iter(|c| {
            let s = model.suggest(&history.customers[c], k, blend, blocked, &popular);
            let rep = s
                .repurchase
                .into_iter()
                .enumerate()
                .map(move |(i, x)| (c, "repurchase", i + 1, x));
            let cross = s
                .cross_sell
                .into_iter()
                .enumerate()
                .map(move |(i, x)| (c, "cross_sell", i + 1, x));
            rep.chain(cross).collect::<Vec<_>>()
        })
        .collect();
    let mut order: Vec<usize> = (0..rows.len()).collect();
    let id = |c: usize| customer_ids.get(c).unwrap_or_default();
    order.sort_by(|&a, &b| {
        let (x, y) = (&rows[a], &rows[b]);
        id(x.0).cmp(id(y.0)).then(x.1.cmp(y.1)).then(x.2.cmp(&y.2))
    });
    let pick = |f: &dyn Fn(&Row) -> String| -> Vec<String> {
        order.iter().map(|&i| f(&rows[i])).collect()
    };
    Ok(DataFrame::new(
        order.len(),
        vec![
            Column::new("customer_id".into(), pick(&|r| id(r.0).to_string())),
            Column::new("list".into(), pick(&|r| r.1.to_string())),
            Column::new(
                "rank".into(),
                order
                    .iter()
                    .map(|&i| rows[i].2 as u32)
                    .collect::<Vec<u32>>(),
            ),
            Column::new(
                "product_id".into(),
                pick(&|r| model.product_ids[r.3.product as usize].clone()),
            ),
            Column::new(
                "product_name".into(),
                pick(&|r| model.product_names[r.3.product as usize].clone()),
            ),
            Column::new(
                "score".into(),
                order.iter().map(|&i| rows[i].3.score).collect::<Vec<f64>>(),
            ),
            Column::new("reason".into(), pick(&|r| reason(model, &r.3))),
        ],
    )?)
}
