#!/usr/bin/env python3
"""The reference for `redgrid power bench`: the same per-meter-day features (sum, max, min, night
share) computed by DuckDB and by Polars over the same readings, in two layouts:

- wide: one row per meter-day with 96 float32 columns (their fastest layout for this);
- long: one row per reading (meter-day, slot, kWh), as meter data usually arrives, grouped.

The data are loaded into memory first and loading is not timed. Prints one line per engine and
layout: name, best seconds of 3, readings. The packages are for the benchmark only:
    pip install duckdb polars numpy pyarrow
"""
import sys
import time

import numpy as np

path, rows = sys.argv[1], int(sys.argv[2])
long_rows = min(rows, int(sys.argv[3]) if len(sys.argv) > 3 else rows)
values = np.fromfile(path, dtype=np.float32).reshape(rows, 96)
cols = [f"v{i}" for i in range(96)]
night = cols[:24]


def best(f):
    t = []
    for _ in range(3):
        s = time.perf_counter()
        f()
        t.append(time.perf_counter() - s)
    return min(t)


def long_arrays():
    sub = values[:long_rows]
    day = np.repeat(np.arange(long_rows, dtype=np.int32), 96)
    slot = np.tile(np.arange(96, dtype=np.int8), long_rows)
    return day, slot, sub.reshape(-1)


try:
    import polars as pl

    df = pl.DataFrame({c: values[:, i] for i, c in enumerate(cols)})

    def wide():
        total = pl.sum_horizontal(cols)
        return df.select(
            total.alias("sum"),
            pl.max_horizontal(cols).alias("max"),
            pl.min_horizontal(cols).alias("min"),
            (pl.sum_horizontal(night) / total).alias("night_share"),
        ).height

    wide()
    print("polars-wide", best(wide), rows * 96)
    day, slot, kwh = long_arrays()
    ldf = pl.DataFrame({"day": day, "slot": slot, "kwh": kwh})

    def long():
        return (
            ldf.group_by("day")
            .agg(
                pl.col("kwh").sum().alias("sum"),
                pl.col("kwh").max().alias("max"),
                pl.col("kwh").min().alias("min"),
                (pl.col("kwh").filter(pl.col("slot") < 24).sum() / pl.col("kwh").sum()).alias("night_share"),
            )
            .height
        )

    long()
    print("polars-long", best(long), long_rows * 96)
    del ldf
except ImportError as e:
    print(f"polars not installed ({e})")

try:
    import duckdb
    import pyarrow as pa

    con = duckdb.connect()
    con.execute("SET threads TO 2")
    table = pa.table({c: values[:, i] for i, c in enumerate(cols)})
    con.register("readings", table)
    s = " + ".join(cols)
    sql = (
        f"SELECT sum(t), sum(mx), sum(mn), sum(ns) FROM (SELECT ({s}) AS t, greatest({', '.join(cols)}) AS mx, "
        f"least({', '.join(cols)}) AS mn, ({' + '.join(night)}) / ({s}) AS ns FROM readings)"
    )
    con.execute(sql).fetchall()
    print("duckdb-wide", best(lambda: con.execute(sql).fetchall()), rows * 96)
    day, slot, kwh = long_arrays()
    con.register("long_readings", pa.table({"day": day, "slot": slot, "kwh": kwh}))
    lsql = (
        "SELECT count(*) FROM (SELECT day, sum(kwh) AS t, max(kwh) AS mx, min(kwh) AS mn, "
        "sum(kwh) FILTER (WHERE slot < 24) / sum(kwh) AS ns FROM long_readings GROUP BY day)"
    )
    con.execute(lsql).fetchall()
    print("duckdb-long", best(lambda: con.execute(lsql).fetchall()), long_rows * 96)
except ImportError as e:
    print(f"duckdb not installed ({e})")
