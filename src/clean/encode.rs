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
    let codes = values
        .map(|v| {
            v.map(|text| {
                *index.entry(text).or_insert_with(|| {
                    dictionary.push(text);
                    (dictionary.len() - 1) as u32
                })
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

/// Per product code, the name its purchase lines give most often (ties: the smallest text), so
/// that the name does not depend on which line came first; missing where no purchase line names it.
fn product_names<'a>(
    codes: &[Option<u32>],
    names: &'a StringChunked,
    kinds: &Int32Chunked,
    n_products: usize,
) -> Vec<Option<&'a str>> {
    let purchase = LineKind::Purchase.code();
    let mut counts: PlHashMap<(u32, &str), u64> = PlHashMap::default();
    for ((code, name), kind) in codes.iter().zip(names.iter()).zip(kinds.iter()) {
        if let (Some(code), Some(name), Some(kind)) = (code, name, kind)
            && kind == purchase
        {
            *counts.entry((*code, name)).or_default() += 1;
        }
    }
    let mut best: Vec<Option<(u64, &str)>> = vec![None; n_products];
    for ((code, name), n) in counts {
        let slot = &mut best[code as usize];
        let better = match slot {
            None => true,
            Some((m, other)) => n > *m || (n == *m && name < *other),
        };
        if better {
            *slot = Some((n, name));
        }
    }
    best.into_iter().map(|b| b.map(|(_, name)| name)).collect()
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
                let mut order_codes: Vec<Option<u32>> = customer_codes
                    .iter()
                    .zip(orders.iter())
                    .map(|(c, o)| match (c, o) {
                        (Some(c), Some(o)) => {
                            Some(*order_index.entry((*c, o)).or_insert_with(|| {
                                order_keys.push((*c, o));
                                (order_keys.len() - 1) as u32
                            }))
                        }
                        _ => None,
                    })
                    .collect();
                let (_, new_order) = sorted(&order_keys);
                renumber(&mut order_codes, &new_order);
                (customer_codes, customer_ids, order_codes)
            },
            || {
                let (mut product_codes, product_ids) = dense_codes(products.iter());
                let (product_ids, new_product) = sorted(&product_ids);
                renumber(&mut product_codes, &new_product);
                let product_names =
                    product_names(&product_codes, &names, &kinds, product_ids.len());
                (product_codes, product_ids, product_names)
            },
        );

    let codes = |n: usize| (0..n as u32).collect::<Vec<u32>>();
    let dictionaries = Dictionaries {
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
    };
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
