//! The co-purchase model: item-item similarity from co-occurrence in baskets and in customers'
//! product sets, down-weighted for large sets, shrunk toward zero for rare pairs.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::Flat;
use super::history::History;

/// How co-occurrence becomes similarity; the one that validates best is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Similarity {
    /// c / √(nₐ n_b)
    Cosine,
    /// P(b | a) = c / nₐ (asymmetric)
    Conditional,
    /// c · N / (nₐ n_b), N the weighted number of sets
    Lift,
}

impl Similarity {
    pub const ALL: [Similarity; 3] = [
        Similarity::Cosine,
        Similarity::Conditional,
        Similarity::Lift,
    ];
}

/// Parameters of the co-purchase model (saved with it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CoPurchaseParams {
    /// A basket or customer set counts at most this many products (a customer's most recent).
    pub max_set: usize,
    /// Shrinkage: a pair seen `c` times (weighted) keeps `c / (c + shrink)` of its similarity.
    pub shrink: f64,
    /// Neighbours kept per product.
    pub neighbours: usize,
    /// Also count co-occurrence within each customer's product set, not only within baskets.
    pub customer_sets: bool,
    /// Popularity counts distinct buyers over this many days before the as-of date.
    pub popularity_days: i32,
    pub similarity: Similarity,
}

impl Default for CoPurchaseParams {
    fn default() -> Self {
        CoPurchaseParams {
            max_set: 50,
            shrink: 10.0,
            neighbours: 100,
            customer_sets: true,
            popularity_days: 90,
            similarity: Similarity::Cosine,
        }
    }
}

/// One neighbour of a product.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Neighbour {
    pub product: u32,
    pub similarity: f32,
    /// Customers who bought both (within the capped sets).
    pub customers_together: u32,
}

#[derive(Debug, Clone)]
pub struct CoPurchaseModel {
    pub params: CoPurchaseParams,
    /// By product code, most similar first.
    pub neighbours: Vec<Vec<Neighbour>>,
    /// Distinct buyers per product code over the popularity window.
    pub recent_buyers: Vec<u32>,
    pub product_ids: Vec<String>,
    pub product_names: Vec<String>,
}

/// Weight of one set of `n` products: large sets (wholesale orders) say less about each pair.
fn set_weight(n: usize) -> f64 {
    1.0 / ((1 + n) as f64).log2()
}

/// Weights are summed as whole units of 2^-32 (exact integer addition, at most 2^-33 off per set):
/// a sum then depends only on which sets there are, not on their order, so it is the same
/// whatever the row order, the thread count, or how partial sums of shards are merged.
const WEIGHT_UNIT: f64 = 4_294_967_296.0;

fn weight_units(n: usize) -> u64 {
    (set_weight(n) * WEIGHT_UNIT).round() as u64
}

fn from_units(units: u64) -> f64 {
    units as f64 / WEIGHT_UNIT
}

/// Weighted occurrence per product, and weighted co-occurrence with raw counts per pair
/// (`a < b`, key `a << 32 | b`), from sets of distinct product codes.
///
/// Row by row, as a sparse product: for each product `a`, the sets holding it add their weight to
/// every later product in them, in a dense scratch row. That is the work of listing every pair
/// once, without holding and sorting them all (a customer with 1,800 products alone has 1.6 M
/// pairs). Sums are exact in [`WEIGHT_UNIT`]s, so they do not depend on the order of the sets.
pub fn cooccurrence(sets: &Flat<u32>, n_products: usize) -> (Vec<f64>, Vec<(u64, f64, u32)>) {
    debug_assert!(
        sets.iter().all(|set| set.is_sorted()),
        "sets must be sorted"
    );
    let weights: Vec<u64> = sets.iter().map(|set| weight_units(set.len())).collect();
    let mut occurrence = vec![0u64; n_products];
    // The sets holding each product, in set order, as one flat list.
    let mut holding_count = vec![0usize; n_products];
    for (set, &w) in sets.iter().zip(&weights) {
        for &p in set {
            occurrence[p as usize] += w;
            holding_count[p as usize] += 1;
        }
    }
    let holding: Flat<u32> = {
        let mut start = vec![0usize; n_products + 1];
        for p in 0..n_products {
            start[p + 1] = start[p] + holding_count[p];
        }
        let mut items = vec![0u32; start[n_products]];
        let mut fill = start.clone();
        for (i, set) in sets.iter().enumerate() {
            for &p in set {
                items[fill[p as usize]] = i as u32;
                fill[p as usize] += 1;
            }
        }
        Flat::from_parts(start, items)
    };
    drop(holding_count);
    let sorted = sets;
    let rows: Vec<Vec<(u64, f64, u32)>> = (0..n_products)
        .into_par_iter()
        .map_init(
            || (vec![0u64; n_products], vec![0u32; n_products], Vec::new()),
            |(sum, count, touched), a| {
                for &i in &holding[a] {
                    let (set, w) = (&sorted[i as usize], weights[i as usize]);
                    let after = set.partition_point(|&b| b as usize <= a);
                    for &b in &set[after..] {
                        let b = b as usize;
                        if count[b] == 0 {
                            touched.push(b);
                        }
                        sum[b] += w;
                        count[b] += 1;
                    }
                }
                touched.sort_unstable();
                let row = touched
                    .iter()
                    .map(|&b| (((a as u64) << 32) | b as u64, from_units(sum[b]), count[b]))
                    .collect();
                for &b in touched.iter() {
                    sum[b] = 0;
                    count[b] = 0;
                }
                touched.clear();
                row
            },
        )
        .collect();
    (
        occurrence.into_iter().map(from_units).collect(),
        rows.concat(),
    )
}

/// Shrunk cosine: `c / √(nₐ n_b) · c / (c + shrink)`.
pub fn similarity(together: f64, n_a: f64, n_b: f64, shrink: f64) -> f64 {
    directed(Similarity::Cosine, together, n_a, n_b, 0.0, shrink)
}

/// Similarity of b to a (for suggesting b to a buyer of a), shrunk by `c / (c + shrink)`.
pub fn directed(
    kind: Similarity,
    together: f64,
    n_a: f64,
    n_b: f64,
    sets: f64,
    shrink: f64,
) -> f64 {
    if n_a <= 0.0 || n_b <= 0.0 {
        return 0.0;
    }
    let raw = match kind {
        Similarity::Cosine => together / (n_a * n_b).sqrt(),
        Similarity::Conditional => together / n_a,
        Similarity::Lift => together * sets / (n_a * n_b),
    };
    raw * together / (together + shrink)
}

/// Weighted co-occurrence of one kind of product set (baskets, or customers' recent products).
#[derive(Debug, Clone)]
pub struct SetCounts {
    /// Σ set weight per product.
    pub occurrence: Vec<f64>,
    /// (pair key a < b, Σ set weight, sets together), sorted by key.
    pub pairs: Vec<(u64, f64, u32)>,
    /// Σ set weight over all sets.
    pub total: f64,
}

impl SetCounts {
    fn of(sets: &Flat<u32>, n_products: usize) -> SetCounts {
        let (occurrence, pairs) = cooccurrence(sets, n_products);
        SetCounts {
            occurrence,
            pairs,
            total: from_units(sets.iter().map(|s| weight_units(s.len())).sum()),
        }
    }
}

/// The counts every similarity is computed from: the expensive part of a fit.
#[derive(Debug, Clone)]
pub struct Counts {
    pub baskets: SetCounts,
    /// With `customer_sets`.
    pub customers: Option<SetCounts>,
}

impl Counts {
    /// Counts the history's baskets (and customers' recent products) as `params` say.
    pub fn of(history: &History, params: &CoPurchaseParams) -> Counts {
        let n = history.n_products();
        // Which products a set over `max_set` keeps, and which of a customer's products bought
        // on the same day come first: the longest-selling ones (first sale, then id), a fact of
        // the lines that no row order changes. (A hash of the id or the id order were measured
        // worse for cross-sell on Online Retail at all five backtest cutoffs.)
        let rank = &history.seniority;
        // Sets are kept sorted by code, as counting needs them.
        let cap = |set: &[u32]| -> Vec<u32> {
            let mut kept = set.to_vec();
            kept.sort_unstable_by_key(|&p| (rank[p as usize], p));
            kept.truncate(params.max_set);
            kept.sort_unstable();
            kept
        };
        // Baskets over `max_set` are rare: the history's are used as they are when none is.
        let capped: Option<Flat<u32>> = history
            .baskets
            .iter()
            .any(|b| b.len() > params.max_set)
            .then(|| {
                history
                    .baskets
                    .iter()
                    .map(|b| {
                        if b.len() > params.max_set {
                            cap(b)
                        } else {
                            b.to_vec()
                        }
                    })
                    .collect()
            });
        let baskets = capped.as_ref().unwrap_or(&history.baskets);
        let customers = params.customer_sets.then(|| {
            let sets: Flat<u32> = history
                .customers
                .iter()
                .filter(|owned| owned.len() > 1)
                .map(|owned| {
                    let mut recent: Vec<_> = owned.iter().collect();
                    recent.sort_by_key(|o| (o.age_days, rank[o.product as usize], o.product));
                    let mut kept: Vec<u32> = recent
                        .iter()
                        .take(params.max_set)
                        .map(|o| o.product)
                        .collect();
                    kept.sort_unstable();
                    kept
                })
                .collect();
            SetCounts::of(&sets, n)
        });
        Counts {
            baskets: SetCounts::of(baskets, n),
            customers,
        }
    }
}

impl CoPurchaseModel {
    pub fn fit(history: &History, params: &CoPurchaseParams) -> CoPurchaseModel {
        CoPurchaseModel::from_counts(history, &Counts::of(history, params), params)
    }

    /// The model for `params.similarity` from counts made with the same `max_set` and
    /// `customer_sets` (only the similarity may differ): trying similarities counts once.
    pub fn from_counts(
        history: &History,
        counts: &Counts,
        params: &CoPurchaseParams,
    ) -> CoPurchaseModel {
        let n = history.n_products();
        // (pair key a < b, similarity of b to a, of a to b, customers together), sorted by key.
        let scored_pairs = |c: &SetCounts, count_customers: bool| -> Vec<(u64, f64, f64, u32)> {
            let kind = params.similarity;
            c.pairs
                .iter()
                .map(|&(key, together, count)| {
                    let (a, b) = ((key >> 32) as usize, (key & 0xFFFF_FFFF) as usize);
                    let (na, nb) = (c.occurrence[a], c.occurrence[b]);
                    let ab = directed(kind, together, na, nb, c.total, params.shrink);
                    let ba = directed(kind, together, nb, na, c.total, params.shrink);
                    (key, ab, ba, if count_customers { count } else { 0 })
                })
                .collect()
        };
        let mut merged = scored_pairs(&counts.baskets, false);
        if let Some(customers) = &counts.customers {
            let by_customer = scored_pairs(customers, true);
            // Both lists are sorted by key: merge them, adding the two similarities.
            let mut out = Vec::with_capacity(merged.len() + by_customer.len());
            let (mut i, mut j) = (0, 0);
            while i < merged.len() || j < by_customer.len() {
                let take_left =
                    j >= by_customer.len() || (i < merged.len() && merged[i].0 < by_customer[j].0);
                let take_right =
                    i >= merged.len() || (j < by_customer.len() && by_customer[j].0 < merged[i].0);
                if take_left {
                    out.push(merged[i]);
                    i += 1;
                } else if take_right {
                    out.push(by_customer[j]);
                    j += 1;
                } else {
                    let (l, r) = (merged[i], by_customer[j]);
                    out.push((l.0, l.1 + r.1, l.2 + r.2, r.3));
                    i += 1;
                    j += 1;
                }
            }
            merged = out;
        }
        let mut scored: Vec<Vec<(u32, f64, u32)>> = vec![Vec::new(); n];
        for (key, ab, ba, customers) in merged {
            let (a, b) = ((key >> 32) as u32, (key & 0xFFFF_FFFF) as u32);
            scored[a as usize].push((b, ab, customers));
            scored[b as usize].push((a, ba, customers));
        }
        let ids = &history.product_ids;
        let neighbours = scored
            .into_par_iter()
            .map(|mut list| {
                super::keep_top(&mut list, params.neighbours, |x, y| {
                    y.1.total_cmp(&x.1)
                        .then_with(|| ids[x.0 as usize].cmp(&ids[y.0 as usize]))
                });
                list.into_iter()
                    .map(|(product, s, customers)| Neighbour {
                        product,
                        similarity: s as f32,
                        customers_together: customers,
                    })
                    .collect()
            })
            .collect();
        CoPurchaseModel {
            params: params.clone(),
            neighbours,
            recent_buyers: history.recent_buyers.clone(),
            product_ids: history.product_ids.clone(),
            product_names: history.product_names.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sets as counting takes them: each sorted.
    fn sorted(sets: &[Vec<u32>]) -> Flat<u32> {
        sets.iter()
            .map(|set| {
                let mut set = set.clone();
                set.sort_unstable();
                set
            })
            .collect()
    }

    #[test]
    fn cooccurrence_by_hand() {
        // Baskets {0,1,2}, {0,1}, {1,3}: weights 1/log2(4) = 0.5 and 1/log2(3) ≈ 0.631.
        let sets = sorted(&[vec![2, 0, 1], vec![1, 0], vec![1, 3]]);
        let (n, pairs) = cooccurrence(&sets, 4);
        let w3 = 0.5;
        let w2 = 1.0 / 3f64.log2();
        // Each set's weight is rounded to 2^-32: at most 2^-33 off per set.
        let eps = 3.0 * 2f64.powi(-33);
        assert!((n[0] - (w3 + w2)).abs() < eps);
        assert!((n[1] - (w3 + 2.0 * w2)).abs() < eps);
        assert!((n[3] - w2).abs() < eps);
        let get = |a: u64, b: u64| pairs.iter().find(|p| p.0 == (a << 32 | b)).copied();
        let (_, c01, k01) = get(0, 1).unwrap();
        assert!((c01 - (w3 + w2)).abs() < eps);
        assert_eq!(k01, 2);
        assert_eq!(get(1, 3).unwrap().2, 1);
        assert!(get(0, 3).is_none());
        assert_eq!(pairs.len(), 4); // 0-1, 0-2, 1-2, 1-3
        // Shrunk cosine of 0 and 1: c / √(n0 n1) · c / (c + 10).
        let s = similarity(c01, n[0], n[1], 10.0);
        let expected = c01 / (n[0] * n[1]).sqrt() * c01 / (c01 + 10.0);
        assert!((s - expected).abs() < 1e-15);
    }

    #[test]
    fn cooccurrence_lists_every_pair_of_every_set_once() {
        // Against the plain way: every pair of every set, summed in a map.
        use rand::{Rng, SeedableRng};
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let n_products = 60;
        let sets: Vec<Vec<u32>> = (0..300)
            .map(|_| {
                let size = rng.gen_range(1..25);
                let mut set: Vec<u32> = rand::seq::index::sample(&mut rng, n_products, size)
                    .into_iter()
                    .map(|p| p as u32)
                    .collect();
                set.reverse();
                set
            })
            .collect();
        let mut expected = std::collections::BTreeMap::new();
        for set in &sets {
            let w = set_weight(set.len());
            for &a in set {
                for &b in set {
                    if a < b {
                        let e = expected
                            .entry((u64::from(a) << 32) | u64::from(b))
                            .or_insert((0.0, 0));
                        e.0 += w;
                        e.1 += 1;
                    }
                }
            }
        }
        let (_, pairs) = cooccurrence(&sorted(&sets), n_products);
        assert_eq!(pairs.len(), expected.len());
        for ((key, sum, count), (k, (s, c))) in pairs.iter().zip(&expected) {
            assert_eq!((key, count), (k, c));
            assert!(
                (sum - s).abs() < *c as f64 * 2f64.powi(-33),
                "{key}: {sum} against {s}"
            );
        }
        // The same sets in another order give the same bits.
        let mut reversed = sets.clone();
        reversed.reverse();
        let (occurrence, again) = cooccurrence(&sorted(&reversed), n_products);
        assert_eq!(again, pairs);
        assert_eq!(occurrence, cooccurrence(&sorted(&sets), n_products).0);
    }
}
