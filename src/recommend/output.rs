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
    let id = |c: usize| customer_ids.get(c).unwrap_or_default();
    // Customers in id order, and within each `cross_sell` before `repurchase` (the lists' names in
    // order), each by rank: the rows come out sorted without sorting them.
    let mut customers: Vec<usize> = (0..history.customers.len())
        .filter(|&c| !history.customers[c].is_empty())
        .collect();
    customers.par_sort_unstable_by(|&a, &b| id(a).cmp(id(b)).then(a.cmp(&b)));
    let per_customer: Vec<(usize, [Vec<Suggestion>; 2])> = customers
        .par_iter()
        .map(|&c| {
            let s = model.suggest(&history.customers[c], k, blend, blocked, &popular);
            (c, [s.cross_sell, s.repurchase])
        })
        .collect();
    let rows = || {
        per_customer.iter().flat_map(|(c, lists)| {
            ["cross_sell", "repurchase"]
                .into_iter()
                .zip(lists)
                .flat_map(move |(list, items)| {
                    items
                        .iter()
                        .enumerate()
                        .map(move |(i, x)| (*c, list, i + 1, x))
                })
        })
    };
    let n = rows().count();
    let product = |x: &Suggestion| x.product as usize;
    Ok(DataFrame::new(
        n,
        vec![
            Column::new(
                "customer_id".into(),
                rows().map(|r| id(r.0)).collect::<Vec<&str>>(),
            ),
            Column::new("list".into(), rows().map(|r| r.1).collect::<Vec<&str>>()),
            Column::new(
                "rank".into(),
                rows().map(|r| r.2 as u32).collect::<Vec<u32>>(),
            ),
            Column::new(
                "product_id".into(),
                rows()
                    .map(|r| model.product_ids[product(r.3)].as_str())
                    .collect::<Vec<&str>>(),
            ),
            Column::new(
                "product_name".into(),
                rows()
                    .map(|r| model.product_names[product(r.3)].as_str())
                    .collect::<Vec<&str>>(),
            ),
            Column::new(
                "score".into(),
                rows().map(|r| r.3.score).collect::<Vec<f64>>(),
            ),
            Column::new(
                "reason".into(),
                rows().map(|r| reason(model, r.3)).collect::<Vec<String>>(),
            ),
        ],
    )?)
}
