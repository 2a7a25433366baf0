//! Dense integer codes for customers, orders and products, assigned once after cleaning so that
//! every later group-by runs on integers instead of hashing text again. Codes follow the sorted
//! text (customer ids, then order keys within a customer, product ids), never the order in which
//! rows arrive: the same set of lines gives the same codes however it is ordered or split.

use polars::prelude::*;

use crate::clean::LineKind;
use crate::schema::line;

/// Code → text, in code order.
pub type Dictionary = StringChunked;

/// Codes in order of first appearance; missing text stays missing. Hashing in arrival order is
/// the fast pass; [`sorted`] then renumbers the codes in text order.
fn dense_codes<'a>(
    values: impl Iterator<Item = Option<&'a str>>,
) -> (Vec<Option<u32>>, Vec<&'a str>) {
    let mut index: PlHashMap<&str, u32> = PlHashMap::default();
    let mut dictionary = Vec::new();
    // Exports list a customer's or an order's lines together: a value equal to the previous
    // row's takes its code without hashing.
    let mut last: Option<(&str, u32)> = None;
    let codes = values
        .map(|v| {
            v.map(|text| match last {
                Some((previous, code)) if previous == text => code,
                _ => {
                    let code = *index.entry(text).or_insert_with(|| {
                        dictionary.push(text);
                        (dictionary.len() - 1) as u32
                    });
                    last = Some((text, code));
                    code
                }
            })
        })
        .collect();
    (codes, dictionary)
}

/// Renumbers `codes` so that code order is the order of `keys` (one per code, distinct): returns
/// the keys sorted and, per old code, its new one.
fn sorted<K: Ord + Copy>(keys: &[K]) -> (Vec<K>, Vec<u32>) {
    let mut order: Vec<u32> = (0..keys.len() as u32).collect();
    order.sort_unstable_by_key(|&i| keys[i as usize]);
    let mut new_code = vec![0u32; keys.len()];
    for (new, &old) in order.iter().enumerate() {
        new_code[old as usize] = new as u32;
    }
    (order.iter().map(|&i| keys[i as usize]).collect(), new_code)
}

fn renumber(codes: &mut [Option<u32>], new_code: &[u32]) {
    for code in codes.iter_mut().flatten() {
        *code = new_code[*code as usize];
    }
}

/// Per (product code, name), the purchase lines that name the product so: the evidence of
/// [`best_names`], which adds up over shards.
fn name_counts(
    codes: &[Option<u32>],
    names: &StringChunked,
    kinds: &Int32Chunked,
) -> Vec<(u32, String, u64)> {
    let purchase = LineKind::Purchase.code();
    let mut counts: PlHashMap<(u32, &str), u64> = PlHashMap::default();
    for ((code, name), kind) in codes.iter().zip(names.iter()).zip(kinds.iter()) {
        if let (Some(code), Some(name), Some(kind)) = (code, name, kind)
            && kind == purchase
        {
            *counts.entry((*code, name)).or_default() += 1;
        }
    }
    let mut out: Vec<(u32, String, u64)> = counts
        .into_iter()
        .map(|((code, name), n)| (code, name.to_string(), n))
        .collect();
    out.sort_unstable();
    out
}

/// Per product code, the name its purchase lines give most often (ties: the smallest text), so
/// that the name does not depend on which line came first; missing where no purchase line names it.
fn best_names(counts: &[(u32, String, u64)], n_products: usize) -> Vec<Option<String>> {
    let mut best: Vec<Option<(u64, &str)>> = vec![None; n_products];
    for (code, name, n) in counts {
        let slot = &mut best[*code as usize];
        let better = match slot {
            None => true,
            Some((m, other)) => *n > *m || (*n == *m && name.as_str() < *other),
        };
        if better {
            *slot = Some((*n, name));
        }
    }
    best.into_iter()
        .map(|b| b.map(|(_, name)| name.to_string()))
        .collect()
}

/// A fingerprint of the multiset of lines: the wrapping sum of each line's xxh3-128 over its
/// values (customer id, order key, product id and name, time, quantity, price, value, kind). A
/// sum does not depend on the order of its terms, so the same lines give the same fingerprint
/// however they are ordered or split over files, and partial sums of shards add up to it.
pub fn content_fingerprint(lines: &DataFrame) -> PolarsResult<u128> {
    let text =
        |name: &str| -> PolarsResult<StringChunked> { Ok(lines.column(name)?.str()?.clone()) };
    let float = |name: &str| -> PolarsResult<Float64Chunked> {
        Ok(lines.column(name)?.cast(&DataType::Float64)?.f64()?.clone())
    };
    let (customers, orders, products, names) = (
        text(line::CUSTOMER_ID)?,
        text(line::ORDER_KEY)?,
        text(line::PRODUCT_ID)?,
        text(line::PRODUCT_NAME)?,
    );
    let times = lines
        .column(line::ORDER_TS)?
        .to_physical_repr()
        .cast(&DataType::Int64)?;
    let times = times.i64()?;
    let (quantities, prices, values) = (
        float(line::QUANTITY)?,
        float(line::UNIT_PRICE)?,
        float(line::LINE_VALUE)?,
    );
    let kinds = lines.column(line::KIND)?.i32()?.clone();
    let mut buffer = Vec::with_capacity(128);
    let mut sum = 0u128;
    // Zipped iterators, not `get(i)`: a table read from CSV has many chunks, and each `get`
    // searches them from the first (12 M gzip CSV rows took 300 s here instead of 2).
    let text = customers
        .iter()
        .zip(orders.iter())
        .zip(products.iter())
        .zip(names.iter());
    let numbers = times
        .iter()
        .zip(quantities.iter())
        .zip(prices.iter())
        .zip(values.iter())
        .zip(kinds.iter());
    for ((((customer, order), product), name), ((((time, quantity), price), value), kind)) in
        text.zip(numbers)
    {
        buffer.clear();
        for value in [customer, order, product, name] {
            // A marker byte tells a missing value from an empty one; the length ends the text.
            match value {
                Some(v) => {
                    buffer.push(1);
                    buffer.extend_from_slice(&(v.len() as u64).to_le_bytes());
                    buffer.extend_from_slice(v.as_bytes());
                }
                None => buffer.push(0),
            }
        }
        buffer.extend_from_slice(&time.unwrap_or(i64::MIN).to_le_bytes());
        for value in [quantity, price, value] {
            buffer.extend_from_slice(&value.map_or(u64::MAX, f64::to_bits).to_le_bytes());
        }
        buffer.extend_from_slice(&kind.unwrap_or(-1).to_le_bytes());
        sum = sum.wrapping_add(xxhash_rust::xxh3::xxh3_128(&buffer));
    }
    Ok(sum)
}

/// The dictionaries of [`encode`].
pub struct Dictionaries {
    /// `customer_ix` → `customer_id`, in code order.
    pub customers: DataFrame,
    /// `product_ix` → `product_id` and `product_name` (the name its purchase lines give most
    /// often, ties to the smallest; missing if none), in code order.
    pub products: DataFrame,
    /// Orders of each customer, by customer code: order codes run through each customer's
    /// orders in turn.
    pub orders_per_customer: Vec<u32>,
    /// Purchase lines per (product code, name), for [`merge`].
    pub name_counts: Vec<(u32, String, u64)>,
}

impl Dictionaries {
    /// The dictionaries of customer and product ids in code order.
    fn new(
        customer_ids: Vec<&str>,
        product_ids: Vec<&str>,
        product_names: Vec<Option<String>>,
        orders_per_customer: Vec<u32>,
        name_counts: Vec<(u32, String, u64)>,
    ) -> PolarsResult<Dictionaries> {
        let codes = |n: usize| (0..n as u32).collect::<Vec<u32>>();
        Ok(Dictionaries {
            customers: DataFrame::new(
                customer_ids.len(),
                vec![
                    Column::new(line::CUSTOMER_IX.into(), codes(customer_ids.len())),
                    Column::new(line::CUSTOMER_ID.into(), customer_ids),
                ],
            )?,
            products: DataFrame::new(
                product_ids.len(),
                vec![
                    Column::new(line::PRODUCT_IX.into(), codes(product_ids.len())),
                    Column::new(line::PRODUCT_ID.into(), product_ids),
                    Column::new(line::PRODUCT_NAME.into(), product_names),
                ],
            )?,
            orders_per_customer,
            name_counts,
        })
    }
}

/// Adds `customer_ix`, `order_ix` (one per customer and order key) and `product_ix` to the line
/// table, returns their dictionaries and drops the text columns they replace: later stages read
/// the codes only, and per-line text is most of the table's memory (on 12 M lines, about 1 GB).
pub fn encode(lines: &mut DataFrame) -> PolarsResult<Dictionaries> {
    let customers = lines.column(line::CUSTOMER_ID)?.str()?.clone();
    let orders = lines.column(line::ORDER_KEY)?.str()?.clone();
    let products = lines.column(line::PRODUCT_ID)?.str()?.clone();
    let names = lines.column(line::PRODUCT_NAME)?.str()?.clone();
    let kinds = lines.column(line::KIND)?.i32()?.clone();
    // Products are independent of the other two: encode them on the other core.
    let ((customer_codes, customer_ids, order_codes), (product_codes, product_ids, product_names)) =
        rayon::join(
            || {
                let (mut customer_codes, customer_ids) = dense_codes(customers.iter());
                let (customer_ids, new_customer) = sorted(&customer_ids);
                renumber(&mut customer_codes, &new_customer);
                let mut order_index: PlHashMap<(u32, &str), u32> = PlHashMap::default();
                let mut order_keys: Vec<(u32, &str)> = Vec::new();
                let mut last: Option<((u32, &str), u32)> = None;
                let mut order_codes: Vec<Option<u32>> = customer_codes
                    .iter()
                    .zip(orders.iter())
                    .map(|(c, o)| match (c, o) {
                        (Some(c), Some(o)) => Some(match last {
                            Some((previous, code)) if previous == (*c, o) => code,
                            _ => {
                                let code = *order_index.entry((*c, o)).or_insert_with(|| {
                                    order_keys.push((*c, o));
                                    (order_keys.len() - 1) as u32
                                });
                                last = Some(((*c, o), code));
                                code
                            }
                        }),
                        _ => None,
                    })
                    .collect();
                let (_, new_order) = sorted(&order_keys);
                renumber(&mut order_codes, &new_order);
                let mut orders_per_customer = vec![0u32; customer_ids.len()];
                for (c, _) in &order_keys {
                    orders_per_customer[*c as usize] += 1;
                }
                (
                    customer_codes,
                    customer_ids,
                    (order_codes, orders_per_customer),
                )
            },
            || {
                let (mut product_codes, product_ids) = dense_codes(products.iter());
                let (product_ids, new_product) = sorted(&product_ids);
                renumber(&mut product_codes, &new_product);
                let counts = name_counts(&product_codes, &names, &kinds);
                let product_names = best_names(&counts, product_ids.len());
                (product_codes, product_ids, (product_names, counts))
            },
        );
    let (order_codes, orders_per_customer) = order_codes;
    let (product_names, name_counts) = product_names;

    let dictionaries = Dictionaries::new(
        customer_ids,
        product_ids,
        product_names,
        orders_per_customer,
        name_counts,
    )?;
    lines.with_column(Column::new(line::CUSTOMER_IX.into(), customer_codes))?;
    lines.with_column(Column::new(line::ORDER_IX.into(), order_codes))?;
    lines.with_column(Column::new(line::PRODUCT_IX.into(), product_codes))?;
    for text in [
        line::CUSTOMER_ID,
        line::ORDER_KEY,
        line::PRODUCT_ID,
        line::PRODUCT_NAME,
    ] {
        lines.drop_in_place(text)?;
    }
    Ok(dictionaries)
}

/// From a shard's codes to those of the whole input.
#[derive(Debug, Default)]
pub struct Recode {
    pub customer: Vec<u32>,
    pub order: Vec<u32>,
    pub product: Vec<u32>,
}

impl Recode {
    /// Replaces the shard's codes in `lines` by the whole input's.
    pub fn apply(&self, lines: &mut DataFrame) -> PolarsResult<()> {
        for (name, map) in [
            (line::CUSTOMER_IX, &self.customer),
            (line::ORDER_IX, &self.order),
            (line::PRODUCT_IX, &self.product),
        ] {
            let codes: UInt32Chunked = lines
                .column(name)?
                .u32()?
                .iter()
                .map(|c| c.map(|c| map[c as usize]))
                .collect();
            lines.with_column(codes.with_name(name.into()).into_column())?;
        }
        Ok(())
    }
}

/// The dictionaries of the whole input from those of its shards (each customer in one shard),
/// and per shard the recoding of its lines: codes follow the sorted text, as if the whole input
/// had been encoded at once.
pub fn merge(parts: &[Dictionaries]) -> PolarsResult<(Dictionaries, Vec<Recode>)> {
    let mut recodes: Vec<Recode> = parts.iter().map(|_| Recode::default()).collect();
    // Customers: each shard's are sorted and the shards' are disjoint.
    let mut customers: Vec<(&str, usize, u32)> = Vec::new();
    for (p, part) in parts.iter().enumerate() {
        let ids = part.customers.column(line::CUSTOMER_ID)?.str()?;
        customers.extend(
            ids.iter()
                .enumerate()
                .map(|(i, id)| (id.unwrap_or_default(), p, i as u32)),
        );
        recodes[p].customer = vec![0; ids.len()];
    }
    customers.sort_unstable();
    let mut customer_ids: Vec<&str> = Vec::with_capacity(customers.len());
    let mut orders_per_customer: Vec<u32> = Vec::with_capacity(customers.len());
    for &(id, p, local) in &customers {
        recodes[p].customer[local as usize] = customer_ids.len() as u32;
        customer_ids.push(id);
        orders_per_customer.push(parts[p].orders_per_customer[local as usize]);
    }
    // Orders: the whole input's codes run through the customers in code order.
    let mut first_order = Vec::with_capacity(orders_per_customer.len());
    let mut next = 0u32;
    for n in &orders_per_customer {
        first_order.push(next);
        next += n;
    }
    for (part, recode) in parts.iter().zip(recodes.iter_mut()) {
        let mut order = Vec::new();
        for (local, n) in part.orders_per_customer.iter().enumerate() {
            let base = first_order[recode.customer[local] as usize];
            order.extend(base..base + n);
        }
        recode.order = order;
    }
    // Products: in several shards each.
    let mut products: Vec<(&str, usize, u32)> = Vec::new();
    for (p, part) in parts.iter().enumerate() {
        let ids = part.products.column(line::PRODUCT_ID)?.str()?;
        products.extend(
            ids.iter()
                .enumerate()
                .map(|(i, id)| (id.unwrap_or_default(), p, i as u32)),
        );
        recodes[p].product = vec![0; ids.len()];
    }
    products.sort_unstable();
    let mut product_ids: Vec<&str> = Vec::new();
    for &(id, p, local) in &products {
        if product_ids.last() != Some(&id) {
            product_ids.push(id);
        }
        recodes[p].product[local as usize] = (product_ids.len() - 1) as u32;
    }
    let mut name_counts: PlHashMap<(u32, &str), u64> = PlHashMap::default();
    for (part, recode) in parts.iter().zip(&recodes) {
        for (code, name, n) in &part.name_counts {
            *name_counts
                .entry((recode.product[*code as usize], name.as_str()))
                .or_default() += n;
        }
    }
    let mut name_counts: Vec<(u32, String, u64)> = name_counts
        .into_iter()
        .map(|((code, name), n)| (code, name.to_string(), n))
        .collect();
    name_counts.sort_unstable();
    let product_names = best_names(&name_counts, product_ids.len());
    let dictionaries = Dictionaries::new(
        customer_ids,
        product_ids,
        product_names,
        orders_per_customer,
        name_counts,
    )?;
    Ok((dictionaries, recodes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_sorted_text_and_names_come_from_purchases() {
        let purchase = LineKind::Purchase.code();
        let ret = LineKind::Return.code();
        let mut lines = df!(
            line::CUSTOMER_ID => ["b", "a", "b", "a", "b"],
            line::ORDER_KEY => ["3", "2", "1", "2", "3"],
            line::PRODUCT_ID => [Some("P2"), Some("P1"), Some("P2"), None, Some("P2")],
            line::PRODUCT_NAME => [Some("Mug (returned)"), None, Some("Mug"), Some("Jug"), Some("Cup")],
            line::KIND => [ret, purchase, purchase, purchase, purchase],
        )
        .unwrap();
        let d = encode(&mut lines).unwrap();
        let u32s = |name: &str| -> Vec<Option<u32>> {
            lines.column(name).unwrap().u32().unwrap().iter().collect()
        };
        // a < b; orders (a, 2) < (b, 1) < (b, 3); P1 < P2.
        assert_eq!(
            u32s(line::CUSTOMER_IX),
            [Some(1), Some(0), Some(1), Some(0), Some(1)]
        );
        assert_eq!(
            u32s(line::ORDER_IX),
            [Some(2), Some(0), Some(1), Some(0), Some(2)]
        );
        assert_eq!(
            u32s(line::PRODUCT_IX),
            [Some(1), Some(0), Some(1), None, Some(1)]
        );
        let text = |df: &DataFrame, name: &str| -> Vec<Option<String>> {
            let values = df.column(name).unwrap().str().unwrap().clone();
            values.iter().map(|v| v.map(str::to_string)).collect()
        };
        assert_eq!(
            text(&d.customers, line::CUSTOMER_ID),
            [Some("a".into()), Some("b".into())]
        );
        assert_eq!(
            text(&d.products, line::PRODUCT_ID),
            [Some("P1".into()), Some("P2".into())]
        );
        // P2's purchase lines name it "Mug" and "Cup" once each (the return does not count): the
        // tie goes to the smaller text. P1 was bought unnamed.
        assert_eq!(
            text(&d.products, line::PRODUCT_NAME),
            [None, Some("Cup".into())]
        );
        // The text the codes replace is gone from the lines.
        for name in [
            line::CUSTOMER_ID,
            line::ORDER_KEY,
            line::PRODUCT_ID,
            line::PRODUCT_NAME,
        ] {
            assert!(lines.column(name).is_err(), "{name} still in the lines");
        }
    }

    #[test]
    fn codes_and_names_do_not_depend_on_row_order() {
        let purchase = LineKind::Purchase.code();
        let make = |order: &[usize]| {
            let c = ["x", "y", "x", "z", "y", "x"];
            let o = ["1", "2", "3", "4", "2", "1"];
            let p = ["B", "A", "B", "C", "B", "A"];
            let n = ["b1", "a", "b2", "c", "b2", "a"];
            let pick = |v: &[&'static str]| order.iter().map(|&i| v[i]).collect::<Vec<_>>();
            let mut lines = df!(
                line::CUSTOMER_ID => pick(&c),
                line::ORDER_KEY => pick(&o),
                line::PRODUCT_ID => pick(&p),
                line::PRODUCT_NAME => pick(&n),
                line::KIND => vec![purchase; order.len()],
            )
            .unwrap();
            let d = encode(&mut lines).unwrap();
            // Per original row: its codes.
            let mut rows: Vec<(usize, Vec<Option<u32>>)> = order
                .iter()
                .enumerate()
                .map(|(at, &i)| {
                    let code = |name: &str| lines.column(name).unwrap().u32().unwrap().get(at);
                    (
                        i,
                        vec![
                            code(line::CUSTOMER_IX),
                            code(line::ORDER_IX),
                            code(line::PRODUCT_IX),
                        ],
                    )
                })
                .collect();
            rows.sort();
            (rows, d.customers, d.products)
        };
        let forward = make(&[0, 1, 2, 3, 4, 5]);
        let backward = make(&[5, 4, 3, 2, 1, 0]);
        let shuffled = make(&[3, 0, 5, 1, 4, 2]);
        assert_eq!(forward.0, backward.0);
        assert_eq!(forward.0, shuffled.0);
        assert!(forward.1.equals(&backward.1) && forward.1.equals(&shuffled.1));
        assert!(forward.2.equals_missing(&backward.2) && forward.2.equals_missing(&shuffled.2));
        // B is named b2 twice and b1 once.
        let names = forward
            .2
            .column(line::PRODUCT_NAME)
            .unwrap()
            .str()
            .unwrap()
            .clone();
        assert_eq!(names.get(1), Some("b2"));
    }
}
