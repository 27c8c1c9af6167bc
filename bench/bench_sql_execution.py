"""Benchmark: SQL execution throughput (queries/second) over the defog sql-eval questions.

Usage: python bench/bench_sql_execution.py [--repeat N] [--workers N] [--hostile-only]

Runs every gold query of the defog questions over the seven SQLite databases (read from
../shared/data, or DISTILLEVAL_SHARED_DATA) three ways, side by side:

- single process: ``run_query`` called in this process, one query after another (no
  isolation, no hard kill: the speed of SQLite itself plus our read-only guards);
- pool of 1 worker: the same through one worker process (the cost of isolation);
- pool of N workers (default: CPU count): what ``SqlExecution`` uses.

Pool timings include starting the workers (one pool for all databases; a job names its
database). A second table repeats the comparison on CPU-heavy queries (a recursive count
to 300,000, about 0.1 s each), where the worker processes run in parallel.

First, and without the shared data, the hostile suite: predictions built to cost time or
memory (runaway recursion, cross joins, a megabyte of parentheses, 4 MB of commas, results
whose columns look alike, integers a float cannot tell apart, writes) are scored one by one
through ``SqlExecution`` on a small database, each with its verdict and wall time, then the
slowest case's time. With the scorer's 5 s limit, no case may take much longer than that.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from distilleval.scoring.sql_execution import SqlExecution, split_statements  # noqa: E402
from distilleval.scoring.sql_worker import WorkerPool, run_query  # noqa: E402
from distilleval.spec.data import Item  # noqa: E402
from distilleval.spec.scorer_config import SqlExecutionScorer  # noqa: E402

TIMEOUT_S = 10.0
MAX_ROWS = 1_000_000


def data_dir() -> Path:
    for candidate in (os.environ.get("DISTILLEVAL_SHARED_DATA"), ROOT.parent / "shared" / "data", "/work/shared/data"):
        if candidate and Path(candidate).is_dir():
            return Path(candidate)
    sys.exit("shared/data not found; set DISTILLEVAL_SHARED_DATA")


def load_queries(root: Path) -> dict[Path, list[str]]:
    by_db: dict[Path, list[str]] = defaultdict(list)
    questions = root / "defog_sql_eval" / "questions" / "questions_gen_sqlite.csv"
    with questions.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            database = root / "defog_sql_eval" / "db_sqlite_converted" / f"{row['db_name']}.sqlite"
            if database.is_file():
                by_db[database].extend(split_statements(row["query"]))
    return by_db


def single_process(by_db: dict[Path, list[str]], repeat: int) -> tuple[int, float, int]:
    started, count, ok = time.perf_counter(), 0, 0
    for _ in range(repeat):
        for database, queries in by_db.items():
            for sql in queries:
                ok += run_query(str(database), sql, TIMEOUT_S, MAX_ROWS)[0] == "ok"
                count += 1
    return count, time.perf_counter() - started, ok


def pooled(by_db: dict[Path, list[str]], repeat: int, workers: int) -> tuple[int, float, int]:
    started = time.perf_counter()
    jobs = [((str(database), sql, TIMEOUT_S, MAX_ROWS), TIMEOUT_S)
            for database, queries in by_db.items() for sql in queries] * repeat
    with WorkerPool(workers) as pool:
        results = pool.map(jobs)
    return len(jobs), time.perf_counter() - started, sum(r[0] == "ok" for r in results)


HEAVY = "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 300000) SELECT count(*) FROM n"


def table(title: str, by_db: dict[Path, list[str]], repeat: int, workers: int) -> None:
    print(title)
    rows = [("single process (in-process, no isolation)", single_process(by_db, repeat)),
            ("pool, 1 worker process", pooled(by_db, repeat, 1)),
            (f"pool, {workers} worker processes", pooled(by_db, repeat, workers))]
    base = rows[0][1][0] / rows[0][1][1]
    for label, (count, elapsed, ok) in rows:
        rate = count / elapsed
        print(f"  {label:<44} {count:>6} queries  {elapsed:6.2f} s  {rate:>8,.1f} queries/s  "
              f"{rate / base:5.2f}x single  ({ok} ok)")


_SERIES = "WITH RECURSIVE r(x) AS (SELECT {one} UNION ALL SELECT x+1 FROM r WHERE x<10000) SELECT x,x,x,x,x,x,x,{last} FROM r"
_ROTATED = ("WITH RECURSIVE r(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM r WHERE x < 9999) SELECT "
            + ", ".join(f"CAST((x + {k}) % 10000 AS REAL)" for k in range(7)) + ", {last} FROM r")
_NUMBERS = "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 1000) "
HOSTILE_CASES = [
    # (name, gold, prediction)
    ("look-alike integer columns (issue: 2 min 13 s)", _SERIES.format(one=1, last="x"), _SERIES.format(one=1, last="10001-x")),
    ("look-alike REAL columns", _SERIES.format(one="1.0", last="x"), _SERIES.format(one="1.0", last="10001-x")),
    ("rotated REAL columns (many column orders)", _ROTATED.format(last="CAST((x + 7) % 10000 AS REAL)"),
     _ROTATED.format(last="CAST((x + 100) % 10000 AS REAL)")),
    ("1 MB of parentheses (issue: 8.7 s)", "SELECT 1", "SELECT " + "(" * 500_000 + "1" + ")" * 500_000),
    ("4 MB of commas (issue: 21 s)", "SELECT 1", "SELECT 1" + "," * 4_000_000),
    ("99,000 parentheses, under the length cap", "SELECT 1", "SELECT " + "(" * 49_500 + "1" + ")" * 49_500),
    ("runaway recursive CTE", "SELECT 1", "WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r) SELECT count(*) FROM r"),
    ("10^9-row cross join count", "SELECT 1", _NUMBERS + "SELECT count(*) FROM n a, n b, n c"),
    ("10^9-row cross join rows", "SELECT 1", _NUMBERS + "SELECT a.x, b.x, c.x FROM n a, n b, n c"),
    ("2^63-1 against 2^63-2", "SELECT 9223372036854775807", "SELECT 9223372036854775806"),
    ("1000001 against 1000000", "SELECT 1000000", "SELECT 1000001"),
    ("DROP TABLE", "SELECT 1", "DROP TABLE t"),
    ("ATTACH", "SELECT 1", "ATTACH DATABASE 'pwned.sqlite' AS p"),
    ("two statements", "SELECT 1", "SELECT 1; DELETE FROM t"),
    ("WITH ... DELETE", "SELECT 1", "WITH x AS (SELECT 1) DELETE FROM t"),
]


def hostile_suite() -> None:
    import sqlite3
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        database = Path(folder) / "hostile.sqlite"
        with sqlite3.connect(database) as connection:
            connection.execute("CREATE TABLE t (x INTEGER)")
            connection.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(100)])
        config = SqlExecutionScorer(database=str(database), timeout_s=5.0, workers=2)
        print(f"hostile SQL suite ({len(HOSTILE_CASES)} predictions, timeout_s {config.timeout_s:g}, "
              f"max_query_chars {config.max_query_chars:,})")
        slowest = ("", 0.0)
        with SqlExecution(config, database) as scorer:
            for name, gold, prediction in HOSTILE_CASES:
                started = time.perf_counter()
                (score,) = scorer.score_items([prediction], [Item(id="0", inputs={"q": ""}, gold=gold)])
                elapsed = time.perf_counter() - started
                verdict = "correct" if score.score == 1.0 else score.reason
                print(f"  {name:<48} {elapsed:7.2f} s  {verdict}")
                slowest = max(slowest, (name, elapsed), key=lambda case: case[1])
        print(f"  slowest: {slowest[0]}, {slowest[1]:.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5, help="run every query this many times (default 5)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--hostile-only", action="store_true", help="run only the hostile suite (no shared data needed)")
    args = parser.parse_args()
    hostile_suite()
    if args.hostile_only:
        return
    by_db = load_queries(data_dir())
    print(f"{sum(len(q) for q in by_db.values())} gold queries over {len(by_db)} databases, x{args.repeat}, "
          f"{os.cpu_count()} CPU(s), load average {os.getloadavg()[0]:.1f}")
    table("defog gold queries", by_db, args.repeat, args.workers)
    heavy = {next(iter(by_db)): [HEAVY] * 8}
    table("CPU-heavy queries (8 x recursive count to 300,000)", heavy, 2, args.workers)


if __name__ == "__main__":
    main()
