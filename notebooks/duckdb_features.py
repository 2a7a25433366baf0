"""DuckDB's answer to `retain features`: the yardstick of [scale] (.ci/bench-scale runs both).

The RFM-style aggregates a data team would write in SQL: drop duplicate rows, keep valid
purchases (DESIGN.md: customer id, not a cancellation, quantity and price above 0, before the
as-of date), then per customer recency, frequency, money, tenure, orders in the last 30 / 90 /
180 days, purchase days, the mean and spread of the gaps between purchase days, distinct
products, and R, F, M quintile scores. With a memory limit DuckDB spills to disk.

    pip install duckdb
    python notebooks/duckdb_features.py orders.parquet 2024-12-31 [--memory-limit 6GB] [--threads 2]

The input is a Parquet file or a (gzip) CSV of the canonical columns. It prints the seconds from
query to written file and writes features-duckdb.parquet in the current directory. It does less
than `retain features`: no row accounting, no returns netted out of money, no date-format
checks, no median price or last-order units.
"""

import argparse
import time

import duckdb

QUERY = """
WITH raw AS (SELECT DISTINCT * FROM {source}),
lines AS (
    SELECT customer_id, order_id, product_id,
           CAST(order_date AS DATE) AS day,
           quantity * unit_price AS value
    FROM raw
    WHERE customer_id IS NOT NULL
      AND NOT starts_with(order_id, 'C')
      AND quantity > 0 AND unit_price > 0
      AND CAST(order_date AS DATE) < DATE '{as_of}'
),
orders AS (
    SELECT customer_id, order_id, min(day) AS day, sum(value) AS value
    FROM lines GROUP BY customer_id, order_id
),
days AS (
    SELECT customer_id, day,
           day - lag(day) OVER (PARTITION BY customer_id ORDER BY day) AS gap
    FROM (SELECT DISTINCT customer_id, day FROM orders)
),
gaps AS (
    SELECT customer_id, count(*) AS purchase_days,
           avg(gap) AS gap_mean_days, stddev_samp(gap) AS gap_std_days
    FROM days GROUP BY customer_id
),
products AS (
    SELECT customer_id, count(DISTINCT product_id) AS distinct_products
    FROM lines GROUP BY customer_id
),
customers AS (
    SELECT customer_id,
           DATE '{as_of}' - max(day) AS recency_days,
           count(*) AS frequency,
           sum(value) AS monetary_total,
           DATE '{as_of}' - min(day) AS tenure_days,
           count(*) FILTER (WHERE day >= DATE '{as_of}' - 30) AS orders_30d,
           count(*) FILTER (WHERE day >= DATE '{as_of}' - 90) AS orders_90d,
           count(*) FILTER (WHERE day >= DATE '{as_of}' - 180) AS orders_180d
    FROM orders GROUP BY customer_id
)
SELECT c.*, g.purchase_days, g.gap_mean_days, g.gap_std_days, p.distinct_products,
       6 - ntile(5) OVER (ORDER BY recency_days) AS r_score,
       ntile(5) OVER (ORDER BY frequency) AS f_score,
       ntile(5) OVER (ORDER BY monetary_total) AS m_score
FROM customers c JOIN gaps g USING (customer_id) JOIN products p USING (customer_id)
ORDER BY customer_id
"""


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("input")
    parser.add_argument("as_of")
    parser.add_argument("--memory-limit", default=None)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", default="features-duckdb.parquet")
    args = parser.parse_args()
    con = duckdb.connect()
    if args.memory_limit:
        con.execute(f"SET memory_limit = '{args.memory_limit}'")
    if args.threads:
        con.execute(f"SET threads = {args.threads}")
    if args.input.endswith(".parquet"):
        source = f"read_parquet('{args.input}')"
    else:
        source = (
            f"read_csv('{args.input}', header = true, "
            "types = {'customer_id': 'VARCHAR', 'order_id': 'VARCHAR', 'product_id': 'VARCHAR'})"
        )
    started = time.time()
    query = QUERY.format(source=source, as_of=args.as_of)
    con.execute(f"COPY ({query}) TO '{args.out}' (FORMAT parquet)")
    rows = con.execute(f"SELECT count(*) FROM read_parquet('{args.out}')").fetchone()[0]
    print(f"{rows} customers in {time.time() - started:.2f} s")


if __name__ == "__main__":
    main()
