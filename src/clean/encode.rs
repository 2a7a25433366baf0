//! Dense integer codes for customers, orders and products, assigned once after cleaning so that
//! every later group-by runs on integers instead of hashing text again.

use polars::prelude::*;

use crate::schema::line;

/// Code → text, in code order.
pub type Dictionary = StringChunked;

/// Codes in order of first appearance; missing text stays missing.
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

/// Adds `customer_ix`, `order_ix` (one per customer and order key) and `product_ix` to the line
/// table and returns the customer dictionary (`customer_ix`, `customer_id`).
pub fn encode(lines: &mut DataFrame) -> PolarsResult<DataFrame> {
    let customers = lines.column(line::CUSTOMER_ID)?.str()?.clone();
    let orders = lines.column(line::ORDER_KEY)?.str()?.clone();
    let products = lines.column(line::PRODUCT_ID)?.str()?.clone();
    // Products are independent of the other two: encode them on the other core.
    let ((customer_codes, customer_ids, order_codes), (product_codes, _)) = rayon::join(
        || {
            let (customer_codes, customer_ids) = dense_codes(customers.iter());
            let mut order_index: PlHashMap<(u32, &str), u32> = PlHashMap::default();
            let order_codes: Vec<Option<u32>> = customer_codes
                .iter()
                .zip(orders.iter())
                .map(|(c, o)| match (c, o) {
                    (Some(c), Some(o)) => {
                        let next = order_index.len() as u32;
                        Some(*order_index.entry((*c, o)).or_insert(next))
                    }
                    _ => None,
                })
                .collect();
            (customer_codes, customer_ids, order_codes)
        },
        || dense_codes(products.iter()),
    );

    let dictionary = DataFrame::new(
        customer_ids.len(),
        vec![
            Column::new(
                line::CUSTOMER_IX.into(),
                (0..customer_ids.len() as u32).collect::<Vec<u32>>(),
            ),
            Column::new(line::CUSTOMER_ID.into(), customer_ids),
        ],
    )?;
    lines.with_column(Column::new(line::CUSTOMER_IX.into(), customer_codes))?;
    lines.with_column(Column::new(line::ORDER_IX.into(), order_codes))?;
    lines.with_column(Column::new(line::PRODUCT_IX.into(), product_codes))?;
    Ok(dictionary)
}
