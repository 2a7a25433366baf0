//! Synthetic purchase data with learnable churn and co-purchase structure, deterministic per seed.
//!
//! Each customer follows a buy-till-you-die process: purchases arrive at a personal rate (with
//! seasonality) and after each purchase the customer stops for good with a personal probability,
//! so recency relative to the usual rhythm predicts churn. Baskets are drawn from a few favourite
//! themes, so products of a theme are bought together, and customers reorder what they bought.
//! The dirt of real exports is added on purpose: cancellations (`C` invoices), returns, guest
//! orders without a customer id, postage lines, zero prices and duplicated lines.

pub mod catalog;

use chrono::{Datelike, NaiveDate};
use polars::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Beta, Distribution, Exp, Gamma, Poisson};
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::schema::input;
use catalog::Catalog;

/// What to generate.
#[derive(Debug, Clone)]
pub struct GenerateParams {
    pub customers: usize,
    pub seed: u64,
    /// First day of the simulated window.
    pub start: NaiveDate,
    /// Length of the window in days.
    pub days: u32,
}

impl GenerateParams {
    pub fn check(&self) -> Result<()> {
        if self.customers == 0 {
            return Err(Error::Usage("--customers must be at least 1".into()));
        }
        if self.days < 30 {
            return Err(Error::Usage("--days must be at least 30".into()));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OrderType {
    Sale,
    Cancellation,
    Return,
}

struct Line {
    product: u32,
    quantity: i32,
    price_cents: u32,
}

struct Order {
    customer: u32,
    /// Seconds since the window start.
    at: i64,
    kind: OrderType,
    guest: bool,
    postage: bool,
    lines: Vec<Line>,
}

const COUNTRIES: [&str; 8] = [
    "Germany",
    "France",
    "EIRE",
    "Spain",
    "Netherlands",
    "Belgium",
    "Switzerland",
    "Portugal",
];
const QUANTITIES: [i32; 8] = [1, 2, 3, 4, 6, 8, 12, 24];
const POSTAGE_CENTS: u32 = 1800;

/// SplitMix64: decorrelates per-customer seeds derived from one user seed.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn season(params: &GenerateParams, at: i64) -> f64 {
    let day = params.start + chrono::Duration::days(at / 86_400);
    match day.month() {
        11 => 1.7,
        12 => 1.4,
        9 | 10 => 1.25,
        1 | 2 => 0.8,
        _ => 1.0,
    }
}

fn simulate_customer(
    index: u32,
    params: &GenerateParams,
    catalog: &Catalog,
) -> (String, Vec<Order>) {
    let mut rng = ChaCha8Rng::seed_from_u64(mix(params.seed ^ mix(u64::from(index) + 1)));
    let horizon = i64::from(params.days) * 86_400;
    let country = if rng.gen_bool(0.85) {
        "United Kingdom"
    } else {
        COUNTRIES[rng.gen_range(0..COUNTRIES.len())]
    };
    // Personal buying rate (orders per day), churn probability per order and basket size.
    let rate = Gamma::new(0.9f64, 1.0 / 30.0)
        .map_or(0.03, |g| g.sample(&mut rng))
        .max(1e-4);
    let dropout = Beta::new(1.2f64, 7.0).map_or(0.15, |b| b.sample(&mut rng));
    let basket_mean = Gamma::new(2.0f64, 1.5).map_or(3.0, |g| g.sample(&mut rng));
    let wholesale = rng.gen_bool(0.1);
    let n_themes = catalog.themes.len();
    let favourites: Vec<usize> = (0..3).map(|_| rng.gen_range(0..n_themes)).collect();

    let mut orders = Vec::new();
    let mut history: Vec<u32> = Vec::new();
    let mut at = (rng.r#gen::<f64>() * 0.85 * horizon as f64) as i64;
    let peak = 1.7;
    let gap = Exp::new(rate * peak).map_err(|_| ()).ok();
    loop {
        let day_start = at - at.rem_euclid(86_400);
        let ts = day_start + rng.gen_range(8 * 3600..18 * 3600);
        let size = 1 + Poisson::new(basket_mean).map_or(2.0f64, |p| p.sample(&mut rng)) as usize;
        let mut lines: Vec<Line> = Vec::with_capacity(size);
        let month = (params.start + chrono::Duration::days(ts / 86_400)).month();
        for _ in 0..size {
            let product = if !history.is_empty() && rng.gen_bool(0.35) {
                history[rng.gen_range(0..history.len())] as usize
            } else {
                let seasonal = catalog.themes.iter().position(|t| t.peak_month == month);
                let theme = match seasonal {
                    Some(t) if rng.gen_bool(0.25) => t,
                    _ if rng.gen_bool(0.8) => favourites[rng.gen_range(0..favourites.len())],
                    _ => rng.gen_range(0..n_themes),
                };
                catalog.pick(theme, &mut rng)
            };
            if lines.iter().any(|l| l.product as usize == product) {
                continue;
            }
            let mut quantity = QUANTITIES[rng.gen_range(0..QUANTITIES.len())];
            if wholesale {
                quantity *= 6;
            }
            let base = catalog.products[product].price_cents;
            let price_cents = if rng.gen_bool(0.002) {
                0
            } else if rng.gen_bool(0.1) {
                (f64::from(base) * 0.85).round() as u32
            } else {
                base
            };
            lines.push(Line {
                product: product as u32,
                quantity,
                price_cents,
            });
        }
        history.extend(lines.iter().map(|l| l.product));
        let guest = rng.gen_bool(0.03);
        let postage = country != "United Kingdom" && rng.gen_bool(0.5);
        if rng.gen_bool(0.015) {
            let cancelled = lines
                .iter()
                .filter(|_| rng.gen_bool(0.7))
                .map(|l| Line {
                    product: l.product,
                    quantity: -l.quantity,
                    price_cents: l.price_cents,
                })
                .collect::<Vec<_>>();
            if !cancelled.is_empty() {
                orders.push(Order {
                    customer: index,
                    at: ts + rng.gen_range(600..48 * 3600),
                    kind: OrderType::Cancellation,
                    guest: false,
                    postage: false,
                    lines: cancelled,
                });
            }
        }
        for l in &lines {
            if rng.gen_bool(0.01) {
                orders.push(Order {
                    customer: index,
                    at: ts + rng.gen_range(5 * 86_400..30 * 86_400),
                    kind: OrderType::Return,
                    guest: false,
                    postage: false,
                    lines: vec![Line {
                        product: l.product,
                        quantity: -l.quantity.min(rng.gen_range(1..=3)),
                        price_cents: l.price_cents,
                    }],
                });
            }
        }
        orders.push(Order {
            customer: index,
            at: ts,
            kind: OrderType::Sale,
            guest,
            postage,
            lines,
        });
        if rng.gen_bool(dropout) {
            break;
        }
        // Thinning: candidate gaps at the peak rate, accepted with the season's share of it.
        let Some(gap) = &gap else { break };
        loop {
            at += (gap.sample(&mut rng) * 86_400.0) as i64 + 1;
            if at >= horizon || rng.r#gen::<f64>() < season(params, at) / peak {
                break;
            }
        }
        if at >= horizon {
            break;
        }
    }
    orders.retain(|o| o.at < horizon);
    (country.to_string(), orders)
}

/// Customers simulated and turned into rows at a time: `generate` holds one such chunk's rows
/// (about 24 lines per customer) and one 16-byte key per order of all customers, whatever the
/// customer count. The rows are the same for any chunk size, in another order.
pub const CHUNK_CUSTOMERS: u32 = 200_000;

/// What sorts an order among all orders: invoice numbers follow time, as in a real shop system.
type OrderKey = (i64, u32, u8);

fn key(o: &Order) -> OrderKey {
    (o.at, o.customer, o.kind as u8)
}

/// Simulates the purchases of `params.customers` customers as an input-contract table.
pub fn generate(params: &GenerateParams) -> Result<DataFrame> {
    let mut parts = Vec::new();
    generate_each(params, CHUNK_CUSTOMERS, |part| {
        parts.push(part);
        Ok(())
    })?;
    crate::engine::stack(parts)
}

/// Simulates the purchases in chunks of `chunk_customers` customers and hands each chunk's
/// rows (sorted by time within the chunk) to `emit`; returns the rows emitted. With more than
/// one chunk, every customer is simulated twice (once for the order keys that number the
/// invoices, once for the rows): the same customer seed gives the same orders.
pub fn generate_each(
    params: &GenerateParams,
    chunk_customers: u32,
    mut emit: impl FnMut(DataFrame) -> Result<()>,
) -> Result<usize> {
    params.check()?;
    let mut catalog_rng = ChaCha8Rng::seed_from_u64(mix(params.seed));
    let catalog = Catalog::new(&mut catalog_rng);
    let n = params.customers as u32;
    let chunks: Vec<std::ops::Range<u32>> = (0..n)
        .step_by(chunk_customers.max(1) as usize)
        .map(|start| start..(start.saturating_add(chunk_customers.max(1))).min(n))
        .collect();
    let simulate = |range: std::ops::Range<u32>| -> Vec<(String, Vec<Order>)> {
        range
            .into_par_iter()
            .map(|i| simulate_customer(i, params, &catalog))
            .collect()
    };
    let mut first = None;
    let mut keys: Vec<OrderKey> = Vec::new();
    for range in &chunks {
        let simulated = simulate(range.clone());
        keys.extend(
            simulated
                .iter()
                .flat_map(|(_, orders)| orders.iter().map(key)),
        );
        if chunks.len() == 1 {
            first = Some(simulated);
        }
    }
    keys.par_sort_unstable();
    let mut rows = 0;
    for range in &chunks {
        let simulated = match first.take() {
            Some(simulated) => simulated,
            None => simulate(range.clone()),
        };
        let part = chunk_rows(params, &catalog, &keys, range.start, simulated)?;
        rows += part.height();
        emit(part)?;
    }
    Ok(rows)
}

/// The rows of one chunk of customers (the first is `first`), numbered by `keys`.
fn chunk_rows(
    params: &GenerateParams,
    catalog: &Catalog,
    keys: &[OrderKey],
    first: u32,
    simulated: Vec<(String, Vec<Order>)>,
) -> Result<DataFrame> {
    let countries: Vec<String> = simulated.iter().map(|(c, _)| c.clone()).collect();
    let mut orders: Vec<Order> = simulated.into_iter().flat_map(|(_, o)| o).collect();
    orders.par_sort_by_key(key);

    let rows: usize = orders
        .iter()
        .map(|o| o.lines.len() + usize::from(o.postage))
        .sum();
    let mut customer_id: Vec<Option<String>> = Vec::with_capacity(rows);
    let mut order_id: Vec<String> = Vec::with_capacity(rows);
    let mut order_ts: Vec<i64> = Vec::with_capacity(rows);
    let mut product_id: Vec<&str> = Vec::with_capacity(rows);
    let mut product_name: Vec<&str> = Vec::with_capacity(rows);
    let mut quantity: Vec<i32> = Vec::with_capacity(rows);
    let mut unit_price: Vec<f64> = Vec::with_capacity(rows);
    let mut country: Vec<&str> = Vec::with_capacity(rows);
    let start_us = crate::features::epoch_days(params.start) as i64 * 86_400_000_000;
    // Orders with equal keys are one customer's, so all in this chunk: the n-th of them takes
    // the n-th number after those of all earlier keys.
    let mut previous: Option<(OrderKey, usize)> = None;
    for o in &orders {
        let k = key(o);
        let n = match previous {
            Some((p, n)) if p == k => n + 1,
            _ => keys.partition_point(|x| *x < k),
        };
        previous = Some((k, n));
        let invoice = 500_000 + n;
        // Which lines an export duplicated: drawn per order, so the same whatever the chunks.
        let mut dup_rng = ChaCha8Rng::seed_from_u64(mix(params.seed ^ 0xD0B1 ^ mix(n as u64)));
        let id = match o.kind {
            OrderType::Cancellation => format!("C{invoice}"),
            _ => invoice.to_string(),
        };
        let customer = (!o.guest).then(|| format!("{:06}", o.customer + 1));
        let postage = o.postage.then_some(Line {
            product: u32::MAX,
            quantity: 1,
            price_cents: POSTAGE_CENTS,
        });
        for l in o.lines.iter().chain(postage.iter()) {
            let copies = if dup_rng.gen_bool(0.003) { 2 } else { 1 };
            for _ in 0..copies {
                customer_id.push(customer.clone());
                order_id.push(id.clone());
                order_ts.push(start_us + o.at * 1_000_000);
                if l.product == u32::MAX {
                    product_id.push("POST");
                    product_name.push("POSTAGE");
                } else {
                    let p = &catalog.products[l.product as usize];
                    product_id.push(&p.id);
                    product_name.push(&p.name);
                }
                quantity.push(l.quantity);
                unit_price.push(f64::from(l.price_cents) / 100.0);
                country.push(&countries[(o.customer - first) as usize]);
            }
        }
    }
    let height = order_id.len();
    let ts = Int64Chunked::from_vec(input::ORDER_DATE.into(), order_ts)
        .into_datetime(TimeUnit::Microseconds, None)
        .into_column();
    let table = DataFrame::new(
        height,
        vec![
            Column::new(input::CUSTOMER_ID.into(), customer_id),
            Column::new(input::ORDER_ID.into(), order_id),
            ts,
            Column::new(input::PRODUCT_ID.into(), product_id),
            Column::new(input::PRODUCT_NAME.into(), product_name),
            Column::new(input::QUANTITY.into(), quantity),
            Column::new(input::UNIT_PRICE.into(), unit_price),
            Column::new(input::COUNTRY.into(), country),
        ],
    )?;
    Ok(table)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(table: DataFrame) -> DataFrame {
        let names: Vec<String> = table
            .get_column_names()
            .iter()
            .map(|n| n.to_string())
            .collect();
        table.sort(names, SortMultipleOptions::default()).unwrap()
    }

    #[test]
    fn chunks_of_customers_give_the_same_rows_as_one_table() {
        let params = GenerateParams {
            customers: 60,
            seed: 9,
            start: NaiveDate::from_ymd_opt(2023, 1, 1).unwrap(),
            days: 400,
        };
        let whole = generate(&params).unwrap();
        let mut parts = Vec::new();
        let rows = generate_each(&params, 7, |part| {
            parts.push(part);
            Ok(())
        })
        .unwrap();
        assert_eq!(parts.len(), 9);
        assert_eq!(rows, whole.height());
        let chunked = crate::engine::stack(parts).unwrap();
        assert!(sorted(chunked).equals_missing(&sorted(whole)));
    }
}
