//! Quality measures of churn probabilities (DESIGN.md): ROC AUC, PR AUC, Brier score, log loss,
//! lift in the top decile, expected calibration error, and the tables behind them.

use serde::Serialize;

/// Every figure of DESIGN.md's `churn` object.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
pub struct ChurnMetrics {
    pub auc: f64,
    pub pr_auc: f64,
    pub brier: f64,
    pub log_loss: f64,
    pub lift_top_decile: f64,
    pub ece: f64,
    /// Standard error of `auc` (DeLong): how far another sample of the same size could move it.
    /// Absent in artifacts written before it was added.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auc_standard_error: Option<f64>,
}

impl ChurnMetrics {
    pub fn compute(labels: &[bool], probabilities: &[f64]) -> ChurnMetrics {
        ChurnMetrics {
            auc: roc_auc(labels, probabilities),
            pr_auc: average_precision(labels, probabilities),
            brier: brier(labels, probabilities),
            log_loss: log_loss(labels, probabilities),
            lift_top_decile: lift_top_decile(labels, probabilities),
            ece: expected_calibration_error(labels, probabilities, 10),
            auc_standard_error: roc_auc_standard_error(labels, probabilities),
        }
    }

    /// The 95 % interval of `auc` (± 1.96 standard errors, within 0-1), when known.
    pub fn auc_interval(&self) -> Option<(f64, f64)> {
        self.auc_standard_error.map(|se| {
            (
                (self.auc - 1.96 * se).max(0.0),
                (self.auc + 1.96 * se).min(1.0),
            )
        })
    }
}

/// Indices by descending score; ties keep input order, so results are deterministic.
fn by_score_desc(scores: &[f64]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    order
}

/// ROC AUC as the Mann-Whitney statistic with average ranks for ties. 0.5 when one class is absent.
pub fn roc_auc(labels: &[bool], scores: &[f64]) -> f64 {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut rank_sum_pos = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        let average_rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            if labels[k] {
                rank_sum_pos += average_rank;
            }
        }
        i = j + 1;
    }
    let pos = labels.iter().filter(|&&l| l).count() as f64;
    let neg = labels.len() as f64 - pos;
    if pos == 0.0 || neg == 0.0 {
        return 0.5;
    }
    (rank_sum_pos - pos * (pos + 1.0) / 2.0) / (pos * neg)
}

/// Standard error of the ROC AUC by DeLong, DeLong & Clarke-Pearson (1988): the variance of each
/// positive's share of negatives scored below it (ties count half) over the positives, plus the
/// variance of each negative's share of positives scored above it over the negatives. `None`
/// with fewer than two of either class.
pub fn roc_auc_standard_error(labels: &[bool], scores: &[f64]) -> Option<f64> {
    let mut pos: Vec<f64> = Vec::new();
    let mut neg: Vec<f64> = Vec::new();
    for (&l, &x) in labels.iter().zip(scores) {
        if l { pos.push(x) } else { neg.push(x) }
    }
    if pos.len() < 2 || neg.len() < 2 {
        return None;
    }
    pos.sort_by(f64::total_cmp);
    neg.sort_by(f64::total_cmp);
    // Share of `sorted` below `x`, ties counting half.
    let below = |sorted: &[f64], x: f64| {
        let lower = sorted.partition_point(|&v| v < x);
        let upper = sorted.partition_point(|&v| v <= x);
        (lower as f64 + 0.5 * (upper - lower) as f64) / sorted.len() as f64
    };
    let variance = |v: &[f64]| {
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (v.len() - 1) as f64
    };
    let v10: Vec<f64> = pos.iter().map(|&x| below(&neg, x)).collect();
    let v01: Vec<f64> = neg.iter().map(|&y| 1.0 - below(&pos, y)).collect();
    let var = variance(&v10) / pos.len() as f64 + variance(&v01) / neg.len() as f64;
    Some(var.sqrt())
}

/// Average precision (the area under the precision-recall curve as scikit-learn computes it):
/// Σ over distinct thresholds of (recall gain) × precision.
pub fn average_precision(labels: &[bool], scores: &[f64]) -> f64 {
    let pos = labels.iter().filter(|&&l| l).count() as f64;
    if pos == 0.0 {
        return 0.0;
    }
    let order = by_score_desc(scores);
    let (mut tp, mut seen, mut ap, mut last_recall) = (0.0, 0.0, 0.0, 0.0);
    let mut i = 0;
    while i < order.len() {
        let threshold = scores[order[i]];
        while i < order.len() && scores[order[i]] == threshold {
            tp += f64::from(u8::from(labels[order[i]]));
            seen += 1.0;
            i += 1;
        }
        let recall = tp / pos;
        ap += (recall - last_recall) * (tp / seen);
        last_recall = recall;
    }
    ap
}

pub fn brier(labels: &[bool], probabilities: &[f64]) -> f64 {
    let n = labels.len().max(1) as f64;
    labels
        .iter()
        .zip(probabilities)
        .map(|(&y, &p)| (p - f64::from(u8::from(y))).powi(2))
        .sum::<f64>()
        / n
}

/// Mean negative log-likelihood, probabilities clipped to [1e-15, 1 − 1e-15].
pub fn log_loss(labels: &[bool], probabilities: &[f64]) -> f64 {
    let n = labels.len().max(1) as f64;
    labels
        .iter()
        .zip(probabilities)
        .map(|(&y, &p)| {
            let p = p.clamp(1e-15, 1.0 - 1e-15);
            if y { -p.ln() } else { -(1.0 - p).ln() }
        })
        .sum::<f64>()
        / n
}

/// Churn rate among the ⌊n / 10⌋ highest scores (at least one) over the overall churn rate.
pub fn lift_top_decile(labels: &[bool], scores: &[f64]) -> f64 {
    let overall = labels.iter().filter(|&&l| l).count() as f64 / labels.len().max(1) as f64;
    if overall == 0.0 {
        return 0.0;
    }
    let top = (labels.len() / 10).max(1);
    let order = by_score_desc(scores);
    let hits = order[..top.min(order.len())]
        .iter()
        .filter(|&&i| labels[i])
        .count() as f64;
    hits / top as f64 / overall
}

/// One probability bin of the calibration table.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CalibrationBin {
    pub low: f64,
    pub high: f64,
    pub customers: usize,
    pub mean_probability: f64,
    pub churn_rate: f64,
}

/// `bins` equal-width probability bins; empty bins are listed with zero customers.
pub fn calibration_table(
    labels: &[bool],
    probabilities: &[f64],
    bins: usize,
) -> Vec<CalibrationBin> {
    let mut count = vec![0usize; bins];
    let mut sum_p = vec![0.0; bins];
    let mut sum_y = vec![0.0; bins];
    for (&y, &p) in labels.iter().zip(probabilities) {
        let b = ((p * bins as f64) as usize).min(bins - 1);
        count[b] += 1;
        sum_p[b] += p;
        sum_y[b] += f64::from(u8::from(y));
    }
    (0..bins)
        .map(|b| {
            let n = count[b].max(1) as f64;
            CalibrationBin {
                low: b as f64 / bins as f64,
                high: (b + 1) as f64 / bins as f64,
                customers: count[b],
                mean_probability: sum_p[b] / n,
                churn_rate: sum_y[b] / n,
            }
        })
        .collect()
}

/// Σ over bins of (share of customers) × |churn rate − mean probability|.
pub fn expected_calibration_error(labels: &[bool], probabilities: &[f64], bins: usize) -> f64 {
    let n = labels.len().max(1) as f64;
    calibration_table(labels, probabilities, bins)
        .iter()
        .map(|b| b.customers as f64 / n * (b.churn_rate - b.mean_probability).abs())
        .sum()
}

/// One tenth of customers, highest scores first.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Decile {
    pub decile: usize,
    pub customers: usize,
    pub mean_probability: f64,
    pub churn_rate: f64,
    pub lift: f64,
}

pub fn decile_table(labels: &[bool], probabilities: &[f64]) -> Vec<Decile> {
    let n = labels.len();
    let overall = labels.iter().filter(|&&l| l).count() as f64 / n.max(1) as f64;
    let order = by_score_desc(probabilities);
    (0..10)
        .map(|d| {
            let members = &order[d * n / 10..(d + 1) * n / 10];
            let size = members.len().max(1) as f64;
            let rate = members.iter().filter(|&&i| labels[i]).count() as f64 / size;
            Decile {
                decile: d + 1,
                customers: members.len(),
                mean_probability: members.iter().map(|&i| probabilities[i]).sum::<f64>() / size,
                churn_rate: rate,
                lift: if overall > 0.0 { rate / overall } else { 0.0 },
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Reference values computed independently with scikit-learn 1.x:
    // roc_auc_score, average_precision_score, brier_score_loss, log_loss on these vectors.
    const Y: [bool; 12] = [
        true, false, true, true, false, false, true, false, false, true, false, true,
    ];
    const P: [f64; 12] = [
        0.9, 0.1, 0.8, 0.4, 0.4, 0.3, 0.65, 0.2, 0.7, 0.55, 0.05, 0.4,
    ];

    #[test]
    fn metrics_match_scikit_learn() {
        let m = ChurnMetrics::compute(&Y, &P);
        assert!((m.auc - 0.861_111_111_111_111_2).abs() < 1e-12, "{}", m.auc);
        assert!(
            (m.pr_auc - 0.841_666_666_666_666_6).abs() < 1e-12,
            "{}",
            m.pr_auc
        );
        assert!(
            (m.brier - 0.157_291_666_666_666_64).abs() < 1e-12,
            "{}",
            m.brier
        );
        assert!(
            (m.log_loss - 0.470_081_348_413_222_24).abs() < 1e-12,
            "{}",
            m.log_loss
        );
        // numpy: 10 equal-width bins, Σ share × |rate − mean p|.
        assert!(
            (m.ece - 0.270_833_333_333_333_26).abs() < 1e-12,
            "{}",
            m.ece
        );
        // Top ⌊12 / 10⌋ = 1 customer (p = 0.9, churned) over a churn rate of 0.5.
        assert!((m.lift_top_decile - 2.0).abs() < 1e-12);
    }

    #[test]
    fn auc_standard_error_matches_a_pairwise_delong() {
        // numpy, straight from DeLong et al. (1988): ψ(x, y) = 1, ½, 0 for every (positive,
        // negative) pair; V10 = row means, V01 = column means; var = s²(V10)/m + s²(V01)/n.
        // Ties across the classes at 0.8 and 0.4. AUC 0.6111 (scikit-learn agrees), SE below.
        let y = [
            true, false, true, true, false, false, true, false, true, false, false, true,
        ];
        let s = [0.9, 0.8, 0.8, 0.7, 0.6, 0.55, 0.5, 0.4, 0.4, 0.3, 0.2, 0.1];
        assert!((roc_auc(&y, &s) - 0.611_111_111_111_111_2).abs() < 1e-12);
        let se = roc_auc_standard_error(&y, &s).unwrap();
        assert!((se - 0.181_726_969_264_401_4).abs() < 1e-12, "{se}");
        // A single positive: no variance to estimate.
        assert_eq!(
            roc_auc_standard_error(&[true, false, false], &[0.3, 0.2, 0.1]),
            None
        );
        let m = ChurnMetrics::compute(&y, &s);
        let (low, high) = m.auc_interval().unwrap();
        assert!((low - (m.auc - 1.96 * se)).abs() < 1e-12 && high <= 1.0);
    }

    #[test]
    fn perfect_inverted_and_constant_scores() {
        let y = [false, false, true, true];
        assert_eq!(roc_auc(&y, &[0.1, 0.2, 0.8, 0.9]), 1.0);
        assert_eq!(roc_auc(&y, &[0.9, 0.8, 0.2, 0.1]), 0.0);
        assert_eq!(roc_auc(&y, &[0.5; 4]), 0.5);
        assert_eq!(average_precision(&y, &[0.1, 0.2, 0.8, 0.9]), 1.0);
    }

    #[test]
    fn deciles_cover_everyone_once() {
        let d = decile_table(&Y, &P);
        assert_eq!(d.iter().map(|x| x.customers).sum::<usize>(), 12);
        let bins = calibration_table(&Y, &P, 10);
        assert_eq!(bins.iter().map(|b| b.customers).sum::<usize>(), 12);
    }
}
