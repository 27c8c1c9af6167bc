"""Tests for distilleval.scoring.sql_execution: safety, timeouts, result comparison, real data."""

from __future__ import annotations

import csv
import hashlib
import shutil
import sqlite3
import time
from collections import defaultdict

import pytest

from distilleval.scoring.sql_execution import (
    SqlExecution,
    extract_sql,
    outer_order_by,
    split_statements,
    unsafe_reason,
)
from distilleval.spec.data import Item
from distilleval.spec.scorer_config import SqlExecutionScorer
from tests.environment import missing

RUNAWAY_CTE = "WITH RECURSIVE r(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM r) SELECT count(*) FROM r"
# 1000^3 = 10^9 rows.
CROSS_JOIN_COUNT = ("WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 1000) "
                    "SELECT count(*) FROM n a, n b, n c")
CROSS_JOIN_ROWS = ("WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 1000) "
                   "SELECT a.x, b.x, c.x FROM n a, n b, n c")

HOSTILE = [
    "DROP TABLE city",
    "DELETE FROM city",
    "UPDATE city SET population = 0",
    "INSERT INTO city VALUES ('x', 'y', 1, NULL)",
    "REPLACE INTO city VALUES ('x', 'y', 1, NULL)",
    "CREATE TABLE pwned(x)",
    "ALTER TABLE city ADD COLUMN pwned",
    "ATTACH DATABASE 'pwned.sqlite' AS pwned",
    "PRAGMA writable_schema = 1",
    "PRAGMA journal_mode = DELETE",
    "VACUUM",
    "SELECT 1; DROP TABLE city",
    "SELECT 1; DELETE FROM city;",
    "BEGIN; DELETE FROM city; COMMIT",
    "WITH x AS (SELECT 1) DELETE FROM city",
    "WITH x AS (SELECT 1) UPDATE city SET population = 0",
    "SELECT load_extension('/tmp/nothing')",
    RUNAWAY_CTE,
    CROSS_JOIN_COUNT,
    CROSS_JOIN_ROWS,
]


@pytest.fixture
def database(tmp_path):
    path = tmp_path / "world.sqlite"
    connection = sqlite3.connect(path)
    connection.executescript(
        """
        CREATE TABLE city (name TEXT, country TEXT, population INTEGER, area REAL);
        INSERT INTO city VALUES ('Paris', 'FR', 2100000, 105.4), ('Lyon', 'FR', 520000, 47.87),
                                ('Berlin', 'DE', 3600000, 891.8), ('Nowhere', NULL, NULL, NULL);
        """
    )
    connection.commit()
    connection.close()
    return path


def make_scorer(database, **config):
    config.setdefault("timeout_s", 1.0)
    config.setdefault("workers", 2)
    return SqlExecution(SqlExecutionScorer(database=str(database), **config), database)


def items(golds):
    return [Item(id=str(i), inputs={"q": "x"}, gold=g) for i, g in enumerate(golds)]


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- the static check ---------------------------------------------------------------------
@pytest.mark.parametrize("sql", [s for s in HOSTILE if s not in (RUNAWAY_CTE, CROSS_JOIN_COUNT, CROSS_JOIN_ROWS)])
def test_static_check_refuses_everything_but_one_read_only_query(sql):
    assert unsafe_reason(sql) is not None


@pytest.mark.parametrize("sql", [
    "SELECT 1",
    "select name from city;",
    "WITH big AS (SELECT * FROM city WHERE population > 1e6) SELECT name FROM big",
    "SELECT 'DROP TABLE city; DELETE' AS text",  # keywords inside a string are data
    "SELECT name -- ; DROP TABLE city\nFROM city",
    "VALUES (1), (2)",
    "SELECT release, analyze FROM t",  # keywords SQLite allows as column names
    "SELECT m.begin FROM m",
])
def test_static_check_accepts_read_only_queries(sql):
    assert unsafe_reason(sql) is None


def test_statement_splitting_respects_quotes_and_comments():
    assert split_statements("SELECT ';'; SELECT \"a;b\" FROM t /* ; */;") == ["SELECT ';'", 'SELECT "a;b" FROM t /* ; */']
    assert split_statements(" ;; ") == []


def test_outer_order_by_only_counts_at_top_level():
    assert outer_order_by("SELECT x FROM t ORDER BY x")
    assert not outer_order_by("SELECT x FROM (SELECT x FROM t ORDER BY x LIMIT 3)")
    assert not outer_order_by("SELECT 'order by' FROM t")


def test_extract_sql_from_raw_output():
    assert extract_sql("```sql\nSELECT 1\n```\nThis selects one.") == "SELECT 1"
    assert extract_sql("  SELECT 2  ") == "SELECT 2"


# -- scoring with real worker processes ------------------------------------------------------
def test_scoring_right_wrong_unsafe_error_and_no_output(database):
    gold = "SELECT name FROM city WHERE country = 'FR'"
    outputs = [
        "```sql\nSELECT name FROM city WHERE population BETWEEN 500000 AND 3000000\n```",
        "SELECT name FROM city",
        "DELETE FROM city",
        "SELECT nope FROM city",
        None,
    ]
    with make_scorer(database) as scorer:
        scores = scorer.score_items(outputs, items([gold] * 5))
        assert [s.score for s in scores] == [1.0, 0.0, 0.0, 0.0, 0.0]
        assert [s.reason for s in scores] == [None, "wrong_result", "unsafe", "error", "no_output"]
        assert scores[0].canonical is not None and scores[2].valid is False
        metric, secondary = scorer.summarize(scores)
    assert metric.value == 0.2 and metric.ci_method == "Clopper-Pearson (exact binomial)"
    assert secondary["count/unsafe"] == 1 and secondary["count/error"] == 1 and secondary["count/wrong_result"] == 1


def test_several_gold_queries_match_any_and_failed_gold_is_excluded(database):
    with make_scorer(database, gold_separator=";") as scorer:
        golds = [
            "SELECT name FROM city WHERE country = 'FR'; SELECT name, country FROM city WHERE country = 'FR'",
            "SELECT no_such_column FROM city",
            "SELECT broken FROM; SELECT count(*) FROM city",
        ]
        outputs = ["SELECT country, name FROM city WHERE country = 'FR'", "SELECT 1", "SELECT 4"]
        scores = scorer.score_items(outputs, items(golds))
        assert scores[0].score == 1.0
        assert scores[1].score is None and scores[1].reason == "gold_failed"
        assert scores[2].score == 1.0 and scores[2].details["gold_errors"]  # one gold failed, flagged
        metric, secondary = scorer.summarize(scores)
    assert metric.value == 1.0 and secondary["gold_failed"] == 1


def test_ordered_gold_requires_the_same_order(database):
    gold = "SELECT name FROM city WHERE country IS NOT NULL ORDER BY population DESC"
    with make_scorer(database) as scorer:
        scores = scorer.score_items(
            ["SELECT name FROM city WHERE country IS NOT NULL ORDER BY population",
             "SELECT name FROM city WHERE country IS NOT NULL ORDER BY population DESC"],
            items([gold, gold]),
        )
    assert [s.score for s in scores] == [0.0, 1.0]


def test_a_query_over_max_query_chars_is_too_long_and_never_checked_or_run(database):
    # A 1 MB query of parentheses took 8.7 s in the safety check alone, in the main process.
    long_query = "SELECT " + "(" * 500_000 + "1" + ")" * 500_000
    with make_scorer(database, max_query_chars=1000) as scorer:
        scores = scorer.score_items([long_query, "SELECT 1"], items(["SELECT 1", "SELECT 1"]))
        metric, secondary = scorer.summarize(scores)
    assert scores[0].score == 0.0 and scores[0].reason == "too_long" and scores[0].valid is False
    assert "1,000,008 characters, over scorer.max_query_chars (1,000)" in scores[0].details["error"]
    assert scores[1].score == 1.0 and secondary["count/too_long"] == 1


def test_integer_results_are_compared_exactly_end_to_end(database):
    with make_scorer(database, float_tolerance=0.5) as scorer:
        scores = scorer.score_items(["SELECT 1000001", "SELECT 9223372036854775806", "SELECT 1000000.2"],
                                    items(["SELECT 1000000", "SELECT 9223372036854775807", "SELECT 1000000"]))
    assert [s.score for s in scores] == [0.0, 0.0, 1.0]  # tolerance only where a REAL is compared


# Eight REAL columns, each a different rotation of 0..9999: every column has the same values.
SHIFTED_REAL_COLUMNS = ("WITH RECURSIVE r(x) AS (SELECT 0 UNION ALL SELECT x + 1 FROM r WHERE x < 9999) SELECT "
                        + ", ".join("CAST((x + {}) % 10000 AS REAL)".format(k) for k in range(7)) + ", {last} FROM r")


def test_comparing_results_is_bounded_by_the_time_limit(database):
    # Look-alike REAL columns that are not twins leave the tolerant comparison thousands of
    # column orders (each a sort of 10,000 rows) to try; it stops at the time limit instead.
    gold = SHIFTED_REAL_COLUMNS.format(last="CAST((x + 7) % 10000 AS REAL)")
    wrong = SHIFTED_REAL_COLUMNS.format(last="CAST((x + 100) % 10000 AS REAL)")
    with make_scorer(database, timeout_s=2.0) as scorer:
        (score,) = scorer.score_items([wrong], items([gold]))
    assert score.score == 0.0 and score.reason == "timeout"
    assert "comparing the result with the gold's took over 2 s" in score.details["error"]


def test_runaway_queries_time_out_fast_and_the_pool_keeps_working(database):
    with make_scorer(database, timeout_s=1.0) as scorer:
        started = time.monotonic()
        results = scorer.execute([RUNAWAY_CTE, CROSS_JOIN_COUNT, CROSS_JOIN_ROWS])
        elapsed = time.monotonic() - started
        assert [r[0] for r in results[:2]] == ["timeout", "timeout"], results
        # Streaming 10^9 rows stops at whichever comes first: the deadline or the row cap.
        assert results[2][0] in ("timeout", "too_large"), results
        # Two workers, three 1-second limits, 1 s grace: far below what the queries need.
        assert elapsed < 5.0
        assert scorer.execute(["SELECT count(*) FROM city"]) == [("ok", ["count(*)"], [(4,)])]


def test_huge_result_is_refused_by_row_cap(database):
    with make_scorer(database, timeout_s=5.0, max_rows=10_000) as scorer:
        (result,) = scorer.execute([CROSS_JOIN_ROWS])
    assert result[0] == "too_large"


def test_authorizer_and_read_only_connection_refuse_writes_even_without_the_static_check(database):
    # Call the worker function directly: the second and third walls alone must hold.
    from distilleval.scoring.sql_worker import run_query

    before = digest(database)
    for sql in ["DELETE FROM city", "DROP TABLE city", "ATTACH DATABASE ':memory:' AS x",
                "PRAGMA writable_schema = 1", "CREATE TABLE t(x)", "WITH x AS (SELECT 1) DELETE FROM city"]:
        status = run_query(str(database), sql, 1.0, 100)[0]
        assert status == "unsafe", (sql, status)
    assert digest(database) == before


def test_hostile_suite_leaves_a_writable_database_byte_identical(database):
    before = digest(database)
    with make_scorer(database) as scorer:
        scores = scorer.score_items(HOSTILE, items(["SELECT count(*) FROM city"] * len(HOSTILE)))
    assert all(s.score == 0.0 for s in scores)
    assert {s.reason for s in scores} <= {"unsafe", "timeout", "too_large"}
    assert digest(database) == before
    with sqlite3.connect(database) as connection:
        assert connection.execute("SELECT count(*) FROM city").fetchone() == (4,)


# -- real data: defog sql-eval questions on seven SQLite databases ---------------------------
def _defog(shared_data):
    root = shared_data / "defog_sql_eval"
    questions = root / "questions" / "questions_gen_sqlite.csv"
    if not questions.is_file():
        missing(f"defog questions not found at {questions}")
    by_db = defaultdict(list)
    with questions.open(encoding="utf-8", newline="") as handle:
        for line, row in enumerate(csv.DictReader(handle), start=2):
            database = root / "db_sqlite_converted" / f"{row['db_name']}.sqlite"
            if database.is_file():
                by_db[database].append(Item(id=f"q{line}", inputs={"q": row["question"]}, gold=row["query"], line=line))
    if not by_db:
        missing("no defog database files found")
    return by_db


def test_defog_every_gold_query_against_itself_scores_one(shared_data):
    by_db = _defog(shared_data)
    checked = flagged = 0
    for database, db_items in by_db.items():
        with make_scorer(database, gold_separator=";", timeout_s=10.0) as scorer:
            golds = [scorer.gold_queries(item.gold) for item in db_items]
            for position in range(max(len(g) for g in golds)):
                pairs = [(item, g[position]) for item, g in zip(db_items, golds) if len(g) > position]
                # Score each alternative against an item whose only gold is that alternative.
                single = [Item(id=item.id, inputs=item.inputs, gold=[sql]) for item, sql in pairs]
                scores = scorer.score_items([sql for _, sql in pairs], single)
                for (item, sql), score in zip(pairs, scores):
                    if score.reason == "gold_failed":
                        flagged += 1
                    else:
                        assert score.score == 1.0, (database.name, item.id, sql, score)
                        checked += 1
    assert checked >= 190  # 190 questions over the seven databases, plus alternatives
    assert flagged <= 2  # the data's README: every first gold query runs in SQLite


def test_defog_another_questions_gold_is_mostly_wrong(shared_data):
    # Guards against a comparison that says "equal" too easily.
    by_db = _defog(shared_data)
    right = total = 0
    for database, db_items in by_db.items():
        with make_scorer(database, gold_separator=";", timeout_s=10.0) as scorer:
            firsts = [scorer.gold_queries(item.gold)[0] for item in db_items]
            shifted = firsts[1:] + firsts[:1]
            scores = scorer.score_items(shifted, db_items)
        right += sum(1 for s in scores if s.score == 1.0)
        total += len(scores)
    assert total >= 190 and right / total < 0.1


def test_defog_databases_byte_identical_after_hostile_suite(shared_data, tmp_path):
    by_db = _defog(shared_data)
    originals = {path: digest(path) for path in by_db}
    hostile = [sql.replace("city", "author") for sql in HOSTILE]
    academic = next((p for p in by_db if p.name == "academic.sqlite"), next(iter(by_db)))
    # A writable copy proves the guards, not the file permissions, keep it intact.
    copy = tmp_path / academic.name
    shutil.copyfile(academic, copy)
    copy.chmod(0o644)
    for target in (academic, copy):
        with make_scorer(target, timeout_s=1.0) as scorer:
            scores = scorer.score_items(hostile, items(["SELECT count(*) FROM author"] * len(hostile)))
        assert all(s.score == 0.0 for s in scores)
    assert digest(copy) == originals[academic]
    assert {path: digest(path) for path in by_db} == originals
