//! Product suggestions: a co-purchase model (item-item similarity from baskets and from customers'
//! product sets) and per-customer lists: `repurchase` (their own products, by frequency and
//! recency) and `cross_sell` (products they never bought, from co-purchase with their history,
//! blended with recent popularity).

pub mod artifact;
pub mod copurchase;
pub mod evaluate;
pub mod flat;
pub mod history;
pub mod output;
pub mod suggest;

pub use copurchase::{CoPurchaseModel, CoPurchaseParams};
pub use flat::{ByCode, Flat};
pub use history::History;
pub use suggest::{Blend, Suggestions};

/// The co-purchase model with the history it was fitted on (or that it scores), its validated
/// blend and how the blend was chosen.
pub struct Suggester {
    pub model: CoPurchaseModel,
    pub history: History,
    pub blend: Blend,
    pub chosen_by: String,
}

/// Keeps the `k` first of `list` in the order `cmp`, sorted. `cmp` must be a total order on the
/// items (ours break score ties by product id, and a list never holds a product twice), so
/// selecting before sorting gives the same list as sorting everything, in less time.
pub(crate) fn keep_top<T>(
    list: &mut Vec<T>,
    k: usize,
    mut cmp: impl FnMut(&T, &T) -> std::cmp::Ordering,
) {
    if k == 0 {
        list.clear();
        return;
    }
    if list.len() > k {
        list.select_nth_unstable_by(k - 1, &mut cmp);
        list.truncate(k);
        // Lists are kept per customer: do not keep the room of every candidate.
        list.shrink_to_fit();
    }
    list.sort_unstable_by(cmp);
}

#[cfg(test)]
mod tests {
    use super::keep_top;

    #[test]
    fn keep_top_equals_sort_then_truncate() {
        // A fixed pseudo-random list with many score ties, broken by the (distinct) id.
        let list: Vec<(u32, u32)> = (0..500u32).map(|i| ((i * 7919) % 13, i)).collect();
        let cmp = |a: &(u32, u32), b: &(u32, u32)| b.0.cmp(&a.0).then(a.1.cmp(&b.1));
        for k in [0, 1, 5, 13, 499, 500, 800] {
            let mut expected = list.clone();
            expected.sort_by(cmp);
            expected.truncate(k);
            let mut got = list.clone();
            keep_top(&mut got, k, cmp);
            assert_eq!(got, expected, "k = {k}");
        }
    }
}
