//! The recommendation part of the backtest (DESIGN.md): suggestions made at the cutoff from data
//! before it, for customers with history who buy in `[cutoff, cutoff + H)`. `all` scores the list a
//! customer would get against every product they buy; `new` scores `cross_sell` against the
//! products they had never bought. The blend is chosen the same way one horizon earlier.

use chrono::{Duration, NaiveDate};
use polars::prelude::*;
use rayon::prelude::*;
use serde::Serialize;

use super::copurchase::{CoPurchaseModel, CoPurchaseParams, Counts, Similarity};
use super::history::History;
use super::suggest::{Blend, Suggestion};
use crate::clean::{LineKind, Transactions};
use crate::error::Result;
use crate::features::{day, epoch_days};
use crate::schema::line;

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct RecMetrics {
    /// Share of users with at least one suggested product bought in the window.
    pub hit_rate: f64,
    /// Mean over users of |suggested ∩ bought| / min(|bought|, k).
    pub recall: f64,
    pub users: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct RecommendationReport {
    pub k: usize,
    pub all: RecMetrics,
    pub new: RecMetrics,
    pub similarity: super::copurchase::Similarity,
    pub blend: Blend,
    pub blend_chosen_by: String,
    /// The same users with the most popular products of the last `popularity_days`.
    pub popularity_baseline: Baseline,
}

#[derive(Debug, Clone, Serialize)]
pub struct Baseline {
    pub all: RecMetrics,
    pub new: RecMetrics,
}

/// Distinct products each customer (`customer_ix`) bought in `[from, from + horizon)`.
pub fn bought_in_window(
    tx: &Transactions,
    from: NaiveDate,
    horizon_days: u32,
) -> Result<Vec<Vec<u32>>> {
    let start = epoch_days(from);
    let window = tx
        .lines
        .clone()
        .lazy()
        .filter(
            col(line::KIND)
                .eq(lit(LineKind::Purchase.code()))
                .and(col(line::PRODUCT_IX).is_not_null())
                .and(day().gt_eq(lit(start)))
                .and(day().lt(lit(start + horizon_days as i32))),
        )
        .select([col(line::CUSTOMER_IX), col(line::PRODUCT_IX)])
        .unique(None, UniqueKeepStrategy::Any)
        .collect()?;
    let mut out = vec![Vec::new(); tx.customers.height()];
    let c = window.column(line::CUSTOMER_IX)?.u32()?.clone();
    let p = window.column(line::PRODUCT_IX)?.u32()?.clone();
    for (c, p) in c.iter().zip(p.iter()) {
        if let (Some(c), Some(p)) = (c, p) {
            out[c as usize].push(p);
        }
    }
    for list in &mut out {
        list.sort_unstable();
    }
    Ok(out)
}

/// Hit rate and recall over users, from (suggested, bought) pairs; users with nothing bought are skipped.
pub fn score_lists<'a>(pairs: impl Iterator<Item = (Vec<u32>, &'a [u32])>, k: usize) -> RecMetrics {
    let (mut users, mut hits, mut recall) = (0usize, 0usize, 0.0);
    for (suggested, bought) in pairs {
        if bought.is_empty() {
            continue;
        }
        let found = suggested
            .iter()
            .take(k)
            .filter(|p| bought.binary_search(p).is_ok())
            .count();
        users += 1;
        hits += usize::from(found > 0);
        recall += found as f64 / bought.len().min(k) as f64;
    }
    let n = users.max(1) as f64;
    RecMetrics {
        hit_rate: hits as f64 / n,
        recall: recall / n,
        users,
    }
}

/// Everything needed to measure suggestions made at one date.
pub struct Setting {
    pub history: History,
    /// The counts `model` was made from: other similarities reuse them.
    pub counts: Counts,
    pub model: CoPurchaseModel,
    pub popular: Vec<u32>,
    /// By customer: products bought in the window (sorted).
    pub bought: Vec<Vec<u32>>,
}

impl Setting {
    pub fn at(
        tx: &Transactions,
        at: NaiveDate,
        horizon_days: u32,
        params: &CoPurchaseParams,
    ) -> Result<Setting> {
        let history = History::build(tx, at, params.popularity_days)?;
        let counts = Counts::of(&history, params);
        let model = CoPurchaseModel::from_counts(&history, &counts, params);
        let popular = model.popular();
        let bought = bought_in_window(tx, at, horizon_days)?;
        Ok(Setting {
            history,
            counts,
            model,
            popular,
            bought,
        })
    }

    /// Customers with history before the date who buy in the window.
    fn users(&self) -> Vec<usize> {
        (0..self.bought.len())
            .filter(|&c| !self.history.customers[c].is_empty() && !self.bought[c].is_empty())
            .collect()
    }

    /// (`all`, `new`) for one blend.
    pub fn measure(&self, k: usize, blend: &Blend, blocked: &[bool]) -> (RecMetrics, RecMetrics) {
        let users = self.users();
        let lists: Vec<(Vec<u32>, Vec<u32>, Vec<u32>)> = users
            .par_iter()
            .map(|&c| {
                let owned = &self.history.customers[c];
                let s = self.model.suggest(owned, k, blend, blocked, &self.popular);
                let new: Vec<u32> = self.bought[c]
                    .iter()
                    .copied()
                    .filter(|p| owned.binary_search_by_key(p, |o| o.product).is_err())
                    .collect();
                let cross = s.cross_sell.iter().map(|x| x.product).collect();
                (self.model.combined(&s, k, blend), cross, new)
            })
            .collect();
        let all = score_lists(
            lists
                .iter()
                .zip(&users)
                .map(|((all, _, _), &c)| (all.clone(), self.bought[c].as_slice())),
            k,
        );
        let new = score_lists(
            lists
                .iter()
                .map(|(_, cross, new)| (cross.clone(), new.as_slice())),
            k,
        );
        (all, new)
    }

    /// `new` only (the cross-sell list), for choices that do not touch the combined list.
    pub fn measure_new(&self, k: usize, blend: &Blend, blocked: &[bool]) -> RecMetrics {
        let users = self.users();
        let lists: Vec<(Vec<u32>, Vec<u32>)> = users
            .par_iter()
            .map(|&c| {
                let owned = &self.history.customers[c];
                let cross = self
                    .model
                    .cross_sell(owned, k, blend, blocked, &self.popular);
                let new = self.bought[c]
                    .iter()
                    .copied()
                    .filter(|p| owned.binary_search_by_key(p, |o| o.product).is_err())
                    .collect();
                (cross.iter().map(|x| x.product).collect(), new)
            })
            .collect();
        score_lists(lists.iter().map(|(l, b)| (l.clone(), b.as_slice())), k)
    }

    /// `new` metrics for each cross-sell popularity weight on top of `base`, scoring the
    /// co-purchase part once per user and only re-ranking per weight.
    pub fn measure_new_weights(
        &self,
        k: usize,
        base: &Blend,
        blocked: &[bool],
        weights: &[f64],
    ) -> Vec<RecMetrics> {
        let users = self.users();
        let prepared: Vec<(Vec<Suggestion>, Vec<u32>)> = users
            .par_iter()
            .map(|&c| {
                let owned = &self.history.customers[c];
                let new = self.bought[c]
                    .iter()
                    .copied()
                    .filter(|p| owned.binary_search_by_key(p, |o| o.product).is_err())
                    .collect();
                (self.model.cross_sell_scores(owned, base, blocked), new)
            })
            .collect();
        weights
            .iter()
            .map(|&w| {
                let blend = Blend {
                    popularity_weight: w,
                    ..*base
                };
                let lists: Vec<Vec<u32>> = users
                    .par_iter()
                    .zip(&prepared)
                    .map(|(&c, (scores, _))| {
                        let owned = &self.history.customers[c];
                        self.model
                            .finish_cross_sell(
                                scores.clone(),
                                owned,
                                k,
                                &blend,
                                blocked,
                                &self.popular,
                            )
                            .iter()
                            .map(|x| x.product)
                            .collect()
                    })
                    .collect();
                score_lists(
                    lists
                        .into_iter()
                        .zip(&prepared)
                        .map(|(l, (_, b))| (l, b.as_slice())),
                    k,
                )
            })
            .collect()
    }

    /// `all` recall of every (cross weight, repurchase popularity weight) mix on top of `base`,
    /// computing each list once and only re-ranking the combined list per mix.
    pub fn measure_mixes(
        &self,
        k: usize,
        base: &Blend,
        blocked: &[bool],
        mixes: &[(f64, f64)],
    ) -> Vec<RecMetrics> {
        let users = self.users();
        let cross: Vec<_> = users
            .par_iter()
            .map(|&c| {
                self.model
                    .cross_sell(&self.history.customers[c], k, base, blocked, &self.popular)
            })
            .collect();
        let mut out = vec![None; mixes.len()];
        let mut weights: Vec<f64> = mixes.iter().map(|m| m.1).collect();
        weights.dedup();
        for w in weights {
            let blend = Blend {
                repurchase_popularity_weight: w,
                ..*base
            };
            let repurchase: Vec<_> = users
                .par_iter()
                .map(|&c| {
                    self.model
                        .repurchase(&self.history.customers[c], k, &blend, blocked)
                })
                .collect();
            for (i, mix) in mixes.iter().enumerate().filter(|(_, m)| m.1 == w) {
                let mixed = Blend {
                    cross_weight: mix.0,
                    ..blend
                };
                let lists = users.iter().enumerate().map(|(u, &c)| {
                    let s = super::suggest::Suggestions {
                        repurchase: repurchase[u].clone(),
                        cross_sell: cross[u].clone(),
                    };
                    (
                        self.model.combined(&s, k, &mixed),
                        self.bought[c].as_slice(),
                    )
                });
                out[i] = Some(score_lists(lists, k));
            }
        }
        out.into_iter()
            .map(|m| {
                m.unwrap_or(RecMetrics {
                    hit_rate: 0.0,
                    recall: 0.0,
                    users: 0,
                })
            })
            .collect()
    }

    /// The popularity baseline for the same users.
    pub fn popularity(&self, k: usize) -> Baseline {
        let users = self.users();
        let top: Vec<u32> = self.popular.iter().take(k).copied().collect();
        let all = score_lists(
            users
                .iter()
                .map(|&c| (top.clone(), self.bought[c].as_slice())),
            k,
        );
        let new_lists: Vec<(Vec<u32>, Vec<u32>)> = users
            .iter()
            .map(|&c| {
                let owned = &self.history.customers[c];
                let not_owned = |p: &u32| owned.binary_search_by_key(p, |o| o.product).is_err();
                let list = self
                    .popular
                    .iter()
                    .copied()
                    .filter(not_owned)
                    .take(k)
                    .collect();
                let new = self.bought[c].iter().copied().filter(not_owned).collect();
                (list, new)
            })
            .collect();
        let new = score_lists(new_lists.iter().map(|(l, b)| (l.clone(), b.as_slice())), k);
        Baseline { all, new }
    }
}

/// The popularity weights of cross-sell tried; 1000 is popularity alone.
const POPULARITY_WEIGHTS: [f64; 5] = [0.0, 0.1, 0.3, 1.0, 1000.0];
const CROSS_WEIGHTS: [f64; 4] = [0.0, 0.25, 0.5, 1.0];
const REPURCHASE_POPULARITY_WEIGHTS: [f64; 4] = [0.0, 0.1, 0.3, 1.0];

/// Picks the similarity and the popularity weight by `new` hit rate, then the mix of the combined
/// list by `all` recall, with suggestions made at `at − horizon` and judged on `[at − horizon, at)`:
/// nothing at or after `at` is seen. Falls back to the defaults without enough history.
pub fn choose_blend(
    tx: &Transactions,
    at: NaiveDate,
    horizon_days: u32,
    k: usize,
    params: &CoPurchaseParams,
    blocked: &[bool],
) -> Result<(CoPurchaseParams, Blend, String)> {
    let earlier = at - Duration::days(i64::from(horizon_days));
    let mut setting = Setting::at(tx, earlier, horizon_days, params)?;
    if setting.users().len() < 20 {
        return Ok((
            params.clone(),
            Blend::default(),
            format!("default: fewer than 20 buyers with history at {earlier}"),
        ));
    }
    // The similarity, by `new` hit rate (ties: the default) ...
    let mut chosen = params.clone();
    let mut best_similarity = setting.measure_new(k, &Blend::default(), blocked).hit_rate;
    for similarity in Similarity::ALL
        .into_iter()
        .filter(|s| *s != params.similarity)
    {
        let candidate = CoPurchaseParams {
            similarity,
            ..params.clone()
        };
        let model = CoPurchaseModel::from_counts(&setting.history, &setting.counts, &candidate);
        let previous = std::mem::replace(&mut setting.model, model);
        let new = setting.measure_new(k, &Blend::default(), blocked);
        if new.hit_rate > best_similarity {
            best_similarity = new.hit_rate;
            chosen = candidate;
        } else {
            setting.model = previous;
        }
    }
    // ... then the cross-sell popularity weight, by `new` hit rate (ties: the weaker weight) ...
    let mut blend = Blend::default();
    let mut best = f64::NEG_INFINITY;
    let by_weight = setting.measure_new_weights(k, &blend, blocked, &POPULARITY_WEIGHTS);
    for (w, new) in POPULARITY_WEIGHTS.into_iter().zip(by_weight) {
        if new.hit_rate > best {
            best = new.hit_rate;
            blend.popularity_weight = w;
        }
    }
    // ... then how the combined list mixes the two lists, by `all` recall.
    let mixes: Vec<(f64, f64)> = REPURCHASE_POPULARITY_WEIGHTS
        .iter()
        .flat_map(|&r| CROSS_WEIGHTS.iter().map(move |&c| (c, r)))
        .collect();
    let results = setting.measure_mixes(k, &blend, blocked, &mixes);
    let mut best = f64::NEG_INFINITY;
    let base = blend;
    for (&(cross_weight, repurchase_popularity_weight), all) in mixes.iter().zip(&results) {
        if all.recall > best {
            best = all.recall;
            blend = Blend {
                cross_weight,
                repurchase_popularity_weight,
                ..base
            };
        }
    }
    Ok((
        chosen,
        blend,
        format!(
            "best `new` hit rate of {} similarities, then of {} popularity weights, then best `all` recall of {} mixes; suggested at {earlier}, judged on [{earlier}, {at})",
            Similarity::ALL.len(),
            POPULARITY_WEIGHTS.len(),
            CROSS_WEIGHTS.len() * REPURCHASE_POPULARITY_WEIGHTS.len()
        ),
    ))
}

/// The recommendation part of `retain backtest` at `cutoff`.
pub fn backtest(
    tx: &Transactions,
    cutoff: NaiveDate,
    horizon_days: u32,
    k: usize,
    params: &CoPurchaseParams,
) -> Result<RecommendationReport> {
    let blocked = Vec::new();
    let (params, blend, chosen_by) = choose_blend(tx, cutoff, horizon_days, k, params, &blocked)?;
    let setting = Setting::at(tx, cutoff, horizon_days, &params)?;
    let (all, new) = setting.measure(k, &blend, &blocked);
    Ok(RecommendationReport {
        k,
        all,
        new,
        similarity: params.similarity,
        blend,
        blend_chosen_by: chosen_by,
        popularity_baseline: setting.popularity(k),
    })
}
