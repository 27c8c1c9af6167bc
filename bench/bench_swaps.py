"""Benchmark: each hand-written part issue 23 asked about beside the maintained library that could replace it.

    python bench/bench_swaps.py [--parts retry,budget,sql,tables,layout] [--rounds 5]

Each part runs both implementations in this one process, on the same input, and prints their
medians side by side (lower is better), so a loaded machine slows both alike:

- retry: the runner's own retry loop (``Runner._run_one``) against the same loop on
  ``tenacity.AsyncRetrying`` (Retry-After floor, per-model pause after a 429, the seeded jitter
  and the attempt count kept), microseconds per call through the runner with an instant
  in-process backend: every call succeeding, and one attempt in three failing (no real sleep);
- budget: ``RateBudget.acquire`` + ``settle`` against ``aiolimiter.AsyncLimiter.acquire``,
  microseconds per request under a budget that never makes anyone wait (the cost every call
  pays), and whether the limiter can express the budget's tests (a token estimate corrected
  after the call; a late correction dropped);
- sql: ``sql_worker.WorkerPool`` (subprocess workers speaking length-prefixed pickles, two jobs
  in flight per worker) against the same pool on ``pebble.ProcessPool`` (``PebblePool`` below),
  queries per second over small read-only queries, start-up included, and the wall time of one
  runaway job killed at its limit;
- tables: the report's markdown, LaTeX and HTML table writers against ``tabulate`` (github,
  latex_booktabs, html), microseconds per table, and whether the output is the same;
- layout: the import walker ``tests/test_layout.py`` had before issue 23 (ast graph, cycle search,
  layer check; a copy kept below) against what it does now: the ``import-linter`` contracts of
  ``pyproject.toml`` (layers, forbidden ``testing``) and the cycle search on grimp's graph
  (import-linter has no contract for a circle between modules: ``acyclic_siblings`` is a
  different, stricter rule about packages, broken by ``backends.tinker`` -> ``backends._http``),
  seconds per check with no cache.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from distilleval.backends.base import ChatRequest, Completion  # noqa: E402
from distilleval.errors import BackendError, RateLimitedError, ServiceUnavailableError  # noqa: E402
from distilleval.run.runner import Call, CallResult, RateBudget, Runner, RunnerOptions, error_result  # noqa: E402


def _medians(rounds: int, ours: Callable[[], float], theirs: Callable[[], float]) -> tuple[float, float]:
    """Each measured ``rounds`` times, in turn (ours, theirs, ours, ...), so drift hits both alike."""
    pairs = [(ours(), theirs()) for _ in range(rounds)]
    return statistics.median(a for a, _ in pairs), statistics.median(b for _, b in pairs)


def _row(name: str, ours: float, library: float, unit: str) -> None:
    ratio = library / ours if ours else float("nan")
    print(f"  {name:<44} {ours:>10.1f} {library:>10.1f} {unit:<8} library/ours {ratio:5.2f}x")


# -- retry: the runner's loop against tenacity ------------------------------------------------
class _InstantBackend:
    model_id = "bench/instant"

    def __init__(self, fail_every: int):
        self.calls = 0
        self.fail_every = fail_every

    async def complete(self, request: ChatRequest, *, timeout_s: float) -> Completion:
        self.calls += 1
        if self.fail_every and self.calls % self.fail_every == 0:
            raise ServiceUnavailableError("bench: a retryable failure")
        return Completion(text="ok", input_tokens=1, output_tokens=1, latency_ms=1.0, cost_usd=0.0)

    async def aclose(self) -> None:
        pass


class TenacityRunner(Runner):
    """The runner with its retry loop on tenacity: the same wait (``backoff_s``: jitter, Retry-After
    floor), the same 429 hold on the model, the same attempt count and give-up rules."""

    async def _run_one(self, call: Call) -> tuple[CallResult, None]:
        import tenacity

        backend = self.backends[call.model]
        retrying = tenacity.AsyncRetrying(
            stop=tenacity.stop_after_attempt(self.options.max_retries + 1),
            retry=tenacity.retry_if_exception(lambda e: isinstance(e, BackendError) and e.retryable and self._abort is None),
            wait=lambda state: self.backoff_s(state.attempt_number, state.outcome.exception()),
            before_sleep=lambda state: self._hold(call.model, state),
            sleep=self._sleep,
            reraise=True,
        )
        try:
            completion = await retrying(self._noted_attempt, call, backend)
        except BackendError as err:
            return error_result(call.item_id, call.model, call.repeat, err, attempts=retrying.statistics["attempt_number"]), None
        return CallResult(call.item_id, call.model, call.repeat, "ok", text=completion.text,
                          attempts=retrying.statistics["attempt_number"]), None

    def _hold(self, model: str, state) -> None:
        if isinstance(state.outcome.exception(), RateLimitedError):
            resume_at = time.monotonic() + state.next_action.sleep
            self._paused_until[model] = max(self._paused_until.get(model, 0.0), resume_at)

    async def _noted_attempt(self, call: Call, backend) -> Completion:
        try:
            completion = await self._attempt(call, backend)
        except BackendError as err:
            self._note_attempt(call.model, err)
            raise
        self._note_attempt(call.model, None)
        return completion


async def _no_sleep(_seconds: float) -> None:
    pass


def _runner_us_per_call(runner_class: type[Runner], n: int, fail_every: int) -> float:
    calls = [Call(f"item-{i}", "student", ChatRequest(messages=({"role": "user", "content": f"q {i}"},))) for i in range(n)]
    runner = runner_class({"student": _InstantBackend(fail_every)},
                          options=RunnerOptions(concurrency=16, seed=0, max_retries=4), sleep=_no_sleep)
    started = time.perf_counter()
    results = asyncio.run(runner.run(calls))
    elapsed = time.perf_counter() - started
    assert len(results) == n and all(r.ok for r in results)
    return elapsed / n * 1e6


def bench_retry(rounds: int) -> None:
    print("retry (us per call through the runner, instant backend)      runner   tenacity")
    for label, fail_every in (("every call succeeds", 0), ("one attempt in three fails, retried", 3)):
        ours, theirs = _medians(rounds, lambda f=fail_every: _runner_us_per_call(Runner, 4000, f),
                                lambda f=fail_every: _runner_us_per_call(TenacityRunner, 4000, f))
        _row(label, ours, theirs, "us/call")


# -- budget: RateBudget against aiolimiter ----------------------------------------------------
def _budget_us_per_request(n: int) -> float:
    async def go() -> float:
        budget = RateBudget(requests_per_minute=10 * n, tokens_per_minute=None)
        started = time.perf_counter()
        for _ in range(n):
            entry = await budget.acquire(100)
            budget.settle(entry, 50)
        return (time.perf_counter() - started) / n * 1e6

    return asyncio.run(go())


def _aiolimiter_us_per_request(n: int) -> float:
    from aiolimiter import AsyncLimiter

    async def go() -> float:
        limiter = AsyncLimiter(10 * n, 60)
        started = time.perf_counter()
        for _ in range(n):
            await limiter.acquire(1)
        return (time.perf_counter() - started) / n * 1e6

    return asyncio.run(go())


def _aiolimiter_counts_measured_tokens() -> bool:
    """tests/run's token test on aiolimiter: 90 estimated, 10 used, then 80 more must not wait."""
    from aiolimiter import AsyncLimiter

    async def go() -> bool:
        limiter = AsyncLimiter(100, 0.3)
        await limiter.acquire(90)  # no way to hand back the 80 tokens the call did not use
        return limiter.has_capacity(80)

    return asyncio.run(go())


def bench_budget(rounds: int) -> None:
    print("budget (us per request, a budget nobody waits for)           RateBudget aiolimiter")
    ours, theirs = _medians(rounds, lambda: _budget_us_per_request(20000),
                            lambda: _aiolimiter_us_per_request(20000))
    _row("acquire (+ settle for RateBudget)", ours, theirs, "us/req")
    print(f"  aiolimiter lets 80 tokens through after 90 estimated, 10 used: {_aiolimiter_counts_measured_tokens()}"
          " (RateBudget: True, tests/run/test_runner.py::test_token_budget_counts_measured_tokens)")


# -- sql: WorkerPool against the same pool on pebble ------------------------------------------
def _stdout_to_stderr() -> None:
    os.dup2(2, 1)  # as the hand-written workers do: a target's prints never reach the caller's stdout
    sys.stdout = sys.stderr


def _call(target_ref: str, arguments: tuple):
    from distilleval.scoring.sql_worker import _resolve

    try:
        return _resolve(target_ref)(*arguments)
    except Exception as err:
        return ("error", f"worker: {type(err).__name__}: {err}")


class PebblePool:
    """``sql_worker.WorkerPool`` on ``pebble.ProcessPool``, the API and results unchanged (it passed
    tests/scoring as the real pool): one scheduled job per query, killed at its timeout + grace,
    counted from when a worker starts it; forked workers, so ``__main__`` is never re-imported."""

    def __init__(self, workers: int | None = None, *, target: str = "distilleval.scoring.sql_worker:run_query",
                 grace_s: float = 1.0):
        self.size = max(1, workers or os.cpu_count() or 1)
        self.target = target
        self.grace_s = grace_s
        self.killed = 0
        self._pool = None

    def map(self, jobs):
        import multiprocessing

        from pebble import ProcessExpired, ProcessPool

        if self._pool is None:
            self._pool = ProcessPool(self.size, initializer=_stdout_to_stderr, context=multiprocessing.get_context("fork"))
        futures = [self._pool.schedule(_call, args=(self.target, arguments), timeout=timeout_s + self.grace_s)
                   for arguments, timeout_s in jobs]
        results = []
        for (_, timeout_s), future in zip(jobs, futures):
            try:
                results.append(future.result())
            except TimeoutError:
                self.killed += 1
                results.append(("timeout", f"killed after {timeout_s + self.grace_s:g} s"))
            except ProcessExpired:
                results.append(("error", "the worker process died"))
            except Exception as err:  # a result or arguments that would not pickle
                results.append(("error", f"worker: {type(err).__name__}: {err}"))
        return results

    def close(self) -> None:
        if self._pool is not None:
            self._pool.stop()
            self._pool.join()
            self._pool = None

    def __enter__(self) -> "PebblePool":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _database(folder: Path) -> str:
    path = folder / "bench.sqlite"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE orders (id INTEGER PRIMARY KEY, customer TEXT, total REAL)")
        db.executemany("INSERT INTO orders VALUES (?, ?, ?)", [(i, f"c{i % 50}", i * 1.5) for i in range(2000)])
    return str(path)


def _sql_queries_per_s(make_pool: Callable[[], object], database: str, n: int) -> float:
    jobs = [((database, f"SELECT customer, sum(total) FROM orders WHERE id > {i % 1900} GROUP BY customer", 5.0, 10_000), 5.0)
            for i in range(n)]
    started = time.perf_counter()
    with make_pool() as pool:
        results = pool.map(jobs)
    elapsed = time.perf_counter() - started
    assert all(r[0] == "ok" for r in results), results[:3]
    return n / elapsed


def _sql_kill_s(make_pool: Callable[[], object]) -> float:
    # time.sleep is out of reach of SQLite's progress handler: only the pool's kill stops it.
    with make_pool() as pool:
        started = time.perf_counter()
        [result] = pool.map([((60,), 0.3)])
        elapsed = time.perf_counter() - started
    assert result[0] == "timeout", result
    return elapsed


def bench_sql(rounds: int) -> None:
    from distilleval.scoring.sql_worker import WorkerPool

    workers = min(2, os.cpu_count() or 1)
    print(f"sql ({workers} workers, start-up included)                      WorkerPool pebble")
    with tempfile.TemporaryDirectory() as folder:
        database = _database(Path(folder))
        ours, theirs = _medians(rounds, lambda: _sql_queries_per_s(lambda: WorkerPool(workers), database, 3000),
                                lambda: _sql_queries_per_s(lambda: PebblePool(workers), database, 3000))
        _row("3000 small queries (higher is better)", ours, theirs, "q/s")
    ours, theirs = _medians(rounds, lambda: _sql_kill_s(lambda: WorkerPool(1, target="time:sleep", grace_s=0.2)),
                            lambda: _sql_kill_s(lambda: PebblePool(1, target="time:sleep", grace_s=0.2)))
    _row("one runaway job, killed at 0.3 + 0.2 s", ours, theirs, "s")


# -- tables: the report writers against tabulate ----------------------------------------------
def _sample_table():
    from distilleval.report.tables import Cell, Table

    columns = ["Model", "Accuracy", "95% CI", "Δ vs teacher", "Cost / 1k", "p50 ms", "p95 ms", "Errors"]
    rows = [[Cell(f"student-{i} | v2"), Cell(f"{80 + i / 10:.1f}%", 0.8), Cell("[78.2%, 83.1%]"), Cell("−1.2 pts", -1.2),
             Cell(f"${i * 0.013:.4f}", i * 0.013), Cell(f"{120 + i}", 120 + i), Cell(f"{300 + i}", 300 + i), Cell("0", 0)]
            for i in range(12)]
    return Table("accuracy", "Accuracy & cost", columns, rows, notes=["Intervals: Clopper–Pearson, 95%."])


def _tabulate_markdown(table) -> str:
    from tabulate import tabulate

    from distilleval.report.markdown import md_escape

    body = tabulate([[md_escape(c.text) for c in row] for row in table.rows], headers=[md_escape(c) for c in table.columns],
                    tablefmt="github", disable_numparse=True)
    return "\n".join([body] + [line for note in table.notes for line in ("", f"*{md_escape(note)}*")])


def _tabulate_latex(table) -> str:
    from tabulate import tabulate

    return tabulate([[c.text for c in row] for row in table.rows], headers=table.columns, tablefmt="latex_booktabs",
                    disable_numparse=True)


def _tabulate_html(table) -> str:
    from tabulate import tabulate

    return tabulate([[c.text for c in row] for row in table.rows], headers=table.columns, tablefmt="html", disable_numparse=True)


def _latex_ours(table) -> str:
    from distilleval.report.data_formats import latex_escape

    lines = [r"\begin{tabular}{" + "l" + "r" * (len(table.columns) - 1) + "}", r"\toprule",
             " & ".join(latex_escape(c) for c in table.columns) + r" \\", r"\midrule"]
    lines += [" & ".join(latex_escape(c.text) for c in row) + r" \\" for row in table.rows]
    return "\n".join(lines + [r"\bottomrule", r"\end{tabular}"])


def _us_per_table(render: Callable, table, n: int = 500) -> float:
    started = time.perf_counter()
    for _ in range(n):
        render(table)
    return (time.perf_counter() - started) / n * 1e6


def bench_tables(rounds: int) -> None:
    from distilleval.report.html import _table_html
    from distilleval.report.markdown import table_markdown

    table = _sample_table()
    print("tables (us per 12 x 8 table)                                  ours     tabulate")
    for label, ours_fn, theirs_fn in (("markdown (github pipe table)", table_markdown, _tabulate_markdown),
                                      ("LaTeX booktabs tabular", _latex_ours, _tabulate_latex),
                                      ("HTML table", _table_html, _tabulate_html)):
        ours, theirs = _medians(rounds, lambda fn=ours_fn: _us_per_table(fn, table),
                                lambda fn=theirs_fn: _us_per_table(fn, table))
        _row(label, ours, theirs, "us")
    pipe_escaped = "\\|" in _tabulate_markdown(table)
    latex = _tabulate_latex(table)
    print(f"  tabulate: pipes escaped in markdown only because md_escape ran first: {pipe_escaped}; "
          f"LaTeX keeps raw unicode (−, Δ): {'−' in latex}; HTML has no numeric-column class: {'class=' not in _tabulate_html(table)}")


# -- layout: the test's old walker against import-linter -------------------------------------
# tests/test_layout.py before issue 23 (kept here only for this comparison): every file parsed with
# ast, its distilleval imports resolved, a depth-first cycle search and the layer check.
_OLD_LAYERS = [("errors", "files"), ("spec",), ("costs",), ("backends",), ("run",), ("results",), ("scoring",),
               ("baselines", "training"), ("gate",), ("report",), ("pipeline",), ("commands",), ("cli",)]


def _old_module_name(path: Path, package_dir: Path) -> str:
    parts = list(path.relative_to(package_dir.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _old_imported_modules(path: Path, known: set[str], package_dir: Path) -> set[str]:
    import ast

    name = _old_module_name(path, package_dir)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            targets = [f"{source}.{alias.name}" if f"{source}.{alias.name}" in known else source for alias in node.names]
        else:
            continue
        found.update(t for t in targets if t == "distilleval" or t.startswith("distilleval."))
    found.discard(name)
    return found


def _old_area(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _old_layer_of(module: str) -> int | None:
    return next((rank for rank, areas in enumerate(_OLD_LAYERS) if _old_area(module) in areas), None)


def _old_find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if target == node or target not in graph:
                continue
            if state.get(target) == 1:
                return path[path.index(target):] + [target]
            if target not in state:
                cycle = visit(target)
                if cycle:
                    return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            cycle = visit(node)
            if cycle:
                return cycle
    return None


def _old_layer_violations(graph: dict[str, set[str]]) -> list[str]:
    problems = []
    for module, targets in sorted(graph.items()):
        if module in {"distilleval", "distilleval.__main__"} or _old_area(module) == "testing":
            continue
        rank = _old_layer_of(module)
        for target in sorted(targets):
            if _old_area(target) == "testing":
                problems.append(f"{module} imports the test double {target}")
            elif target == "distilleval" or _old_area(target) == _old_area(module):
                continue
            elif _old_layer_of(target) is None or rank is None or _old_layer_of(target) >= rank:
                problems.append(f"{module} imports {target}")
    return problems


def _walker_s() -> float:
    package_dir = ROOT / "distilleval"
    started = time.perf_counter()
    paths = sorted(package_dir.rglob("*.py"))
    known = {_old_module_name(p, package_dir) for p in paths}
    graph = {_old_module_name(p, package_dir): _old_imported_modules(p, known, package_dir) for p in paths}
    assert _old_find_cycle(graph) is None and _old_layer_violations(graph) == []
    return time.perf_counter() - started


def _import_linter_s() -> float:
    """The contracts in pyproject.toml (lint-imports) plus tests/test_layout.py's cycle search on grimp's graph."""
    import contextlib
    import io

    import grimp
    from importlinter.cli import lint_imports

    sys.path.insert(0, str(ROOT / "tests"))
    from test_layout import find_cycle

    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()) as printed:
        exit_code = lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True)
    assert exit_code == 0, printed.getvalue()[-2000:]
    assert find_cycle(grimp.build_graph("distilleval", cache_dir=None)) is None
    return time.perf_counter() - started


def bench_layout(rounds: int) -> None:
    print("layout (s per check of the whole package, no cache)           walker   import-linter")
    ours, theirs = _medians(rounds, _walker_s, _import_linter_s)
    print(f"  {'graph, layers, testing, cycles':<44} {ours:>10.3f} {theirs:>10.3f} s        library/ours {theirs / ours:5.2f}x")


PARTS = {"retry": bench_retry, "budget": bench_budget, "sql": bench_sql, "tables": bench_tables, "layout": bench_layout}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--parts", default=",".join(PARTS))
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; medians of {args.rounds} rounds\n")
    for part in args.parts.split(","):
        PARTS[part](args.rounds)
        print()


if __name__ == "__main__":
    main()
