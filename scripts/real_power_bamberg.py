#!/usr/bin/env python3
"""Turn a published set of real meter readings into files `redgrid power` ingests.

The set: 537 Swiss households' 15-minute electricity use over seven weeks (29 Oct - 16 Dec 2018),
from the CRAN package ResidentialEnergyConsumption 1.1.0 (`elcons_15min`, CC BY-SA 4.0; Weigert,
Hopf, Weinig, Staake, University of Bamberg). Its `data/elcons_15min.rda` holds one table per ISO
week (w44..w50), a row per household (`VID`) and 672 quarter-hour columns (V001..V672, Monday
00:00 first), in kWh.

    pip install rdata
    python3 scripts/real_power_bamberg.py elcons_15min.rda OUT_DIR [--watch-routine]

writes OUT_DIR/meters.csv (a register: every household a dwelling in one grid of district 120116)
and OUT_DIR/readings.csv. Local wall-clock times are kept and given the district's +08:00 offset:
what the detectors read is when in the day people are up, not the instant. A missing value (NA)
is left out, so redgrid stores it as missing.

--watch-routine marks every household `elderly_alone` with consent from the first day. None of them
is known to be an elderly person living alone; the point is to count how many routine episodes the
detector raises on real households with no known break (the false-alarm side of the target).
"""

import argparse
import csv
import datetime as dt
import math
import os
import sys

WEEK_START = {  # ISO week of 2018 -> its Monday
    f"w{w}": dt.date(2018, 10, 29) + dt.timedelta(weeks=w - 44) for w in range(44, 51)
}
GRID = "12011600100100"  # one grid; only the district prefix (120116) matters to the detectors
SLOTS = 672


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("rda")
    ap.add_argument("out")
    ap.add_argument("--watch-routine", action="store_true")
    args = ap.parse_args()
    try:
        import rdata  # type: ignore
    except ImportError:
        print("needs the rdata package: pip install rdata", file=sys.stderr)
        return 2
    weeks = rdata.conversion.convert(rdata.parser.parse_file(args.rda))["elcons_15min"]
    os.makedirs(args.out, exist_ok=True)
    meters: set[str] = set()
    rows = missing = 0
    with open(os.path.join(args.out, "readings.csv"), "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["meter", "time", "kwh"])
        for week, table in sorted(weeks.items()):
            monday = WEEK_START[week]
            cols = [f"V{i:03d}" for i in range(1, SLOTS + 1)]
            for _, rec in table.iterrows():
                meter = str(int(rec["VID"]))
                meters.add(meter)
                for i, col in enumerate(cols):
                    v = rec[col]
                    if v is None or (isinstance(v, float) and math.isnan(v)):
                        missing += 1
                        continue
                    t = dt.datetime.combine(monday, dt.time()) + dt.timedelta(minutes=15 * i)
                    out.writerow([meter, t.strftime("%Y-%m-%dT%H:%M:00+08:00"), f"{float(v):.3f}"])
                    rows += 1
    first = min(WEEK_START.values()).isoformat()
    with open(os.path.join(args.out, "meters.csv"), "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(["code", "kind", "grid_code", "address", "facts", "consent"])
        for m in sorted(meters):
            facts, consent = ("elderly_alone", first) if args.watch_routine else ("", "")
            out.writerow([m, "dwelling", GRID, f"household {m}", facts, consent])
    print(f"{len(meters)} meters, {rows} readings, {missing} missing values left out")
    return 0


if __name__ == "__main__":
    sys.exit(main())
