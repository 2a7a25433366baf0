"""The reference churn model of DESIGN.md, rebuilt, at several cutoffs: a yardstick for `retain backtest`.

DESIGN.md's reference figures come from a Python pipeline (scikit-learn logistic regression on
RFM-style features). This script rebuilds that model on the backtest protocol (valid purchases,
population, labels, features at c - H for training and at c for testing) so that retain can be
compared with it at cutoffs other than the one DESIGN.md lists:

    pip install pandas scikit-learn
    python notebooks/reference_model.py data/online_retail/transactions.csv.gz \
        2011-05-13 2011-06-12 2011-07-12 2011-08-11 2011-09-10

At 2011-09-10 it gives ROC AUC 0.7440 and Brier 0.2076 (DESIGN.md: 0.743 and 0.207). The input
is a file with the canonical columns (customer_id, order_id, order_date, product_id, quantity,
unit_price); "C" starts a cancelled order's id, as in Online Retail.
"""

import sys

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.preprocessing import StandardScaler

HORIZON = pd.Timedelta(days=90)


def valid_purchases(path):
    """Customer id present, not a cancellation, quantity > 0 and unit price > 0."""
    df = pd.read_csv(path, dtype={"customer_id": str, "order_id": str, "product_id": str})
    valid = (
        df.customer_id.notna()
        & ~df.order_id.str.startswith("C")
        & (df.quantity > 0)
        & (df.unit_price > 0)
    )
    lines = df[valid].copy()
    lines["day"] = pd.to_datetime(lines.order_date).dt.normalize()
    lines["value"] = lines.quantity * lines.unit_price
    return lines


def features(lines, t):
    """Recency, frequency, monetary value, tenure, average order value, orders in the last 90
    days, distinct products and overdue ratio of every customer with a purchase before t."""
    before = lines[lines.day < t]
    orders = (
        before.groupby(["customer_id", "order_id"])
        .agg(day=("day", "min"), value=("value", "sum"))
        .reset_index()
    )
    by = orders.groupby("customer_id")
    f = pd.DataFrame(
        {
            "recency": (t - by.day.max()).dt.days,
            "frequency": by.size(),
            "monetary": by.value.sum(),
            "tenure": (t - by.day.min()).dt.days,
            "avg_order_value": by.value.mean(),
            "orders_90d": orders[orders.day >= t - HORIZON].groupby("customer_id").size(),
            "distinct_products": before.groupby("customer_id").product_id.nunique(),
        }
    )
    f["orders_90d"] = f.orders_90d.fillna(0)
    days = by.day.nunique()
    usual_gap = ((by.day.max() - by.day.min()).dt.days / (days - 1)).where(days > 1)
    f["overdue"] = (f.recency / usual_gap).fillna(f.recency / f.tenure.clip(lower=1))
    return f


def churned(lines, t, customers):
    """1 where the customer has no valid purchase in [t, t + horizon)."""
    buyers = set(lines[(lines.day >= t) & (lines.day < t + HORIZON)].customer_id)
    return np.array([0 if c in buyers else 1 for c in customers])


def ece(p, y, bins=10):
    """Expected calibration error over equal-width probability bins."""
    b = np.minimum((p * bins).astype(int), bins - 1)
    return sum(abs(p[b == k].mean() - y[b == k].mean()) * (b == k).sum() for k in range(bins) if (b == k).any()) / len(p)


def main(path, cutoffs):
    lines = valid_purchases(path)
    print("| cutoff | test customers | churn rate | ROC AUC | Brier | ECE | recency alone |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for c in map(pd.Timestamp, cutoffs):
        train = features(lines, c - HORIZON)
        test = features(lines, c)
        y_train = churned(lines, c - HORIZON, train.index)
        y_test = churned(lines, c, test.index)
        scaler = StandardScaler().fit(train)
        model = LogisticRegression(C=1.0, max_iter=1000).fit(scaler.transform(train), y_train)
        p = model.predict_proba(scaler.transform(test))[:, 1]
        print(
            f"| {c.date()} | {len(test):,} | {y_test.mean():.3f} | {roc_auc_score(y_test, p):.4f} "
            f"| {brier_score_loss(y_test, p):.4f} | {ece(p, y_test):.3f} "
            f"| {roc_auc_score(y_test, test.recency):.3f} |"
        )


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2:])
