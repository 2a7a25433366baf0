//! Per-customer suggestions: `repurchase` from the customer's own history, `cross_sell` from
//! co-purchase with it (never a product they bought), and the combined list a customer would get.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::copurchase::CoPurchaseModel;
use super::history::Owned;

/// How scores are weighted and blended (chosen by validation, saved with the model).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Blend {
    /// A history product's weight in cross-sell decays as exp(−age / this many days).
    pub cross_tau_days: f64,
    /// Repurchase score: orders × exp(−age / this many days).
    pub repurchase_tau_days: f64,
    /// Weight of recent popularity (0-1 scaled) added to the 0-1 scaled co-purchase score.
    pub popularity_weight: f64,
    /// In the combined list, a cross-sell score (0-1) counts this much against a repurchase score (0-1).
    pub cross_weight: f64,
    /// Added to a repurchase score (scaled to 0-1) × the product's recent popularity (0-1):
    /// of a customer's own products, the ones in demand now come first.
    pub repurchase_popularity_weight: f64,
}

impl Default for Blend {
    fn default() -> Self {
        Blend {
            cross_tau_days: 365.0,
            repurchase_tau_days: 90.0,
            popularity_weight: 0.0,
            cross_weight: 0.5,
            repurchase_popularity_weight: 0.0,
        }
    }
}

/// Where a suggestion comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Repurchase,
    CoPurchase,
    Popular,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Suggestion {
    pub product: u32,
    pub score: f64,
    pub source: Source,
    /// Repurchase: the customer's orders with it. Co-purchase: the history product that contributed
    /// most and how many customers bought both.
    pub because: Option<(u32, u32)>,
}

/// Both lists of one customer.
#[derive(Debug, Clone, Default)]
pub struct Suggestions {
    pub repurchase: Vec<Suggestion>,
    pub cross_sell: Vec<Suggestion>,
}

/// Keeps the `k` best of `list`: highest score first, ties by product id.
fn rank_top(list: &mut Vec<Suggestion>, k: usize, ids: &[String]) {
    super::keep_top(list, k, |a, b| {
        b.score
            .total_cmp(&a.score)
            .then_with(|| ids[a.product as usize].cmp(&ids[b.product as usize]))
    });
}

/// A scratch entry no product has touched (contributions are never negative).
const UNTOUCHED: (f64, f64, u32, u32) = (0.0, -1.0, 0, 0);
/// A scratch entry of a product the customer owns: never a cross-sell candidate.
const OWNED: (f64, f64, u32, u32) = (0.0, -2.0, 0, 0);

thread_local! {
    /// Per-thread accumulator of [`CoPurchaseModel::cross_sell_scores`], one entry per product.
    static SCRATCH: std::cell::RefCell<Vec<(f64, f64, u32, u32)>> =
        const { std::cell::RefCell::new(Vec::new()) };
}

/// A cross-sell candidate: not bought by the customer and not blocked.
fn new_and_not_blocked(owned: &[Owned], blocked: &[bool], product: u32) -> bool {
    !owns(owned, product) && !is_blocked(blocked, product)
}

/// `blocked` is indexed by product code; codes beyond it are not blocked.
fn is_blocked(blocked: &[bool], product: u32) -> bool {
    blocked.get(product as usize).copied().unwrap_or(false)
}

/// Whether `owned` (a customer's history, sorted by product) holds `product`.
pub(crate) fn owns(owned: &[Owned], product: u32) -> bool {
    owned.binary_search_by_key(&product, |o| o.product).is_ok()
}

impl CoPurchaseModel {
    /// Products by recent buyers, most first (ties by id).
    pub fn popular(&self) -> Vec<u32> {
        let mut order: Vec<u32> = (0..self.recent_buyers.len() as u32)
            .filter(|&p| self.recent_buyers[p as usize] > 0)
            .collect();
        order.sort_by(|&a, &b| {
            self.recent_buyers[b as usize]
                .cmp(&self.recent_buyers[a as usize])
                .then_with(|| self.product_ids[a as usize].cmp(&self.product_ids[b as usize]))
        });
        order
    }

    /// The customer's own products by orders × recency (scaled to 0-1, plus recent popularity
    /// weighted by `repurchase_popularity_weight`), at most `k`.
    pub fn repurchase(
        &self,
        owned: &[Owned],
        k: usize,
        blend: &Blend,
        blocked: &[bool],
    ) -> Vec<Suggestion> {
        let mut list: Vec<Suggestion> = owned
            .iter()
            .filter(|o| !is_blocked(blocked, o.product))
            .map(|o| Suggestion {
                product: o.product,
                score: f64::from(o.orders)
                    * (-f64::from(o.age_days) / blend.repurchase_tau_days).exp(),
                source: Source::Repurchase,
                because: Some((o.product, o.orders)),
            })
            .collect();
        let top = list.iter().map(|s| s.score).fold(0.0, f64::max);
        let most = f64::from(self.recent_buyers.iter().copied().max().unwrap_or(0).max(1));
        for s in &mut list {
            let popularity = f64::from(self.recent_buyers[s.product as usize]) / most;
            s.score = s.score / top.max(1e-12) + blend.repurchase_popularity_weight * popularity;
        }
        rank_top(&mut list, k, &self.product_ids);
        list
    }

    /// Products the customer never bought: co-purchase with their history (recent products weigh
    /// more), scaled to 0-1, plus `popularity_weight` × scaled recent popularity; filled with
    /// popular products when the history says too little. At most `k`.
    pub fn cross_sell(
        &self,
        owned: &[Owned],
        k: usize,
        blend: &Blend,
        blocked: &[bool],
        popular: &[u32],
    ) -> Vec<Suggestion> {
        let list = self.cross_sell_scores(owned, blend, blocked);
        self.finish_cross_sell(list, owned, k, blend, blocked, popular)
    }

    /// The co-purchase part of [`Self::cross_sell`]: every candidate with its score scaled to
    /// 0-1, unranked. Depends on the blend only through `cross_tau_days`.
    pub fn cross_sell_scores(
        &self,
        owned: &[Owned],
        blend: &Blend,
        blocked: &[bool],
    ) -> Vec<Suggestion> {
        // product → (score, best single contribution, its history product, customers together),
        // in a dense per-thread scratch array; `touched` lists the products in first-seen order.
        // The customer's own products are marked OWNED first, so skipping them costs no search.
        SCRATCH.with(|cell| {
            let mut acc = cell.borrow_mut();
            if acc.len() < self.neighbours.len() {
                acc.resize(self.neighbours.len(), UNTOUCHED);
            }
            let marked = |o: &&Owned| (o.product as usize) < self.neighbours.len();
            for o in owned.iter().filter(marked) {
                acc[o.product as usize] = OWNED;
            }
            let mut touched: Vec<u32> = Vec::new();
            for o in owned {
                let w = (-f64::from(o.age_days) / blend.cross_tau_days).exp();
                for nb in self
                    .neighbours
                    .get(o.product as usize)
                    .map_or(&[][..], |v| v)
                {
                    let e = &mut acc[nb.product as usize];
                    if e.1 == OWNED.1 || is_blocked(blocked, nb.product) {
                        continue;
                    }
                    let c = w * f64::from(nb.similarity);
                    if e.1 < 0.0 {
                        *e = (0.0, 0.0, o.product, 0);
                        touched.push(nb.product);
                    }
                    e.0 += c;
                    if c > e.1 {
                        *e = (e.0, c, o.product, nb.customers_together);
                    }
                }
            }
            let top = touched
                .iter()
                .map(|&p| acc[p as usize].0)
                .fold(0.0, f64::max);
            let list = touched
                .into_iter()
                .map(|product| {
                    let (score, _, from, together) =
                        std::mem::replace(&mut acc[product as usize], UNTOUCHED);
                    Suggestion {
                        product,
                        score: if top > 0.0 { score / top } else { 0.0 },
                        source: Source::CoPurchase,
                        because: Some((from, together)),
                    }
                })
                .collect();
            for o in owned.iter().filter(marked) {
                acc[o.product as usize] = UNTOUCHED;
            }
            list
        })
    }

    /// The rest of [`Self::cross_sell`]: adds popularity (`blend.popularity_weight`), ranks,
    /// keeps `k` and fills thin lists with popular products.
    pub fn finish_cross_sell(
        &self,
        mut list: Vec<Suggestion>,
        owned: &[Owned],
        k: usize,
        blend: &Blend,
        blocked: &[bool],
        popular: &[u32],
    ) -> Vec<Suggestion> {
        let allowed = |p: u32| new_and_not_blocked(owned, blocked, p);
        if blend.popularity_weight > 0.0 {
            let most = popular
                .first()
                .map_or(1.0, |&p| f64::from(self.recent_buyers[p as usize]));
            let mut index: HashMap<u32, usize> = list
                .iter()
                .enumerate()
                .map(|(i, s)| (s.product, i))
                .collect();
            for &p in popular.iter().take(k * 20) {
                if !allowed(p) {
                    continue;
                }
                let bonus =
                    blend.popularity_weight * f64::from(self.recent_buyers[p as usize]) / most;
                match index.get(&p) {
                    Some(&i) => list[i].score += bonus,
                    None => {
                        index.insert(p, list.len());
                        list.push(Suggestion {
                            product: p,
                            score: bonus,
                            source: Source::Popular,
                            because: None,
                        });
                    }
                }
            }
        }
        rank_top(&mut list, k, &self.product_ids);
        for &p in popular {
            if list.len() >= k {
                break;
            }
            if allowed(p) && !list.iter().any(|s| s.product == p) {
                list.push(Suggestion {
                    product: p,
                    score: 0.0,
                    source: Source::Popular,
                    because: None,
                });
            }
        }
        list
    }

    /// Both lists for one customer.
    pub fn suggest(
        &self,
        owned: &[Owned],
        k: usize,
        blend: &Blend,
        blocked: &[bool],
        popular: &[u32],
    ) -> Suggestions {
        Suggestions {
            repurchase: self.repurchase(owned, k, blend, blocked),
            cross_sell: self.cross_sell(owned, k, blend, blocked, popular),
        }
    }

    /// The list a customer would get: repurchase and cross-sell scores (each scaled to 0-1, the
    /// latter weighted by `cross_weight`) ranked together, at most `k`.
    pub fn combined(
        &self,
        repurchase: &[Suggestion],
        cross_sell: &[Suggestion],
        k: usize,
        blend: &Blend,
    ) -> Vec<u32> {
        let top = repurchase.first().map_or(1.0, |x| x.score.max(1e-12));
        let mut all: Vec<Suggestion> = repurchase
            .iter()
            .map(|x| Suggestion {
                score: x.score / top,
                ..*x
            })
            .chain(cross_sell.iter().map(|x| Suggestion {
                score: x.score * blend.cross_weight,
                ..*x
            }))
            .collect();
        rank_top(&mut all, k, &self.product_ids);
        all.into_iter().map(|x| x.product).collect()
    }
}
