"""Reads tokbench's markdown table and prints how far each t/s figure is from
the rate tokmock was configured with (pp rows vs --pp-rate, tg rows vs
--tg-rate). Usage: demo_compare.py TABLE.md PP_RATE TG_RATE"""
import sys

table, pp_rate, tg_rate = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
rows = []
with open(table, encoding="utf-8") as f:
    for line in f:
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or "±" not in cells[2]:
            continue
        rows.append((cells[1], float(cells[2].split("±")[0])))
print()
print("distance from tokmock's configured truth:")
worst = 0.0
for test, value in rows:
    kind = test.split()[0]
    truth = pp_rate if kind.endswith("pp") or kind.startswith("pp") else tg_rate
    err = (value - truth) / truth * 100
    worst = max(worst, abs(err))
    print(f"  {test:<24} {value:10.2f} t/s  vs {truth:7.1f}  ({err:+.2f}%)")
print(f"  worst: {worst:.2f}%")
