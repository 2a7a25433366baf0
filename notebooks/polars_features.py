"""A data team's Python polars script for customer features: the yardstick for `retain features`.

../shared/DEPENDENCIES.md sets the bar: retain should not be slower than the Python polars script a
data team would write. This is that script, written the plain way (lazy scan, streaming engine):
read the canonical columns, drop duplicate rows, keep valid purchases (DESIGN.md: customer id,
not a cancellation, quantity and price above 0), then per customer recency, frequency, money,
tenure, orders in the last 30 / 90 / 180 days, purchase days, the mean and spread of the gaps
between them, distinct products, median item price and lines in the last 180 days.

    pip install polars
    python notebooks/polars_features.py orders.parquet 2024-12-31   # or a CSV

It prints the time from scan to the collected table and writes features-polars.parquet beside
the current directory. It does less than `retain features`: no row accounting, no returns
netted out of money, no check of the date formats, no RFM scores.
"""

import sys
import time

import polars as pl


def main(path, as_of):
    started = time.time()
    if path.endswith(".parquet"):
        lf = pl.scan_parquet(path)
    else:
        ids = {"customer_id": pl.String, "order_id": pl.String, "product_id": pl.String}
        lf = pl.scan_csv(path, schema_overrides=ids)
    date = pl.col("order_date")
    if lf.collect_schema()["order_date"] == pl.String:
        date = date.str.to_datetime(strict=False)
    t = pl.lit(as_of).str.to_date()
    lines = (
        lf.unique()
        .with_columns(date.dt.date().alias("day"), (pl.col("quantity") * pl.col("unit_price")).alias("value"))
        .filter(
            pl.col("customer_id").is_not_null()
            & ~pl.col("order_id").str.starts_with("C")
            & (pl.col("quantity") > 0)
            & (pl.col("unit_price") > 0)
            & (pl.col("day") < t)
        )
    )
    orders = lines.group_by("customer_id", "order_id").agg(pl.col("day").min(), pl.col("value").sum())
    within = lambda days: (pl.col("day") >= t - pl.duration(days=days)).sum()
    customers = orders.group_by("customer_id").agg(
        (t - pl.col("day").max()).dt.total_days().alias("recency_days"),
        pl.len().alias("frequency"),
        pl.col("value").sum().alias("monetary_total"),
        (t - pl.col("day").min()).dt.total_days().alias("tenure_days"),
        within(30).alias("orders_30d"),
        within(90).alias("orders_90d"),
        within(180).alias("orders_180d"),
        pl.col("day").n_unique().alias("purchase_days"),
    )
    gaps = (
        orders.select("customer_id", "day")
        .unique()
        .sort("customer_id", "day")
        .with_columns(pl.col("day").diff().dt.total_days().over("customer_id").alias("gap"))
        .group_by("customer_id")
        .agg(pl.col("gap").mean().alias("gap_mean_days"), pl.col("gap").std(ddof=0).alias("gap_std_days"))
    )
    products = lines.group_by("customer_id").agg(
        pl.col("product_id").n_unique().alias("distinct_products"),
        pl.col("unit_price").median().alias("median_unit_price"),
        within(180).alias("lines_180d"),
    )
    table = (
        customers.join(gaps, on="customer_id", how="left")
        .join(products, on="customer_id", how="left")
        .sort("customer_id")
        .collect(engine="streaming")
    )
    print(f"{table.height:,} customers in {time.time() - started:.2f} s")
    table.write_parquet("features-polars.parquet")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
