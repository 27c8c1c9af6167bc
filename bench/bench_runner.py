"""Benchmark: distilleval's runner against bare clients, reported vs true latency, cache replay, memory.

Everything runs against the scripted OpenAI-compatible server in its own process on
127.0.0.1. Printed side by side, each part measured in the same run:

- wall: seconds for N items at concurrency 64 against an instant server, as speed-ups over a
  bare ``litellm.acompletion`` loop and a bare aiohttp loop: distilleval's LiteLLM path in
  one process, the LiteLLM path with its calls in worker processes (``litellm_pool``), and the
  fast path (issue 10's goal for the LiteLLM path: 1.5x the bare LiteLLM loop);
- cpu: CPU milliseconds per call in each process (hardly affected by other load), and the
  calls/s that allows on idle cores, for the bare LiteLLM loop and both LiteLLM paths;
- latency: reported p50 and p95 divided by the server's configured delay (35 ms) at
  concurrency 1, 16 and 64, on the LiteLLM path (in process and pooled) and the fast path;
- throughput: requests/s of runner + LiteLLM vs a raw LiteLLM loop, runner + fast path vs raw
  httpx and aiohttp loops, at concurrency 1 and 64 (goals: within 10%, at least 80%);
- replay: 10,000 cached items through the runner with the run store committing every row,
  and the peak RSS of the process.

    python bench/bench_runner.py [--parts wall,cpu,latency,throughput,replay] [--wall-items 600] [--rounds 3]

``--cached-rerun 2000`` instead times a fully cached ``distilleval eval`` of 2,000 items, whole
process, beside bare Python start-up, and says whether LiteLLM was imported.

On a shared machine the load average printed first says how far to trust the figures.
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


async def runner_litellm_pool(base_url: str, prompts: list[str], concurrency: int) -> float:
    """The LiteLLM path with its calls in worker processes; the workers' start-up is outside the timing."""
    from distilleval.backends.litellm_pool import PooledLiteLLMBackend

    backend = PooledLiteLLMBackend(MODEL, workers=POOL_WORKERS, price=None, api_base=base_url)
    await backend.complete(_calls(["warm-up"])[0].request, timeout_s=120)
    return await through_runner(backend, prompts, concurrency)


POOL_WORKERS = 2


def wall_times(n_items: int, rounds: int) -> dict[str, list[float]]:
    """Seconds for ``n_items`` calls at concurrency 64 against an instant server, per method per round."""
    with ServerProcess(delay_ms=0, answer="billing") as server:
        asyncio.run(raw_litellm(server.base_url, _prompts(20, 8_000_000), 4))  # import and lazy init, untimed
        methods = [
            ("bare litellm.acompletion loop", raw_litellm),
            ("distilleval LiteLLM path", runner_litellm),
            (f"distilleval LiteLLM path, {POOL_WORKERS} worker processes", runner_litellm_pool),
            ("distilleval fast path", runner_fast),
            ("bare aiohttp loop", raw_aiohttp),
        ]
        seconds: dict[str, list[float]] = {name: [] for name, _ in methods}
        for round_number in range(rounds):
            for offset, (name, fn) in enumerate(methods):
                prompts = _prompts(n_items, 20_000_000 + (round_number * len(methods) + offset) * n_items)
                seconds[name].append(n_items / asyncio.run(fn(server.base_url, prompts, 64)))
    return seconds


def _process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a live process, from /proc (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_per_call(n_items: int) -> list[tuple[str, float, float]]:
    """(method, CPU ms per call in this process, CPU ms per call in each worker) at concurrency 64.

    CPU time, unlike wall time, hardly depends on what else the machine runs, so it shows what
    each design could reach on idle cores even when the cores are busy.
    """
    from distilleval.backends.litellm_pool import PooledLiteLLMBackend

    rows = []
    with ServerProcess(delay_ms=0, answer="billing") as server:
        asyncio.run(raw_litellm(server.base_url, _prompts(20, 7_000_000), 4))
        for name, fn in (("bare litellm.acompletion loop", raw_litellm), ("distilleval LiteLLM path", runner_litellm)):
            started = time.process_time()
            asyncio.run(fn(server.base_url, _prompts(n_items, 40_000_000 + len(rows) * n_items), 64))
            rows.append((name, (time.process_time() - started) * 1000 / n_items, 0.0))

        async def pooled() -> tuple[float, float]:
            backend = PooledLiteLLMBackend(MODEL, workers=POOL_WORKERS, price=None, api_base=server.base_url)
            await backend.complete(_calls(["warm-up"])[0].request, timeout_s=120)
            pids = [process.pid for process in backend._pool.processes]
            workers_before = sum(_process_cpu_s(pid) for pid in pids)
            started = time.process_time()
            runner = Runner({"student": backend}, options=RunnerOptions(concurrency=64))
            await runner.run(_calls(_prompts(n_items, 41_000_000)))
            parent_s = time.process_time() - started
            workers_s = sum(_process_cpu_s(pid) for pid in pids) - workers_before
            await backend.aclose()
            return parent_s * 1000 / n_items, workers_s * 1000 / n_items / POOL_WORKERS

        parent_ms, worker_ms = asyncio.run(pooled())
        rows.append((f"distilleval LiteLLM path, {POOL_WORKERS} worker processes", parent_ms, worker_ms))
    return rows


async def _latencies(backend, prompts: list[str], concurrency: int) -> list[float]:
    calls = _calls(prompts)
    runner = Runner({"student": backend}, options=RunnerOptions(concurrency=concurrency))
    try:
        results = await runner.run(calls)
    finally:
        await backend.aclose()
    assert all(r.ok for r in results), [r.error_message for r in results if not r.ok][:3]
    return [r.latency_ms for r in results]


def reported_latency(delay_ms: float, calls_per_slot: int) -> list[tuple[str, int, float, float]]:
    """(path, concurrency, reported p50 / true, reported p95 / true) against a server answering after ``delay_ms``.

    True latency is the server's configured delay: what a model that slow would take.
    """
    from distilleval.backends.litellm_backend import LiteLLMBackend
    from distilleval.backends.litellm_pool import PooledLiteLLMBackend
    from distilleval.backends.openai_compatible import OpenAICompatibleBackend

    rows = []
    with ServerProcess(delay_ms=delay_ms, answer="billing") as server:
        paths = [
            ("LiteLLM path", lambda: LiteLLMBackend(MODEL, price=None, api_base=server.base_url)),
            (f"LiteLLM path, {POOL_WORKERS} workers",
             lambda: PooledLiteLLMBackend(MODEL, workers=POOL_WORKERS, price=None, api_base=server.base_url)),
            ("fast path", lambda: OpenAICompatibleBackend(MODEL, api_base=server.base_url, price=None)),
        ]
        offset = 30_000_000
        for name, build in paths:
            for concurrency in (1, 16, 64):
                n = max(calls_per_slot, concurrency * 4)
                latencies = asyncio.run(_latencies(build(), _prompts(n, offset), concurrency))
                offset += n
                p50 = statistics.median(latencies)
                p95 = statistics.quantiles(latencies, n=20)[-1]
                rows.append((name, concurrency, p50 / delay_ms, p95 / delay_ms))
    return rows


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
    parser.add_argument("--wall-items", type=int, default=600, help="items per wall-time measurement at concurrency 64")
    parser.add_argument("--delay-ms", type=float, default=35.0, help="server delay for the reported/true latency table")
    parser.add_argument("--latency-calls", type=int, default=40, help="calls per latency measurement (at least 4x concurrency)")
    parser.add_argument("--parts", default="wall,cpu,latency,throughput,replay", help="comma-separated parts to run")
    parser.add_argument("--cached-rerun", type=int, default=0, metavar="N",
                        help="only time a fully cached `distilleval eval` of N items (whole process) and exit")
    args = parser.parse_args()
    if args.cached_rerun:
        print_cached_rerun(args.cached_rerun, args.rounds)
        return
    parts = set(args.parts.split(","))
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}, python {sys.version.split()[0]}")
    if "wall" in parts:
        print_wall_times(args.wall_items, args.rounds)
    if "cpu" in parts:
        print_cpu_per_call(args.wall_items)
    if "latency" in parts:
        print_reported_latency(args.delay_ms, args.latency_calls)
    if "throughput" in parts:
        print_throughput(args)
    if "replay" in parts:
        print_replay(args.replay)


def print_wall_times(n_items: int, rounds: int) -> None:
    """Wall time for ``n_items`` at concurrency 64, as ratios against the bare loops measured in the same rounds."""
    seconds = wall_times(n_items, rounds)
    median = statistics.median
    bare_litellm = seconds["bare litellm.acompletion loop"]
    bare_aiohttp = seconds["bare aiohttp loop"]
    print()
    print(f"wall time for {n_items} items at concurrency 64, instant server in its own process "
          f"(median of {rounds} interleaved rounds; speed-up = bare time / this time, per round)")
    print(f"{'':<45} {'seconds':>8} {'vs bare litellm':>16} {'vs bare aiohttp':>16}")
    for name, values in seconds.items():
        vs_litellm = median([b / v for b, v in zip(bare_litellm, values)])
        vs_aiohttp = median([b / v for b, v in zip(bare_aiohttp, values)])
        print(f"{name:<45} {median(values):>8.2f} {vs_litellm:>15.2f}x {vs_aiohttp:>15.2f}x")


def print_cpu_per_call(n_items: int) -> None:
    """CPU milliseconds per call, and the calls/s that CPU allows on this machine's cores when they are idle."""
    cores = os.cpu_count() or 1
    rows = cpu_per_call(n_items)
    print()
    print(f"CPU per call at concurrency 64 ({n_items} calls; the server's CPU not counted); ceiling: the calls/s that "
          f"CPU allows on {cores} idle cores (a process uses at most one)")
    print(f"{'':<45} {'ms/call here':>12} {'ms/call/worker':>15} {'ceiling calls/s':>16} {'vs bare':>8}")
    ceilings = []
    for name, parent_ms, worker_ms in rows:
        if worker_ms:
            ceiling = min(cores * 1000 / (parent_ms + worker_ms), 1000 / parent_ms, POOL_WORKERS * 1000 / worker_ms)
        else:
            ceiling = 1000 / parent_ms
        ceilings.append(ceiling)
        print(f"{name:<45} {parent_ms:>12.2f} {worker_ms:>15.2f} {ceiling:>16.0f} {ceiling / ceilings[0]:>7.2f}x")


def print_reported_latency(delay_ms: float, calls: int) -> None:
    """Reported p50 and p95 divided by the server's true delay, per path and concurrency."""
    print()
    print(f"reported latency / true latency (server answers after {delay_ms:g} ms; 1.00 is exact)")
    print(f"{'path':<24} {'concurrency':>11} {'p50 ratio':>10} {'p95 ratio':>10}")
    for name, concurrency, p50, p95 in reported_latency(delay_ms, calls):
        print(f"{name:<24} {concurrency:>11} {p50:>10.2f} {p95:>10.2f}")


def print_throughput(args: argparse.Namespace) -> None:
    """Requests/s of the runner against raw clients at concurrency 1 and 64."""

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
    print(f"median requests/s over {args.rounds} interleaved rounds, instant server; ratios are medians of per-round ratios")
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



def print_replay(n_items: int) -> None:
    """Items/s of a cached replay, and the peak memory of this process."""
    with tempfile.TemporaryDirectory() as folder:
        with_store, cache_only, peak_mib = replay(n_items, Path(folder))
    print()
    print(f"cache replay of {n_items:,} items: {with_store:,.0f} items/s with the run store committing each row, "
          f"{cache_only:,.0f} items/s cache only; traced peak {peak_mib:.1f} MiB during the replay")
    peak_rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process (LiteLLM imported): {peak_rss_mib:.0f} MiB")


if __name__ == "__main__":
    main()
