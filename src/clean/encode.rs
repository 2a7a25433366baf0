//! Dense integer codes for customers, orders and products, assigned once after cleaning so that
//! every later group-by runs on integers instead of hashing text again.

use polars::prelude::*;

use crate::clean::LineKind;
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

/// The dictionaries of [`encode`].
pub struct Dictionaries {
    /// `customer_ix` → `customer_id`, in code order.
    pub customers: DataFrame,
    /// `product_ix` → `product_id` and `product_name` (the first name given on a purchase line
    /// of that product; missing if none), in code order.
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
            || {
                let (product_codes, product_ids) = dense_codes(products.iter());
                let mut product_names: Vec<Option<&str>> = vec![None; product_ids.len()];
                let purchase = LineKind::Purchase.code();
                for ((code, name), kind) in product_codes.iter().zip(names.iter()).zip(kinds.iter())
                {
                    if let (Some(code), Some(name), Some(kind)) = (code, name, kind) {
                        let slot = &mut product_names[*code as usize];
                        if kind == purchase && slot.is_none() {
                            *slot = Some(name);
                        }
                    }
                }
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
    fn codes_follow_first_appearance_and_names_come_from_purchases() {
        let purchase = LineKind::Purchase.code();
        let ret = LineKind::Return.code();
        let mut lines = df!(
            line::CUSTOMER_ID => ["b", "a", "b", "a"],
            line::ORDER_KEY => ["1", "2", "3", "2"],
            line::PRODUCT_ID => [Some("P2"), Some("P1"), Some("P2"), None],
            line::PRODUCT_NAME => [Some("Mug (returned)"), None, Some("Mug"), Some("Jug")],
            line::KIND => [ret, purchase, purchase, purchase],
        )
        .unwrap();
        let d = encode(&mut lines).unwrap();
        let u32s = |name: &str| -> Vec<Option<u32>> {
            lines.column(name).unwrap().u32().unwrap().iter().collect()
        };
        assert_eq!(
            u32s(line::CUSTOMER_IX),
            [Some(0), Some(1), Some(0), Some(1)]
        );
        assert_eq!(u32s(line::ORDER_IX), [Some(0), Some(1), Some(2), Some(1)]);
        assert_eq!(u32s(line::PRODUCT_IX), [Some(0), Some(1), Some(0), None]);
        let text = |df: &DataFrame, name: &str| -> Vec<Option<String>> {
            let values = df.column(name).unwrap().str().unwrap().clone();
            values.iter().map(|v| v.map(str::to_string)).collect()
        };
        assert_eq!(
            text(&d.customers, line::CUSTOMER_ID),
            [Some("b".into()), Some("a".into())]
        );
        assert_eq!(
            text(&d.products, line::PRODUCT_ID),
            [Some("P2".into()), Some("P1".into())]
        );
        // P2's first line is a return: its name is the first purchase's. P1 was bought unnamed.
        assert_eq!(
            text(&d.products, line::PRODUCT_NAME),
            [Some("Mug".into()), None]
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
}
