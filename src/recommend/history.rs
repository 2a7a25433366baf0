//! What each customer bought before a date, and the baskets and popularity the model learns from.

use chrono::NaiveDate;
use polars::prelude::*;

use crate::clean::{LineKind, Transactions};
use crate::error::Result;
use crate::features::{day, epoch_days};
use crate::schema::line;

use super::{ByCode, Flat};

/// One product in a customer's history.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Owned {
    pub product: u32,
    /// Distinct orders with this product.
    pub orders: u32,
    /// Days between the last purchase of it and the as-of date.
    pub age_days: i32,
}

/// Purchase history before `as_of`, on the integer codes of [`crate::clean::encode`].
#[derive(Debug, Clone)]
pub struct History {
    pub as_of: NaiveDate,
    /// Indexed by `customer_ix`; products sorted by code. Empty for customers without products.
    pub customers: ByCode<Owned>,
    /// Distinct products of each order (sorted by code), orders with ≥ 1 product, in no
    /// particular order (every count made from them is exact, whatever their order); empty in a
    /// history built [`History::for_scoring`].
    pub baskets: Flat<u32>,
    /// Distinct buyers per product (`product_ix`) in the popularity window before `as_of`.
    pub recent_buyers: Vec<u32>,
    /// Per product code, its rank by first sale before `as_of` (earliest first, ties by id):
    /// which products a capped set keeps. A fact of the lines, not of their order.
    pub seniority: Vec<u32>,
    /// Text id and name of every product code.
    pub product_ids: Vec<String>,
    pub product_names: Vec<String>,
}

fn u32s(df: &DataFrame, name: &str) -> Result<Vec<u32>> {
    Ok(df
        .column(name)?
        .cast(&DataType::UInt32)?
        .u32()?
        .iter()
        .map(|v| v.unwrap_or(0))
        .collect())
}

impl History {
    /// The history with the baskets a co-purchase model is fitted on.
    pub fn build(tx: &Transactions, as_of: NaiveDate, popularity_days: i32) -> Result<History> {
        Self::build_with(tx, as_of, popularity_days, true)
    }

    /// The history that scoring with a saved model needs: no baskets (a third of the work).
    pub fn for_scoring(
        tx: &Transactions,
        as_of: NaiveDate,
        popularity_days: i32,
    ) -> Result<History> {
        Self::build_with(tx, as_of, popularity_days, false)
    }

    /// Shard by shard: each customer's products come from their own shard, as do the baskets of
    /// their orders; buyer counts add up (a buyer is in one shard) and first sales take the
    /// earliest, so the history is the one of the whole table.
    fn build_with(
        tx: &Transactions,
        as_of: NaiveDate,
        popularity_days: i32,
        with_baskets: bool,
    ) -> Result<History> {
        let as_of_days = epoch_days(as_of);
        let n_customers = tx.customers.height();
        let mut customers = ByCode::new(n_customers);
        let mut bought: Vec<u32> = Vec::new();
        let mut baskets: Flat<u32> = Flat::default();
        let mut recent: Vec<(u32, u32)> = Vec::new();
        let mut first_sold: Vec<(u32, i64)> = Vec::new();
        tx.lines.each("purchase history", |lines| {
            let purchases = lines.clone().lazy().filter(
                col(line::KIND)
                    .eq(lit(LineKind::Purchase.code()))
                    .and(col(line::PRODUCT_IX).is_not_null()),
            );
            let codes = purchases
                .clone()
                .select([col(line::PRODUCT_IX)])
                .unique(None, UniqueKeepStrategy::Any)
                .collect()?;
            bought.extend(u32s(&codes, line::PRODUCT_IX)?);

            let before = purchases.filter(day().lt(lit(as_of_days)));
            // One u64 key (customer code, product code) groups and sorts several times faster
            // than the two u32 columns.
            let pair = (col(line::CUSTOMER_IX).cast(DataType::UInt64) * lit(1u64 << 32))
                + col(line::PRODUCT_IX).cast(DataType::UInt64);
            let owned = before
                .clone()
                .group_by([pair.alias("pair")])
                .agg([
                    col(line::ORDER_IX).n_unique().alias("orders"),
                    day().max().alias("last"),
                ])
                .sort(["pair"], SortMultipleOptions::default())
                .collect()?;
            let orders = u32s(&owned, "orders")?;
            let pairs = owned.column("pair")?.u64()?.rechunk();
            let pairs = pairs.cont_slice()?;
            let last = owned.column("last")?.i32()?.clone();
            // Sorted by customer, then product: one list per customer of this shard.
            let mut codes = Vec::new();
            let mut lists = Flat::with_capacity(pairs.len());
            let mut start = 0;
            for end in 1..=pairs.len() {
                let customer = |i: usize| (pairs[i] >> 32) as u32;
                if end == pairs.len() || customer(end) != customer(start) {
                    codes.push(customer(start));
                    lists.push((start..end).map(|i| Owned {
                        product: pairs[i] as u32,
                        orders: orders[i],
                        age_days: as_of_days - last.get(i).unwrap_or(as_of_days),
                    }));
                    start = end;
                }
            }
            customers.add_part(&codes, lists);
            if with_baskets {
                baskets.append(Self::baskets(before.clone())?);
            }
            let buyers = before
                .clone()
                .filter(day().gt_eq(lit(as_of_days - popularity_days)))
                .group_by([col(line::PRODUCT_IX)])
                .agg([col(line::CUSTOMER_IX).n_unique().alias("buyers")])
                .collect()?;
            recent.extend(
                u32s(&buyers, line::PRODUCT_IX)?
                    .into_iter()
                    .zip(u32s(&buyers, "buyers")?),
            );
            let first = before
                .group_by([col(line::PRODUCT_IX)])
                .agg([col(line::ORDER_TS).min().alias("first")])
                .collect()?;
            let firsts = first
                .column("first")?
                .to_physical_repr()
                .cast(&DataType::Int64)?;
            first_sold.extend(
                u32s(&first, line::PRODUCT_IX)?
                    .into_iter()
                    .zip(firsts.i64()?.iter().map(|t| t.unwrap_or(i64::MAX))),
            );
            Ok(())
        })?;

        // Products with a purchase: the codes below the highest of them are the model's products
        // (a code never bought keeps an empty id and name).
        bought.sort_unstable();
        bought.dedup();
        let n_products = bought.iter().max().map_or(0, |&m| m as usize + 1);
        let mut product_ids = vec![String::new(); n_products];
        let mut product_names = vec![String::new(); n_products];
        let ids = tx.products.column(line::PRODUCT_ID)?.str()?;
        let names = tx.products.column(line::PRODUCT_NAME)?.str()?;
        for &code in &bought {
            let i = code as usize;
            product_ids[i] = ids.get(i).unwrap_or_default().to_string();
            product_names[i] = names.get(i).unwrap_or_default().trim_end().to_string();
        }
        let mut first = vec![i64::MAX; n_products];
        for (p, t) in first_sold {
            let slot = &mut first[p as usize];
            *slot = (*slot).min(t);
        }
        let mut by_age: Vec<u32> = (0..n_products as u32).collect();
        by_age.sort_unstable_by(|&a, &b| {
            first[a as usize]
                .cmp(&first[b as usize])
                .then_with(|| product_ids[a as usize].cmp(&product_ids[b as usize]))
        });
        let mut seniority = vec![0u32; n_products];
        for (rank, &p) in by_age.iter().enumerate() {
            seniority[p as usize] = rank as u32;
        }
        let mut recent_buyers = vec![0u32; n_products];
        for (p, b) in recent {
            recent_buyers[p as usize] += b;
        }
        Ok(History {
            as_of,
            customers,
            baskets,
            recent_buyers,
            seniority,
            product_ids,
            product_names,
        })
    }

    /// Distinct products of each order, orders in code order. Products within a basket are in
    /// code order (product id order), not in the order of the input's lines: a basket capped at
    /// `max_set` keeps the same products however rows arrive.
    fn baskets(before: LazyFrame) -> Result<Flat<u32>> {
        let lines = before
            .select([col(line::ORDER_IX), col(line::PRODUCT_IX)])
            .unique(None, UniqueKeepStrategy::Any)
            .sort(
                [line::ORDER_IX, line::PRODUCT_IX],
                SortMultipleOptions::default(),
            )
            .collect()?;
        let (oix, pix) = (
            u32s(&lines, line::ORDER_IX)?,
            u32s(&lines, line::PRODUCT_IX)?,
        );
        let mut baskets = Flat::default();
        let mut start = 0;
        for end in 1..=oix.len() {
            if end == oix.len() || oix[end] != oix[start] {
                baskets.push(pix[start..end].iter().copied());
                start = end;
            }
        }
        Ok(baskets)
    }

    pub fn n_products(&self) -> usize {
        self.product_ids.len()
    }
}
