#!/usr/bin/env python3
"""Label the unmistakable absences in real readings, by a rule independent of redgrid's detectors.

Real meter data comes without absence labels. To measure unoccupied-day recall and the share of
occupied days flagged on it anyway, this labels only what a person reading the daily totals would
not doubt: a stretch of at least MIN_DAYS days on which every day's use is below SHARE of the
household's own median day, or below FLOOR kWh (no cooking, no lights worth the name: a home
nobody lives in, which its own median cannot show), counted from the readings alone. It
does not look at nights, evenings or bursts, which is what the detectors use; days between the
two (a quiet day) stay unlabelled and count as occupied, so a detector flagging them is charged
for it.

    python3 scripts/real_power_labels.py readings.csv labels.csv [--share 0.4] [--floor 1.0] [--min-days 7]

readings.csv as `scripts/real_power_bamberg.py` writes it (meter,time,kwh); labels.csv is what
`redgrid power eval --labels` reads (meter,label,from,to; label `vacant`). A day with any missing
quarter-hour breaks a stretch, and so does a day of exact zeros (a dead meter, or the power
switched off at the board: redgrid calls it a fault, and it is not the absence this measures).
"""

import argparse
import collections
import datetime as dt
import statistics
import sys


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("readings")
    ap.add_argument("labels")
    ap.add_argument("--share", type=float, default=0.4)
    ap.add_argument("--floor", type=float, default=1.0)
    ap.add_argument("--min-days", type=int, default=7)
    args = ap.parse_args()
    totals: dict[str, dict[str, float]] = collections.defaultdict(lambda: collections.defaultdict(float))
    counts: dict[str, dict[str, int]] = collections.defaultdict(lambda: collections.defaultdict(int))
    with open(args.readings) as f:
        next(f)
        for line in f:
            meter, time, kwh = line.rstrip("\n").split(",")
            value = float(kwh)
            if value < 0 or value > 15:  # what redgrid refuses as negative or impossible
                continue
            day = time[:10]
            totals[meter][day] += value
            counts[meter][day] += 1
    spells = 0
    days = 0
    with open(args.labels, "w") as out:
        out.write("meter,label,from,to\n")
        for meter in sorted(totals):
            full = {d: t for d, t in totals[meter].items() if counts[meter][d] == 96}
            if len(full) < 14:
                continue
            floor = max(args.share * statistics.median(full.values()), args.floor)
            run: list[str] = []
            ordered = sorted(totals[meter])
            for i, d in enumerate(ordered + [None]):
                low = d is not None and d in full and 0 < full[d] < floor
                consecutive = (
                    d is not None
                    and run
                    and dt.date.fromisoformat(d) - dt.date.fromisoformat(run[-1]) == dt.timedelta(days=1)
                )
                if low and (not run or consecutive):
                    run.append(d)
                    continue
                if len(run) >= args.min_days:
                    out.write(f"{meter},vacant,{run[0]},{run[-1]}\n")
                    spells += 1
                    days += len(run)
                run = [d] if low else []
    print(f"{spells} unmistakable absences of {args.min_days}+ days, {days} days, labelled in {args.labels}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
