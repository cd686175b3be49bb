"""curaug validate (column rules) against the same expectations run through GX directly,
and against pandera when it is installed, measured in the same run.

    .venv/bin/python benchmarks/bench_validate.py [--rows 1000000 10000000]

Prints rows/s of each executor (curaug's vectorised conditions, the default; ``--executor
gx``, the suite through GX with curaug's result shaping), GX run directly, the speed-up of
the default over GX direct (aim: >= 3x), and each executor's peak extra memory as a
multiple of the DataFrame's own size. It also checks that both executors give the same
results on the benchmark table.
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from curate.checks.validate import run_rules  # noqa: E402
from curate.rules.gx import _batch, compile_suite  # noqa: E402
from curate.rules.schema import parse_rules  # noqa: E402

RULES = {
    "a": {"not_null": True, "between": [-10, 10]},
    "b": {"between": [0, 1000], "mean_between": [0, 200]},
    "c": {"in_set": ["x", "y", "z"]},
    "d": {"not_null": True, "regex": "^k[0-9]+$"},
    "e": {"not_in_set": [-1], "unique": True},
    "f": {"length_between": [1, 12]},
}


def make_frame(n: int) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame({
        "a": rng.normal(size=n),
        "b": rng.exponential(100, size=n),
        "c": rng.choice(["x", "y", "z", "w"], size=n, p=[0.4, 0.3, 0.29, 0.01]),
        "d": pd.Series(rng.integers(0, 10_000, size=n)).map("k{}".format),
        "e": np.arange(n),
        "f": rng.choice(["short", "a much longer text"], size=n),
    })


def timed(fn) -> tuple[float, object]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def run_gx_directly(df, rules) -> None:
    suite = compile_suite(rules, "direct")
    _batch(df).validate(suite, result_format={"result_format": "SUMMARY", "partial_unexpected_count": 20})


def run_pandera(df):
    import pandera.pandas as pa

    schema = pa.DataFrameSchema({
        "a": pa.Column(float, [pa.Check.in_range(-10, 10)], nullable=False),
        "b": pa.Column(float, [pa.Check.in_range(0, 1000), pa.Check(lambda s: 0 <= s.mean() <= 200)]),
        "c": pa.Column(str, pa.Check.isin(["x", "y", "z"])),
        "d": pa.Column(str, pa.Check.str_matches(r"^k[0-9]+$"), nullable=False),
        "e": pa.Column(int, pa.Check.notin([-1]), unique=True),
        "f": pa.Column(str, pa.Check.str_length(1, 12)),
    })
    try:
        schema.validate(df, lazy=True)
    except pa.errors.SchemaErrors:
        pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000])
    args = parser.parse_args()
    rules = parse_rules({"columns": RULES})
    n_rules = sum(len(spec.rules()) for spec in rules.columns.values())
    print(f"{n_rules}-rule suite")
    for n in args.rows:
        df = make_frame(n)
        size = df.memory_usage(deep=True).sum()
        run_rules(df.head(1000), rules, "gx")  # warm up GX's imports and context
        run_rules(df.head(1000), rules)
        t_gx, _ = timed(lambda: run_gx_directly(df, rules))
        t_cur, results = timed(lambda: run_rules(df, rules))
        t_via, via_gx = timed(lambda: run_rules(df, rules, "gx"))
        peaks = {}
        for executor in ("curaug", "gx"):
            tracemalloc.start()  # a separate run: tracing slows every allocation
            run_rules(df, rules, executor)
            peaks[executor] = tracemalloc.get_traced_memory()[1] / size
            tracemalloc.stop()
        same = [r.to_dict() for r in results] == [r.to_dict() for r in via_gx]
        line = (f"rows {n:>11,}: curaug {n / t_cur:>12,.0f} rows/s ({t_cur:.2f} s) | --executor gx {n / t_via:>11,.0f}"
                f" rows/s ({t_via:.2f} s) | GX direct {n / t_gx:>11,.0f} rows/s ({t_gx:.2f} s) | curaug is "
                f"{t_gx / t_cur:.1f}x GX direct | peak extra memory: curaug {peaks['curaug']:.2f}x, gx "
                f"{peaks['gx']:.2f}x the DataFrame ({size / 1e6:.0f} MB) | same results: {same}")
        try:
            t_pa, _ = timed(lambda: run_pandera(df))
            line += f" | pandera {n / t_pa:,.0f} rows/s, curaug/pandera time {t_cur / t_pa:.2f}x"
        except ImportError:
            line += " | pandera not installed (pip install pandera)"
        print(line, flush=True)
        assert len(results) == n_rules and same


if __name__ == "__main__":
    main()
