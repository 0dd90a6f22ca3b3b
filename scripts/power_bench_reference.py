#!/usr/bin/env python3
"""The reference for `redgrid power bench`: the same per-meter-day features (sum, max, min, night
share) computed by DuckDB and by Polars over the same readings, held in memory as a 96-column
table (their fastest layout for this). Prints one line per engine: name and best seconds of 3.
Loading the data is not timed. The packages are installed for the benchmark only:
    pip install duckdb polars numpy pyarrow
"""
import sys
import time

import numpy as np

path, rows = sys.argv[1], int(sys.argv[2])
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


try:
    import polars as pl

    df = pl.DataFrame({c: values[:, i] for i, c in enumerate(cols)})

    def run_polars():
        total = pl.sum_horizontal(cols)
        out = df.select(
            total.alias("sum"),
            pl.max_horizontal(cols).alias("max"),
            pl.min_horizontal(cols).alias("min"),
            (pl.sum_horizontal(night) / total).alias("night_share"),
        )
        return out.height

    run_polars()
    print("polars", best(run_polars))
except ImportError as e:
    print(f"polars not installed ({e})")

try:
    import duckdb
    import pyarrow as pa

    table = pa.table({c: values[:, i] for i, c in enumerate(cols)})
    con = duckdb.connect()
    con.execute("SET threads TO 2")
    con.register("readings", table)
    s = " + ".join(cols)
    sql = (
        f"SELECT sum(t), sum(mx), sum(mn), sum(ns) FROM (SELECT ({s}) AS t, greatest({', '.join(cols)}) AS mx, "
        f"least({', '.join(cols)}) AS mn, ({' + '.join(night)}) / ({s}) AS ns FROM readings)"
    )

    def run_duckdb():
        return con.execute(sql).fetchall()

    run_duckdb()
    print("duckdb", best(run_duckdb))
except ImportError as e:
    print(f"duckdb not installed ({e})")
