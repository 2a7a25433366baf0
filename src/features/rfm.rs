//! RFM scores (1-5 by rank within the population) and the named segment grid.

use serde::Serialize;

/// Named RFM segments. The grid in [`Segment::from_scores`] is the rule table the README documents.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Segment {
    Champions,
    Loyal,
    PotentialLoyalist,
    New,
    Promising,
    NeedAttention,
    AboutToSleep,
    AtRisk,
    CantLoseThem,
    Hibernating,
    Lost,
}

impl Segment {
    pub const ALL: [Segment; 11] = [
        Segment::Champions,
        Segment::Loyal,
        Segment::PotentialLoyalist,
        Segment::New,
        Segment::Promising,
        Segment::NeedAttention,
        Segment::AboutToSleep,
        Segment::AtRisk,
        Segment::CantLoseThem,
        Segment::Hibernating,
        Segment::Lost,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Segment::Champions => "Champions",
            Segment::Loyal => "Loyal",
            Segment::PotentialLoyalist => "Potential loyalist",
            Segment::New => "New",
            Segment::Promising => "Promising",
            Segment::NeedAttention => "Need attention",
            Segment::AboutToSleep => "About to sleep",
            Segment::AtRisk => "At risk",
            Segment::CantLoseThem => "Can't lose them",
            Segment::Hibernating => "Hibernating",
            Segment::Lost => "Lost",
        }
    }

    /// The segment grid: rows are the recency score R, columns the rounded mean of F and M
    /// rounded up (`FM = ⌈(F + M) / 2⌉`).
    ///
    /// | R \ FM | 1 | 2 | 3 | 4 | 5 |
    /// | --- | --- | --- | --- | --- | --- |
    /// | 5 | New | Potential loyalist | Potential loyalist | Champions | Champions |
    /// | 4 | Promising | Potential loyalist | Potential loyalist | Loyal | Champions |
    /// | 3 | About to sleep | About to sleep | Need attention | Loyal | Loyal |
    /// | 2 | Hibernating | Hibernating | At risk | At risk | Can't lose them |
    /// | 1 | Lost | Lost | At risk | At risk | Can't lose them |
    pub fn from_scores(r: u8, f: u8, m: u8) -> Segment {
        use Segment::*;
        const GRID: [[Segment; 5]; 5] = [
            [Lost, Lost, AtRisk, AtRisk, CantLoseThem],
            [Hibernating, Hibernating, AtRisk, AtRisk, CantLoseThem],
            [AboutToSleep, AboutToSleep, NeedAttention, Loyal, Loyal],
            [
                Promising,
                PotentialLoyalist,
                PotentialLoyalist,
                Loyal,
                Champions,
            ],
            [
                New,
                PotentialLoyalist,
                PotentialLoyalist,
                Champions,
                Champions,
            ],
        ];
        let r = r.clamp(1, 5);
        let fm = (f.clamp(1, 5) + m.clamp(1, 5)).div_ceil(2);
        GRID[usize::from(r - 1)][usize::from(fm - 1)]
    }
}

/// Scores 1-5 by rank: `1 + ⌊5 · (rank_min − 1) / n⌋`, where `rank_min` is the 1-based rank of
/// the value (ascending; equal values share the lowest rank, so ties always get the same score).
/// With `higher_is_better = false` (recency), smaller values score higher.
pub fn quintile_scores(values: &[f64], higher_is_better: bool) -> Vec<u8> {
    let n = values.len();
    let key = |i: usize| {
        if higher_is_better {
            values[i]
        } else {
            -values[i]
        }
    };
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| key(a).total_cmp(&key(b)));
    let mut scores = vec![0u8; n];
    let mut rank_min = 0;
    for (pos, &i) in order.iter().enumerate() {
        if pos == 0 || key(i).total_cmp(&key(order[pos - 1])).is_ne() {
            rank_min = pos;
        }
        // rank_min is 0-based here: score = 1 + 5·rank_min / n, at most 5.
        scores[i] = (1 + 5 * rank_min / n) as u8;
    }
    scores
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quintiles_by_rank_with_ties_sharing_a_score() {
        // 10 values: ranks 0..9 → scores 1,1,2,2,3,3,4,4,5,5; the tied 7s share rank 6 → score 4.
        let values = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 7.0, 9.0, 10.0];
        assert_eq!(
            quintile_scores(&values, true),
            vec![1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
        );
        let recency = [1.0, 100.0, 50.0, 50.0, 10.0];
        // Descending: 100 → rank 0 → 1; 50,50 → rank 1 → 2; 10 → rank 3 → 4; 1 → rank 4 → 5.
        assert_eq!(quintile_scores(&recency, false), vec![5, 1, 2, 2, 4]);
    }

    #[test]
    fn all_equal_values_score_one() {
        assert_eq!(quintile_scores(&[3.0; 4], true), vec![1, 1, 1, 1]);
    }

    #[test]
    fn grid_corners_and_every_segment_reachable() {
        assert_eq!(Segment::from_scores(5, 5, 5), Segment::Champions);
        assert_eq!(Segment::from_scores(1, 1, 1), Segment::Lost);
        assert_eq!(Segment::from_scores(1, 5, 5), Segment::CantLoseThem);
        assert_eq!(Segment::from_scores(5, 1, 1), Segment::New);
        assert_eq!(Segment::from_scores(3, 3, 2), Segment::NeedAttention);
        let mut seen = std::collections::BTreeSet::new();
        for r in 1..=5 {
            for f in 1..=5 {
                for m in 1..=5 {
                    seen.insert(Segment::from_scores(r, f, m));
                }
            }
        }
        assert_eq!(seen.len(), Segment::ALL.len());
    }
}
