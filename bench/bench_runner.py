"""Benchmark: requests/s through distilleval's runner vs raw clients, cache replay, peak memory.

Everything runs against the scripted OpenAI-compatible server in its own process on
127.0.0.1 (zero model delay), so the numbers are client overhead. Printed side by side:

- runner + LiteLLM backend   vs  raw ``litellm.acompletion`` loop  (goal: runner within 10%)
- runner + fast path         vs  raw ``httpx`` loop                (goal: at least 80%)
                                 and a raw ``aiohttp`` loop (the fast path's own client)

at concurrency 1 and 64; then a replay of 10,000 cached items through the runner with the
run store committing every row (items/s); and the peak RSS of the process.

    /work/venv/bin/python bench/bench_runner.py [--items 1000] [--items-c1 200] [--replay 10000] [--rounds 3]

``--cached-rerun 2000`` instead times a fully cached ``distilleval eval`` of 2,000 items, whole
process, beside bare Python start-up, and says whether LiteLLM was imported.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from distilleval.backends.base import ChatRequest, Completion  # noqa: E402
from distilleval.run.cache import ResponseCache, cache_key  # noqa: E402
from distilleval.run.runner import Call, Runner, RunnerOptions  # noqa: E402
from distilleval.run.store import RunStore  # noqa: E402
from distilleval.testing.openai_server import ServerProcess  # noqa: E402

MODEL = "openai/bench"


def _prompts(n: int, offset: int) -> list[str]:
    return [f"Route this ticket #{offset + i}: my invoice shows a double charge" for i in range(n)]


async def _pool(n_workers: int, prompts: list[str], one) -> float:
    queue = iter(prompts)

    async def worker() -> None:
        for prompt in queue:
            await one(prompt)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(n_workers)))
    return len(prompts) / (time.perf_counter() - started)


async def raw_litellm(base_url: str, prompts: list[str], concurrency: int) -> float:
    from distilleval.backends.litellm_backend import import_litellm

    litellm = import_litellm()

    async def one(prompt: str) -> None:
        response = await litellm.acompletion(
            model=MODEL, api_base=base_url, api_key="no-key", messages=[{"role": "user", "content": prompt}],
            max_tokens=16, temperature=0.0, timeout=30, num_retries=0,
        )
        assert response.choices[0].message.content

    return await _pool(concurrency, prompts, one)


async def raw_httpx(base_url: str, prompts: list[str], concurrency: int) -> float:
    import httpx

    limits = httpx.Limits(max_connections=256, max_keepalive_connections=256)
    async with httpx.AsyncClient(limits=limits, trust_env=False) as client:

        async def one(prompt: str) -> None:
            body = {"model": "bench", "messages": [{"role": "user", "content": prompt}], "max_tokens": 16, "temperature": 0.0}
            response = await client.post(f"{base_url}/chat/completions", content=json.dumps(body), timeout=30)
            assert json.loads(response.content)["choices"][0]["message"]["content"]

        return await _pool(concurrency, prompts, one)


async def raw_aiohttp(base_url: str, prompts: list[str], concurrency: int) -> float:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=256)
    async with aiohttp.ClientSession(connector=connector, headers={"Content-Type": "application/json"}) as session:

        async def one(prompt: str) -> None:
            body = {"model": "bench", "messages": [{"role": "user", "content": prompt}], "max_tokens": 16, "temperature": 0.0}
            async with session.post(f"{base_url}/chat/completions", data=json.dumps(body)) as response:
                assert json.loads(await response.read())["choices"][0]["message"]["content"]

        return await _pool(concurrency, prompts, one)


def _calls(prompts: list[str]) -> list[Call]:
    return [
        Call(f"i{i}", "student", ChatRequest(messages=({"role": "user", "content": p},), max_tokens=16))
        for i, p in enumerate(prompts)
    ]


async def through_runner(backend, prompts: list[str], concurrency: int) -> float:
    calls = _calls(prompts)
    runner = Runner({"student": backend}, options=RunnerOptions(concurrency=concurrency))
    started = time.perf_counter()
    results = await runner.run(calls)
    rate = len(calls) / (time.perf_counter() - started)
    await backend.aclose()
    assert all(r.ok for r in results), [r.error_message for r in results if not r.ok][:3]
    return rate


async def runner_litellm(base_url: str, prompts: list[str], concurrency: int) -> float:
    from distilleval.backends.litellm_backend import LiteLLMBackend

    return await through_runner(LiteLLMBackend(MODEL, price=None, api_base=base_url), prompts, concurrency)


async def runner_fast(base_url: str, prompts: list[str], concurrency: int) -> float:
    from distilleval.backends.openai_compatible import OpenAICompatibleBackend

    return await through_runner(OpenAICompatibleBackend(MODEL, api_base=base_url, price=None), prompts, concurrency)


def measure_interleaved(methods, base_url, prompt_sets, concurrency):
    """Run every method once per round, round after round; rates per method per round.

    Interleaving keeps a runner and its raw baseline under the same background load (this is
    a shared machine), so their per-round ratio is fairer than comparing separate bests.
    """
    rates: dict[str, list[float]] = {name: [] for name, _, _ in methods}
    for round_prompts in prompt_sets:
        for name, fn, size in methods:
            rates[name].append(asyncio.run(fn(base_url, round_prompts[:size], concurrency)))
    return rates


def replay(n_items: int, folder: Path) -> tuple[float, float, float]:
    """Fill a cache with ``n_items`` answers, then replay them through the runner + run store."""

    class Unreachable:
        model_id = MODEL

        async def complete(self, request, *, timeout_s):
            raise AssertionError("a cached replay must not call the model")

        async def aclose(self):
            pass

    calls = _calls(_prompts(n_items, 10_000_000))
    with ResponseCache(folder / "cache.sqlite") as cache:
        for call in calls:
            cache.put(cache_key(MODEL, call.request), MODEL, Completion("billing", 24, 1, 35.0, 0.00001))
    tracemalloc.start()
    with ResponseCache(folder / "cache.sqlite") as cache, RunStore(folder / "run") as store:
        runner = Runner({"student": Unreachable()}, options=RunnerOptions(concurrency=64), cache=cache, on_result=store.add)
        started = time.perf_counter()
        results = asyncio.run(runner.run(calls))
        with_store = n_items / (time.perf_counter() - started)
    _, peak_bytes = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert all(r.cache_hit for r in results) and len(results) == n_items
    with ResponseCache(folder / "cache.sqlite") as cache:
        runner = Runner({"student": Unreachable()}, options=RunnerOptions(concurrency=64), cache=cache)
        started = time.perf_counter()
        asyncio.run(runner.run(calls))
        cache_only = n_items / (time.perf_counter() - started)
    return with_store, cache_only, peak_bytes / 2**20


CACHED_SPEC = """name: cached_rerun
data: {path: data.jsonl, input: {text: message}, gold: label, id: id, split: {column: split}}
output: {kind: label, labels: [billing, technical, other]}
teacher: {model: openai/teacher-m, prompt: "Route this ticket: {text}", api_base: "http://127.0.0.1:9/v1", price_as: openai/gpt-5.2}
student: {model: openai/student-m, prompt: "{text}", api_base: "http://127.0.0.1:9/v1", price_as: tinker/lora}
"""


def cached_rerun(n_items: int, rounds: int, folder: Path) -> dict[str, list[float]]:
    """Wall and CPU seconds of ``distilleval eval`` on ``n_items`` items whose every answer is cached,
    whole process (CPU time does not grow with other processes' load on a shared machine), beside a bare ``python -c pass`` and ``distilleval --help`` measured in the same rounds.

    The spec's models go through LiteLLM to an endpoint nobody listens on: the re-run must need
    neither. The cache is filled with the keys ``eval`` computes for the spec's own requests.
    """
    import subprocess

    from distilleval.pipeline.evaluate import _call_for
    from distilleval.pipeline.plan import eval_items
    from distilleval.spec.data import load_items
    from distilleval.spec.task_spec import load_spec

    labels = ("billing", "technical", "other")
    with (folder / "data.jsonl").open("w") as handle:
        for i in range(n_items):
            row = {"id": f"t{i}", "message": f"ticket #{i} about {labels[i % 3]}", "label": labels[i % 3], "split": "eval"}
            handle.write(json.dumps(row) + "\n")
    (folder / "spec.yaml").write_text(CACHED_SPEC)
    spec = load_spec(folder / "spec.yaml")
    items = eval_items(load_items(spec), None)
    with ResponseCache(folder / "cache.sqlite") as cache:
        for role, model in spec.models().items():
            for item in items:
                call = _call_for(spec, role, item)
                cache.put(cache_key(model.model, call.request), model.model, Completion("billing", 24, 1, 35.0, 0.00001))
    # No key, and bytecode cached as an installed package has it (a warm-up run writes it).
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY") and k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "distilleval --help": [sys.executable, "-m", "distilleval", "--help"],
        "cached eval": [sys.executable, "-m", "distilleval", "eval", str(folder / "spec.yaml"), "--cache",
                        str(folder / "cache.sqlite"), "--runs-dir", str(folder / "runs")],
    }
    walls: dict[str, list[float]] = {name: [] for name in commands}
    walls.update({f"{name} (CPU)": [] for name in commands})
    for argv in commands.values():
        subprocess.run(argv, check=True, env=env, stdout=subprocess.DEVNULL)
    for _ in range(rounds):
        for name, argv in commands.items():
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            started = time.perf_counter()
            subprocess.run(argv, check=True, env=env, stdout=subprocess.DEVNULL)
            walls[name].append(time.perf_counter() - started)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            walls[f"{name} (CPU)"].append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    probe = ("import sys; from distilleval.cli.main import main; "
             f"main(['eval', {str(folder / 'spec.yaml')!r}, '--cache', {str(folder / 'cache.sqlite')!r}, "
             f"'--runs-dir', {str(folder / 'runs')!r}]); print('litellm' in sys.modules)")
    imported = subprocess.run([sys.executable, "-c", probe], check=True, env=env, capture_output=True, text=True)
    walls["litellm imported"] = [float(imported.stdout.strip().splitlines()[-1] == "True")]
    return walls


def print_cached_rerun(n_items: int, rounds: int) -> None:
    """The fully cached re-run's wall time (goal: under 1.5 s for 2,000 items, start-up included)."""
    with tempfile.TemporaryDirectory() as folder:
        walls = cached_rerun(n_items, rounds, Path(folder))
    imported = bool(walls.pop("litellm imported")[0])
    median = statistics.median
    print(f"fully cached re-run of {n_items:,} items x 2 models (whole process, median of {rounds} interleaved rounds):")
    for name, values in walls.items():
        kind = "CPU " if name.endswith("(CPU)") else "wall"
        print(f"  {name.removesuffix(' (CPU)'):20} {kind} {median(values):6.2f} s   (min {min(values):.2f}, max {max(values):.2f})")
    bare = median(walls["python -c pass"])
    print(f"  cached eval / bare python start-up: {median(walls['cached eval']) / bare:.1f}x; goal < 1.5 s; "
          f"LiteLLM imported: {'yes' if imported else 'no'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1000, help="LiteLLM/httpx calls per measurement at concurrency 64 (x4 for aiohttp)")
    parser.add_argument("--items-c1", type=int, default=200, help="LiteLLM/httpx calls per measurement at concurrency 1 (x4 for aiohttp)")
    parser.add_argument("--replay", type=int, default=10_000, help="cached items to replay")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (medians are reported)")
    parser.add_argument("--cached-rerun", type=int, default=0, metavar="N",
                        help="only time a fully cached `distilleval eval` of N items (whole process) and exit")
    args = parser.parse_args()
    if args.cached_rerun:
        print_cached_rerun(args.cached_rerun, args.rounds)
        return

    print(f"machine: {os.cpu_count()} cores, python {sys.version.split()[0]}; server in its own process, 0 ms delay")
    rows = []
    with ServerProcess(delay_ms=0, answer="billing") as server:
        offset = 0
        for concurrency, n_slow, n_fast in ((1, args.items_c1, args.items_c1 * 4), (64, args.items, args.items * 4)):
            # Fresh prompts per round so nothing is served from anywhere but the server.
            prompt_sets = []
            for _ in range(args.rounds):
                prompt_sets.append(_prompts(max(n_slow, n_fast), offset))
                offset += max(n_slow, n_fast)
            # Warm LiteLLM (import, lazy init) and the connection pools outside the timings.
            asyncio.run(raw_litellm(server.base_url, _prompts(20, 9_000_000 + offset), 4))
            methods = [
                ("raw_litellm", raw_litellm, n_slow),
                ("runner_litellm", runner_litellm, n_slow),
                ("raw_httpx", raw_httpx, n_slow),
                ("raw_aiohttp", raw_aiohttp, n_fast),
                ("runner_fast", runner_fast, n_fast),
            ]
            rates = measure_interleaved(methods, server.base_url, prompt_sets, concurrency)
            rows.append({"concurrency": concurrency, "n_slow": n_slow, "n_fast": n_fast, "rates": rates})

    median = statistics.median
    print()
    print(f"median requests/s over {args.rounds} interleaved rounds; ratios are medians of per-round ratios")
    print(f"{'concurrency':>11} | {'raw litellm':>11} {'runner+litellm':>14} {'ratio':>6} | "
          f"{'raw httpx':>9} {'raw aiohttp':>11} {'runner fast path':>16} {'/httpx':>7} {'/aiohttp':>8}")
    for row in rows:
        r = row["rates"]
        ratio_litellm = median([a / b for a, b in zip(r["runner_litellm"], r["raw_litellm"])])
        ratio_httpx = median([a / b for a, b in zip(r["runner_fast"], r["raw_httpx"])])
        ratio_aiohttp = median([a / b for a, b in zip(r["runner_fast"], r["raw_aiohttp"])])
        print(
            f"{row['concurrency']:>11} | {median(r['raw_litellm']):>11.0f} {median(r['runner_litellm']):>14.0f} "
            f"{ratio_litellm:>6.2f} | {median(r['raw_httpx']):>9.0f} {median(r['raw_aiohttp']):>11.0f} "
            f"{median(r['runner_fast']):>16.0f} {ratio_httpx:>7.2f} {ratio_aiohttp:>8.2f}"
        )
    print(f"(calls per measurement: LiteLLM and httpx {rows[0]['n_slow']} at c=1, {rows[1]['n_slow']} at c=64; "
          f"aiohttp and fast path {rows[0]['n_fast']} and {rows[1]['n_fast']})")

    with tempfile.TemporaryDirectory() as folder:
        with_store, cache_only, peak_mib = replay(args.replay, Path(folder))
    print()
    print(f"cache replay of {args.replay:,} items: {with_store:,.0f} items/s with the run store committing each row, "
          f"{cache_only:,.0f} items/s cache only; traced peak {peak_mib:.1f} MiB during the replay")
    peak_rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process (LiteLLM imported): {peak_rss_mib:.0f} MiB")


if __name__ == "__main__":
    main()
