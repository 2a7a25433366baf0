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

/// Products per customer in the CRM file: the first of the cross-sell list.
pub const PICKS: usize = 3;

/// The first [`PICKS`] cross-sell products of every customer (by customer code), for the CRM
/// file: product codes, kept compact (no text) for millions of customers.
#[derive(Debug, Clone, Default)]
pub struct Picks<'a> {
    /// Per customer code; [`NO_PICK`] fills the rest.
    codes: Vec<[u32; PICKS]>,
    /// Id and name of every product code.
    ids: &'a [String],
    names: &'a [String],
}

const NO_PICK: u32 = u32::MAX;

impl<'a> Picks<'a> {
    /// No suggestions for anyone (no co-purchase model).
    pub fn none() -> Picks<'a> {
        Picks::default()
    }

    /// No picks yet for `customers` customers, of the products with these ids and names.
    pub fn new(ids: &'a [String], names: &'a [String], customers: usize) -> Picks<'a> {
        Picks {
            codes: vec![[NO_PICK; PICKS]; customers],
            ids,
            names,
        }
    }

    /// Sets the customer's picks: the first [`PICKS`] of `products` (codes).
    pub fn set(&mut self, customer: u32, products: impl IntoIterator<Item = u32>) {
        if let Some(slots) = self.codes.get_mut(customer as usize) {
            for (slot, p) in slots.iter_mut().zip(products) {
                *slot = p;
            }
        }
    }

    /// Whether the customer (code) has any suggested product.
    pub fn has(&self, customer: u32) -> bool {
        self.codes
            .get(customer as usize)
            .is_some_and(|c| c[0] != NO_PICK)
    }

    /// The customer's `k`-th pick: product id and name.
    pub fn get(&self, customer: u32, k: usize) -> Option<(&'a str, &'a str)> {
        let code = *self.codes.get(customer as usize)?.get(k)?;
        (code != NO_PICK).then(|| {
            (
                self.ids[code as usize].as_str(),
                self.names[code as usize].as_str(),
            )
        })
    }
}

/// True for every product code never to suggest (`ids`: the id of every product code;
/// `blocked_products`: the config's list).
pub fn blocked<'a>(ids: impl Iterator<Item = &'a str>, blocked_products: &[String]) -> Vec<bool> {
    ids.map(|id| blocked_products.iter().any(|b| b == id))
        .collect()
}

/// Suggestions for every customer with product history: `customer_id`, `list`, `rank`,
/// `product_id`, `product_name`, `score`, `reason`; sorted by customer id, list, rank. Made
/// `part` customers at a time, each part's table handed to `write` in order (at least one part,
/// empty for no customers), so that millions of customers never make one table. Returns every
/// customer's [`Picks`].
#[allow(clippy::too_many_arguments)]
pub fn write_parts<'a>(
    model: &'a CoPurchaseModel,
    history: &History,
    customer_ids: &StringChunked,
    k: usize,
    blend: &Blend,
    blocked: &[bool],
    part: usize,
    mut write: impl FnMut(&DataFrame) -> Result<()>,
) -> Result<Picks<'a>> {
    let popular = model.popular();
    let id = |c: usize| customer_ids.get(c).unwrap_or_default();
    // Customers in id order (codes follow the ids, see `clean::encode`; sorted here should they
    // not), and within each `cross_sell` before `repurchase` (the lists' names in order), each
    // by rank: the rows come out sorted without sorting them.
    let mut customers: Vec<usize> = (0..history.customers.len())
        .filter(|&c| !history.customers[c].is_empty())
        .collect();
    if !customers.is_sorted_by(|&a, &b| id(a) <= id(b)) {
        customers.par_sort_unstable_by(|&a, &b| id(a).cmp(id(b)).then(a.cmp(&b)));
    }
    let mut picks = Picks::new(
        &model.product_ids,
        &model.product_names,
        history.customers.len(),
    );
    for range in crate::output::parts::ranges(customers.len(), part) {
        let per_customer: Vec<(usize, [Vec<Suggestion>; 2])> = customers[range]
            .par_iter()
            .map(|&c| {
                let s = model.suggest(&history.customers[c], k, blend, blocked, &popular);
                (c, [s.cross_sell, s.repurchase])
            })
            .collect();
        for (c, [cross_sell, _]) in &per_customer {
            picks.set(*c as u32, cross_sell.iter().map(|s| s.product));
        }
        write(&part_table(model, &per_customer, &id)?)?;
    }
    Ok(picks)
}

/// The suggestion table of some customers (their lists made), in their order.
fn part_table<'i>(
    model: &CoPurchaseModel,
    per_customer: &[(usize, [Vec<Suggestion>; 2])],
    id: &impl Fn(usize) -> &'i str,
) -> Result<DataFrame> {
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

/// [`write_parts`] as one table: for small inputs and tests.
pub fn table(
    model: &CoPurchaseModel,
    history: &History,
    customer_ids: &StringChunked,
    k: usize,
    blend: &Blend,
    blocked: &[bool],
) -> Result<DataFrame> {
    let mut parts = Vec::new();
    write_parts(
        model,
        history,
        customer_ids,
        k,
        blend,
        blocked,
        usize::MAX,
        |part| {
            parts.push(part.clone());
            Ok(())
        },
    )?;
    crate::engine::stack(parts)
}
