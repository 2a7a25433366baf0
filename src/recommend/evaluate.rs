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
use super::suggest::{Blend, Suggestion, owns};
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
    let mut out = vec![Vec::new(); tx.customers.height()];
    tx.lines.each("bought in the window", |lines| {
        let window = lines
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
        let c = window.column(line::CUSTOMER_IX)?.u32()?.clone();
        let p = window.column(line::PRODUCT_IX)?.u32()?.clone();
        for (c, p) in c.iter().zip(p.iter()) {
            if let (Some(c), Some(p)) = (c, p) {
                out[c as usize].push(p);
            }
        }
        Ok(())
    })?;
    for list in &mut out {
        list.sort_unstable();
    }
    Ok(out)
}

/// Hit rate and recall over users, from (suggested, bought) pairs; users with nothing bought are skipped.
pub fn score_lists<'a>(pairs: impl Iterator<Item = (Vec<u32>, &'a [u32])>, k: usize) -> RecMetrics {
    let mut tally = Tally::default();
    for (suggested, bought) in pairs {
        tally.add(suggested.iter().copied(), bought, k);
    }
    tally.metrics()
}

/// The sums behind [`RecMetrics`], added user after user (in user order, so that the recall sum
/// does not depend on how the users are split into chunks).
#[derive(Debug, Default, Clone, Copy)]
struct Tally {
    users: usize,
    hits: usize,
    recall: f64,
}

impl Tally {
    fn add(&mut self, suggested: impl Iterator<Item = u32>, bought: &[u32], k: usize) {
        if bought.is_empty() {
            return;
        }
        let found = suggested
            .take(k)
            .filter(|p| bought.binary_search(p).is_ok())
            .count();
        self.users += 1;
        self.hits += usize::from(found > 0);
        self.recall += found as f64 / bought.len().min(k) as f64;
    }

    fn metrics(self) -> RecMetrics {
        let n = self.users.max(1) as f64;
        RecMetrics {
            hit_rate: self.hits as f64 / n,
            recall: self.recall / n,
            users: self.users,
        }
    }
}

/// Users whose lists are made at once while measuring: lists for all of 4 M customers would
/// take gigabytes.
const CHUNK_USERS: usize = 1 << 16;

/// Everything needed to measure suggestions made at one date.
pub struct Setting {
    pub history: History,
    /// The counts `model` was made from: other similarities reuse them.
    pub counts: Counts,
    pub model: CoPurchaseModel,
    pub popular: Vec<u32>,
    /// Customers with history before the date who buy in the window, ascending.
    users: Vec<usize>,
    /// By user (as `users`): products bought in the window (sorted), and of those the ones the
    /// user had never bought before the date.
    bought: Vec<Vec<u32>>,
    bought_new: Vec<Vec<u32>>,
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
        let mut bought = bought_in_window(tx, at, horizon_days)?;
        let users: Vec<usize> = (0..bought.len())
            .filter(|&c| !history.customers[c].is_empty() && !bought[c].is_empty())
            .collect();
        let bought: Vec<Vec<u32>> = users
            .iter()
            .map(|&c| std::mem::take(&mut bought[c]))
            .collect();
        let bought_new = users
            .iter()
            .zip(&bought)
            .map(|(&c, bought)| {
                let owned = &history.customers[c];
                bought
                    .iter()
                    .copied()
                    .filter(|&p| !owns(owned, p))
                    .collect()
            })
            .collect();
        Ok(Setting {
            history,
            counts,
            model,
            popular,
            users,
            bought,
            bought_new,
        })
    }

    /// The users' positions in chunks of [`CHUNK_USERS`].
    fn chunks(&self) -> impl Iterator<Item = std::ops::Range<usize>> {
        let n = self.users.len();
        (0..n.div_ceil(CHUNK_USERS)).map(move |i| i * CHUNK_USERS..((i + 1) * CHUNK_USERS).min(n))
    }

    /// (`all`, `new`) for one blend.
    pub fn measure(&self, k: usize, blend: &Blend, blocked: &[bool]) -> (RecMetrics, RecMetrics) {
        let (mut all, mut new) = (Tally::default(), Tally::default());
        for users in self.chunks() {
            let cross = self.cross_lists(None, k, blend, blocked, users.clone());
            let repurchase = self.repurchase_lists(k, blend, blocked, users.clone());
            for ((u, c), r) in users.zip(&cross).zip(&repurchase) {
                let combined = self.model.combined(r, c, k, blend);
                all.add(combined.into_iter(), &self.bought[u], k);
                new.add(c.iter().map(|x| x.product), &self.bought_new[u], k);
            }
        }
        (all.metrics(), new.metrics())
    }

    /// The co-purchase part of every user's cross-sell list (see
    /// [`CoPurchaseModel::cross_sell_scores`]): the costly part, computed once per model and
    /// reused for every blend that differs only in popularity and mixing.
    pub fn cross_scores(&self, blend: &Blend, blocked: &[bool]) -> Vec<Vec<Suggestion>> {
        self.users
            .par_iter()
            .map(|&c| {
                self.model
                    .cross_sell_scores(&self.history.customers[c], blend, blocked)
            })
            .collect()
    }

    /// Cross-sell lists under `blend` of the users at `users`: finished from `scores` (of
    /// [`Self::cross_scores`]) when given, else scored one user at a time.
    fn cross_lists(
        &self,
        scores: Option<&[Vec<Suggestion>]>,
        k: usize,
        blend: &Blend,
        blocked: &[bool],
        users: std::ops::Range<usize>,
    ) -> Vec<Vec<Suggestion>> {
        let finish = |u: usize| {
            let owned = &self.history.customers[self.users[u]];
            let scored = match scores {
                Some(scores) => scores[u].clone(),
                None => self.model.cross_sell_scores(owned, blend, blocked),
            };
            self.model
                .finish_cross_sell(scored, owned, k, blend, blocked, &self.popular)
        };
        users.into_par_iter().map(finish).collect()
    }

    /// Repurchase lists under `blend` of the users at `users`.
    fn repurchase_lists(
        &self,
        k: usize,
        blend: &Blend,
        blocked: &[bool],
        users: std::ops::Range<usize>,
    ) -> Vec<Vec<Suggestion>> {
        self.users[users]
            .par_iter()
            .map(|&c| {
                self.model
                    .repurchase(&self.history.customers[c], k, blend, blocked)
            })
            .collect()
    }

    /// `new` under `blend` (with `scores` as in [`Self::cross_lists`]): cross-sell lists against
    /// the products new to each user.
    pub fn measure_new(
        &self,
        scores: Option<&[Vec<Suggestion>]>,
        k: usize,
        blend: &Blend,
        blocked: &[bool],
    ) -> RecMetrics {
        let mut new = Tally::default();
        for users in self.chunks() {
            let cross = self.cross_lists(scores, k, blend, blocked, users.clone());
            for (u, c) in users.zip(&cross) {
                new.add(c.iter().map(|x| x.product), &self.bought_new[u], k);
            }
        }
        new.metrics()
    }

    /// `all` recall of every (cross weight, repurchase popularity weight) mix on top of `base`:
    /// the cross-sell lists of `base` (with `scores` as in [`Self::cross_lists`]) and one
    /// repurchase list per popularity weight, mixed.
    pub fn measure_mixes(
        &self,
        scores: Option<&[Vec<Suggestion>]>,
        k: usize,
        base: &Blend,
        blocked: &[bool],
        mixes: &[(f64, f64)],
    ) -> Vec<RecMetrics> {
        let mut weights: Vec<f64> = mixes.iter().map(|m| m.1).collect();
        weights.dedup();
        let mut tallies = vec![Tally::default(); mixes.len()];
        for users in self.chunks() {
            let cross = self.cross_lists(scores, k, base, blocked, users.clone());
            for &w in &weights {
                let blend = Blend {
                    repurchase_popularity_weight: w,
                    ..*base
                };
                let repurchase = self.repurchase_lists(k, &blend, blocked, users.clone());
                for (i, mix) in mixes.iter().enumerate().filter(|(_, m)| m.1 == w) {
                    let mixed = Blend {
                        cross_weight: mix.0,
                        ..blend
                    };
                    for ((u, c), r) in users.clone().zip(&cross).zip(&repurchase) {
                        let combined = self.model.combined(r, c, k, &mixed);
                        tallies[i].add(combined.into_iter(), &self.bought[u], k);
                    }
                }
            }
        }
        tallies.into_iter().map(Tally::metrics).collect()
    }

    /// The popularity baseline for the same users.
    pub fn popularity(&self, k: usize) -> Baseline {
        let top: Vec<u32> = self.popular.iter().take(k).copied().collect();
        let all = score_lists(self.bought.iter().map(|b| (top.clone(), b.as_slice())), k);
        let new = score_lists(
            self.users.iter().zip(&self.bought_new).map(|(&c, new)| {
                let owned = &self.history.customers[c];
                let list = self
                    .popular
                    .iter()
                    .copied()
                    .filter(|&p| !owns(owned, p))
                    .take(k)
                    .collect();
                (list, new.as_slice())
            }),
            k,
        );
        Baseline { all, new }
    }
}

/// The popularity weights of cross-sell tried; 1000 is popularity alone.
/// Most users whose co-purchase scores the blend search holds at once (see [`choose_blend`]).
const HELD_SCORES_MAX_USERS: usize = 200_000;

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
    choose_blend_holding(
        tx,
        at,
        horizon_days,
        k,
        params,
        blocked,
        HELD_SCORES_MAX_USERS,
    )
}

/// [`choose_blend`], holding every user's co-purchase scores only when there are at most
/// `held_max_users` users (the choice is the same either way).
pub fn choose_blend_holding(
    tx: &Transactions,
    at: NaiveDate,
    horizon_days: u32,
    k: usize,
    params: &CoPurchaseParams,
    blocked: &[bool],
    held_max_users: usize,
) -> Result<(CoPurchaseParams, Blend, String)> {
    let earlier = at - Duration::days(i64::from(horizon_days));
    let mut setting = Setting::at(tx, earlier, horizon_days, params)?;
    if setting.users.len() < 20 {
        return Ok((
            params.clone(),
            Blend::default(),
            format!("default: fewer than 20 buyers with history at {earlier}"),
        ));
    }
    // The similarity, by `new` hit rate (ties: the default) ...
    let mut blend = Blend::default();
    let mut chosen = params.clone();
    // (Every user's co-purchase scores are the bulk of the memory: they are held only for the
    // chosen similarity, in the next step.)
    let measure = |setting: &Setting| setting.measure_new(None, k, &blend, blocked).hit_rate;
    let mut best_similarity = measure(&setting);
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
        let hit_rate = measure(&setting);
        if hit_rate > best_similarity {
            best_similarity = hit_rate;
            chosen = candidate;
        } else {
            setting.model = previous;
        }
    }
    // Held, every user's co-purchase scores are reused for each weight below; past
    // HELD_SCORES_MAX_USERS users they are recomputed for each instead (the same lists, in
    // bounded memory: 4 M customers' scores took more than 8 GB).
    let scores =
        (setting.users.len() <= held_max_users).then(|| setting.cross_scores(&blend, blocked));
    // ... then the cross-sell popularity weight, by `new` hit rate (ties: the weaker weight); the
    // co-purchase scores do not depend on it ...
    let mut best = f64::NEG_INFINITY;
    for w in POPULARITY_WEIGHTS {
        let weighted = Blend {
            popularity_weight: w,
            ..blend
        };
        let new = setting.measure_new(scores.as_deref(), k, &weighted, blocked);
        if new.hit_rate > best {
            best = new.hit_rate;
            blend = weighted;
        }
    }
    // ... then how the combined list mixes the two lists, by `all` recall.
    let mixes: Vec<(f64, f64)> = REPURCHASE_POPULARITY_WEIGHTS
        .iter()
        .flat_map(|&r| CROSS_WEIGHTS.iter().map(move |&c| (c, r)))
        .collect();
    let results = setting.measure_mixes(scores.as_deref(), k, &blend, blocked, &mixes);
    drop(scores);
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
