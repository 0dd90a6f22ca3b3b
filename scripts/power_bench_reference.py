#!/usr/bin/env python3
"""The reference for `redgrid-bench power`: the same per-meter-day features (sum, max, min, night
share = use 00:00-06:00 / the day's use) computed by DuckDB and by Polars over the same readings.

Called by the bench as
    power_bench_reference.py VALUES ROWS LONG_ROWS KEYS WORKDIR
VALUES holds ROWS meter-days of 96 float32 kWh, KEYS each row's meter and day number (two int32).

Two kinds of run, each engine on two threads:

In memory (the data are loaded first; loading is not timed) - each engine's best case:
- wide: one row per meter-day, 96 float32 columns;
- long-keyed: one row per reading with a ready meter-day key and slot number;
- long: one row per reading as meter data arrive and as redgrid ingests them
  (meter, local time, kWh): the day and the hour come from the time.

From files (timed from the file to the features, the file in the page cache), as redgrid's
detectors are timed from its stored segments:
- parquet-long / parquet-wide: a Parquet file written by pyarrow (snappy), read by the engine;
- duckdb-table-long: DuckDB's own database file holding the long table.

The long runs use the first LONG_ROWS meter-days. Prints one line per run:
name, best seconds of 3, readings, and a description; and, untimed, a line
"check ENGINE Σtotal Σmax Σmin Σnight" over the wide data, which the bench compares with its own. The packages are for the benchmark only:
    pip install duckdb polars numpy pyarrow
"""
import os
import sys
import time

import numpy as np

path, rows = sys.argv[1], int(sys.argv[2])
long_rows = min(rows, int(sys.argv[3]) if len(sys.argv) > 3 else rows)
keys_path = sys.argv[4] if len(sys.argv) > 4 else None
workdir = sys.argv[5] if len(sys.argv) > 5 else os.path.dirname(path)
values = np.fromfile(path, dtype=np.float32).reshape(rows, 96)
cols = [f"v{i}" for i in range(96)]
night = cols[:24]


def best(f):
    f()
    t = []
    for _ in range(3):
        s = time.perf_counter()
        f()
        t.append(time.perf_counter() - s)
    return min(t)


def report(name, secs, readings, what):
    print(name, secs, readings, what, flush=True)


def keyed_arrays():
    sub = values[:long_rows]
    day = np.repeat(np.arange(long_rows, dtype=np.int32), 96)
    slot = np.tile(np.arange(96, dtype=np.int8), long_rows)
    return day, slot, sub.reshape(-1)


def arriving_arrays():
    """(meter, time, kWh) per reading, the time as local datetime64[us]."""
    k = np.fromfile(keys_path, dtype=np.int32).reshape(-1, 2)[:long_rows]
    meter = np.repeat(k[:, 0], 96)
    seconds = (np.repeat(k[:, 1].astype(np.int64), 96) * 86400) + np.tile(
        np.arange(96, dtype=np.int64) * 900, long_rows
    )
    return meter, (seconds * 1_000_000).astype("datetime64[us]"), values[:long_rows].reshape(-1)


long_n = long_rows * 96
have_keys = keys_path is not None and os.path.exists(keys_path)
wide_pq = os.path.join(workdir, "reference-wide.parquet")
long_pq = os.path.join(workdir, "reference-long.parquet")
duck_db = os.path.join(workdir, "reference.duckdb")
written = []

try:
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({c: values[:, i] for i, c in enumerate(cols)}), wide_pq)
    written.append(wide_pq)
    if have_keys:
        m, t, v = arriving_arrays()
        pq.write_table(pa.table({"meter": m, "time": t, "kwh": v}), long_pq)
        written.append(long_pq)
        del m, t, v
except ImportError as e:
    print(f"pyarrow not installed ({e}): no file runs")

try:
    import polars as pl


    def wide_exprs():
        total = pl.sum_horizontal(cols)
        return [
            total.alias("sum"),
            pl.max_horizontal(cols).alias("max"),
            pl.min_horizontal(cols).alias("min"),
            (pl.sum_horizontal(night) / total).alias("night_share"),
        ]

    def long_aggs(is_night):
        return [
            pl.col("kwh").sum().alias("sum"),
            pl.col("kwh").max().alias("max"),
            pl.col("kwh").min().alias("min"),
            (pl.col("kwh").filter(is_night).sum() / pl.col("kwh").sum()).alias("night_share"),
        ]

    df = pl.DataFrame({c: values[:, i] for i, c in enumerate(cols)})
    # Untimed: the answers' sums, which the bench compares with redgrid's.
    f64 = [pl.col(c).cast(pl.Float64) for c in cols]
    got = df.select(
        pl.sum_horizontal(f64).sum().alias("t"), pl.max_horizontal(f64).sum().alias("mx"),
        pl.min_horizontal(f64).sum().alias("mn"), pl.sum_horizontal(f64[:24]).sum().alias("n"),
    ).row(0)
    print("check polars-wide", *got, flush=True)
    report("polars-wide", best(lambda: df.select(wide_exprs()).height), rows * 96,
           "in memory: 96 float32 columns")
    del df
    day, slot, kwh = keyed_arrays()
    ldf = pl.DataFrame({"day": day, "slot": slot, "kwh": kwh})
    report("polars-long-keyed",
           best(lambda: ldf.group_by("day").agg(long_aggs(pl.col("slot") < 24)).height), long_n,
           "in memory: a ready meter-day key and slot per reading")
    del ldf, day, slot, kwh
    if have_keys:
        m, t, v = arriving_arrays()
        adf = pl.DataFrame({"meter": m, "time": t, "kwh": v})
        del m, t, v
        by = [pl.col("meter"), pl.col("time").dt.date().alias("date")]
        hour = pl.col("time").dt.hour() < 6
        report("polars-long", best(lambda: adf.group_by(by).agg(long_aggs(hour)).height), long_n,
               "in memory: meter, time, kWh as they arrive")
        del adf
    if wide_pq in written:
        report("polars-parquet-wide",
               best(lambda: pl.scan_parquet(wide_pq).select(wide_exprs()).collect().height),
               rows * 96, "from a Parquet file: 96 columns")
    if long_pq in written:
        by = [pl.col("meter"), pl.col("time").dt.date().alias("date")]
        hour = pl.col("time").dt.hour() < 6
        report("polars-parquet-long",
               best(lambda: pl.scan_parquet(long_pq).group_by(by).agg(long_aggs(hour))
                    .collect().height),
               long_n, "from a Parquet file: meter, time, kWh")
except ImportError as e:
    print(f"polars not installed ({e})")

try:
    import duckdb
    import pyarrow as pa

    con = duckdb.connect()
    con.execute("SET threads TO 2")
    s = " + ".join(cols)
    wide_sql = (
        "SELECT sum(t), sum(mx), sum(mn), sum(ns), count(*) FROM (SELECT ({s}) AS t, "
        "greatest({c}) AS mx, least({c}) AS mn, ({n}) / ({s}) AS ns FROM {src})"
    ).format(s=s, c=", ".join(cols), n=" + ".join(night), src="{src}")
    # Every feature is summed in the outer query, so none of them can be optimised away.
    long_sql = (
        "SELECT sum(t), sum(mx), sum(mn), sum(ns), count(*) FROM (SELECT sum(kwh) AS t, "
        "max(kwh) AS mx, min(kwh) AS mn, sum(kwh) FILTER (WHERE {night}) / sum(kwh) AS ns "
        "FROM {src} GROUP BY {by})"
    )
    run = lambda sql: con.execute(sql).fetchall()  # noqa: E731
    con.register("readings", pa.table({c: values[:, i] for i, c in enumerate(cols)}))
    check = (
        "SELECT sum({s}), sum(greatest({c})), sum(least({c})), sum({n}) FROM readings"
    ).format(s=" + ".join(f"{c}::DOUBLE" for c in cols), c=", ".join(cols),
             n=" + ".join(f"{c}::DOUBLE" for c in night))
    print("check duckdb-wide", *con.execute(check).fetchone(), flush=True)
    q = wide_sql.format(src="readings")
    report("duckdb-wide", best(lambda: run(q)), rows * 96, "in memory: 96 float32 columns")
    con.unregister("readings")
    day, slot, kwh = keyed_arrays()
    con.register("keyed", pa.table({"day": day, "slot": slot, "kwh": kwh}))
    q = long_sql.format(night="slot < 24", src="keyed", by="day")
    report("duckdb-long-keyed", best(lambda: run(q)), long_n,
           "in memory: a ready meter-day key and slot per reading")
    con.unregister("keyed")
    del day, slot, kwh
    arriving = long_sql.format(night="hour(time) < 6", src="{src}", by="meter, CAST(time AS DATE)")
    if have_keys:
        m, t, v = arriving_arrays()
        con.register("arriving", pa.table({"meter": m, "time": t, "kwh": v}))
        del m, t, v
        q = arriving.format(src="arriving")
        report("duckdb-long", best(lambda: run(q)), long_n,
               "in memory: meter, time, kWh as they arrive")
        con.unregister("arriving")
    if wide_pq in written:
        q = wide_sql.format(src=f"read_parquet('{wide_pq}')")
        report("duckdb-parquet-wide", best(lambda: run(q)), rows * 96,
               "from a Parquet file: 96 columns")
    if long_pq in written:
        q = arriving.format(src=f"read_parquet('{long_pq}')")
        report("duckdb-parquet-long", best(lambda: run(q)), long_n,
               "from a Parquet file: meter, time, kWh")
        if os.path.exists(duck_db):
            os.remove(duck_db)
        disk = duckdb.connect(duck_db)
        disk.execute("SET threads TO 2")
        disk.execute(f"CREATE TABLE readings AS SELECT * FROM read_parquet('{long_pq}')")
        disk.close()
        written.append(duck_db)
        disk = duckdb.connect(duck_db, read_only=True)
        disk.execute("SET threads TO 2")
        q = arriving.format(src="readings")
        report("duckdb-table-long", best(lambda: disk.execute(q).fetchall()), long_n,
               "from DuckDB's own database file: meter, time, kWh")
        disk.close()
except ImportError as e:
    print(f"duckdb not installed ({e})")

for f in written:
    try:
        os.remove(f)
    except OSError:
        pass
