"""The runner over real HTTP: retries, faults, concurrency, budgets, abort, latency honesty."""

import asyncio
import collections
import time

import pytest

from distilleval.backends.base import ChatRequest
from distilleval.backends.litellm_backend import LiteLLMBackend
from distilleval.backends.openai_compatible import OpenAICompatibleBackend
from distilleval.errors import RateLimitedError, ServiceUnavailableError
from distilleval.run.runner import Call, CallResult, Progress, RateBudget, RunAborted, Runner, RunnerOptions
from distilleval.testing.openai_server import ModelScript, OpenAIServer, ServerProcess, fail_first, random_faults

FAST = dict(backoff_base_s=0.01, backoff_max_s=0.05, seed=0)


def _calls(role, n, prefix="item"):
    return [Call(f"{prefix}-{i}", role, ChatRequest(messages=({"role": "user", "content": f"{prefix} {i}"},))) for i in range(n)]


def _run(backends, calls, **kwargs):
    async def go():
        try:
            return await Runner(backends, **kwargs).run(calls)
        finally:
            for backend in backends.values():
                await backend.aclose()

    return asyncio.run(go())


def _max_overlap(log):
    events = sorted([(r.received_at, 1) for r in log] + [(r.finished_at, -1) for r in log])
    level = peak = 0
    for _, step in events:
        level += step
        peak = max(peak, level)
    return peak


def test_results_in_order_with_tokens_and_cost():
    with OpenAIServer({"s": ModelScript(answer=lambda p: p.split()[-1], usage=(10, 1))}) as server:
        backend = OpenAICompatibleBackend("openai/s", api_base=server.base_url, price=None)
        results = _run({"student": backend}, _calls("student", 12), options=RunnerOptions(concurrency=4, **FAST))
    assert [r.item_id for r in results] == [f"item-{i}" for i in range(12)]
    assert [r.text for r in results] == [str(i) for i in range(12)]
    assert all(r.ok and r.attempts == 1 and not r.cache_hit and r.input_tokens == 10 for r in results)


def test_concurrency_limit_holds():
    with OpenAIServer({"s": ModelScript(delay_ms=40)}) as server:
        backend = OpenAICompatibleBackend("openai/s", api_base=server.base_url, price=None)
        _run({"student": backend}, _calls("student", 24), options=RunnerOptions(concurrency=3, **FAST))
        peak = _max_overlap(server.log)
    assert peak == 3


def test_retry_after_is_honoured():
    script = ModelScript(faults=fail_first("rate_limit"), retry_after_s=0.4)
    with OpenAIServer({"s": script}) as server:
        backend = OpenAICompatibleBackend("openai/s", api_base=server.base_url, price=None)
        started = time.monotonic()
        [result] = _run({"student": backend}, _calls("student", 1), options=RunnerOptions(**FAST))
        elapsed = time.monotonic() - started
        gap = server.log[1].received_at - server.log[0].finished_at
    assert result.ok and result.attempts == 2
    assert gap >= 0.4 and elapsed < 2.0  # waited as told, not the 30 s backoff cap


def test_a_429_holds_every_call_to_that_model():
    script = ModelScript(faults=lambda prompt, attempt: "rate_limit" if (prompt, attempt) == ("item 0", 0) else None,
                         retry_after_s=0.4)
    with OpenAIServer({"s": script}) as server:
        backend = OpenAICompatibleBackend("openai/s", api_base=server.base_url, price=None)
        results = _run({"student": backend}, _calls("student", 8), options=RunnerOptions(concurrency=2, **FAST))
        log = list(server.log)
    assert all(r.ok for r in results)
    [limited] = [r for r in log if r.outcome == "rate_limit"]
    later = [r.received_at - limited.finished_at for r in log if r.received_at > limited.finished_at]
    # A request already on its way when the 429 left the server may land just after it;
    # after that, nothing reaches the model until the hold is over.
    assert all(gap < 0.02 or gap >= 0.38 for gap in later), sorted(later)
    assert sum(gap >= 0.38 for gap in later) >= 6


def test_backoff_grows_exponentially_with_jitter_and_floor():
    runner = Runner({}, options=RunnerOptions(backoff_base_s=1.0, backoff_max_s=8.0, seed=1))
    plain = ServiceUnavailableError("x")
    delays = [runner.backoff_s(n, plain) for n in range(1, 6)]
    for n, delay in enumerate(delays, start=1):
        base = min(8.0, 2 ** (n - 1))
        assert 0.5 * base <= delay < 1.5 * base
    assert runner.backoff_s(1, RateLimitedError("x", retry_after_s=20.0)) >= 20.0


def test_retries_exhausted_records_the_error():
    script = ModelScript(faults=lambda prompt, attempt: "rate_limit" if prompt == "item 0" else None, retry_after_s=None)
    with OpenAIServer({"s": script}) as server:
        backend = OpenAICompatibleBackend("openai/s", api_base=server.base_url, price=None)
        results = _run({"student": backend}, _calls("student", 3), options=RunnerOptions(max_retries=2, **FAST))
        tries = len(server.requests_for("s", "rate_limit"))
    first = results[0]
    assert (first.status, first.error_kind, first.attempts, tries) == ("error", "rate_limited", 3, 3)
    assert all(r.ok for r in results[1:])


def test_timeout_then_retry_succeeds():
    script = ModelScript(faults=fail_first("slow"), slow_s=5)
    with OpenAIServer({"s": script}) as server:
        backend = OpenAICompatibleBackend("openai/s", api_base=server.base_url, price=None)
        options = RunnerOptions(timeout_s={"student": 0.3}, **FAST)
        [result] = _run({"student": backend}, _calls("student", 1), options=options)
    assert result.ok and result.attempts == 2


@pytest.mark.parametrize("fast_path", [False, True])
def test_twenty_percent_faults_every_item_accounted_for(fast_path):
    n = 40
    faults = random_faults(0.2, seed=7)
    script = ModelScript(answer=lambda p: "ans " + p, faults=faults, slow_s=2.5, retry_after_s=0.01)
    with OpenAIServer({"t": script, "s": script}) as server:
        make = (
            (lambda m: OpenAICompatibleBackend(m, api_base=server.base_url, price=None))
            if fast_path
            else (lambda m: LiteLLMBackend(m, price=None, api_base=server.base_url))
        )
        calls = _calls("teacher", n) + _calls("student", n)
        # Room for a loaded 2-core machine: only the "slow" faults should reach the timeout.
        options = RunnerOptions(concurrency=16, timeout_s={"teacher": 1.2, "student": 1.2}, **FAST)
        results = _run({"teacher": make("openai/t"), "student": make("openai/s")}, calls, options=options)
        log = list(server.log)
    injected = sum(r.outcome != "ok" for r in log)
    assert injected >= 8  # the faults really happened (about 20% of first attempts)
    assert len(results) == 2 * n
    assert {(r.item_id, r.model) for r in results} == {(c.item_id, c.model) for c in calls}
    ok = [r for r in results if r.ok]
    errors = [r for r in results if not r.ok]
    assert len(ok) + len(errors) == 2 * n
    assert all(r.error_kind and r.error_message for r in errors)
    for r in ok:
        assert r.text == "ans " + r.item_id.replace("-", " ")
    # No item got two answers: each prompt was paid for at most once per model.
    paid = collections.Counter((r.model, r.prompt) for r in log if r.outcome == "ok")
    assert max(paid.values()) == 1
    assert sum(paid.values()) == len(ok)


def test_auth_failure_aborts_with_one_line():
    with OpenAIServer({"s": ModelScript()}, api_key="right") as server:
        backend = OpenAICompatibleBackend("openai/s", api_base=server.base_url, price=None, api_key="wrong")
        seen = []
        with pytest.raises(RunAborted, match="student model cannot be used \\(auth\\)") as caught:
            _run({"student": backend}, _calls("student", 50), options=RunnerOptions(concurrency=2, **FAST), on_result=seen.append)
        requests = len(server.log)
    assert "\n" not in str(caught.value)
    assert requests <= 4 and len(seen) <= 4  # stopped instead of failing 50 times


def test_unreachable_model_aborts_before_first_success():
    backend = OpenAICompatibleBackend("openai/s", api_base="http://127.0.0.1:9/v1", price=None)
    with pytest.raises(RunAborted, match="unavailable"):
        _run({"student": backend}, _calls("student", 20), options=RunnerOptions(concurrency=1, max_retries=1, **FAST))


def test_a_model_that_goes_away_mid_run_stops_the_run_naming_its_endpoint():
    """The server answers 3 calls, then is gone (connection refused on every attempt): the run
    stops once every attempt has failed for give_up_after_s, not after retrying every item."""
    results = []
    with OpenAIServer({"s": ModelScript(answer="ok")}) as server:
        backend = OpenAICompatibleBackend("openai/s", api_base=server.base_url, price=None)
        base_url = server.base_url

        def on_result(result):
            results.append(result)
            if len(results) == 3:
                server.stop()

        options = RunnerOptions(concurrency=1, max_retries=50, give_up_after_s=0.5, endpoints={"student": base_url}, **FAST)
        started = time.monotonic()
        with pytest.raises(RunAborted) as caught:
            _run({"student": backend}, _calls("student", 40), options=options, on_result=on_result)
    elapsed = time.monotonic() - started
    message = str(caught.value)
    assert base_url in message and "stopped answering mid-run" in message and "of 40 calls done" in message
    assert [r.status for r in results[:3]] == ["ok"] * 3 and len(results) <= 5  # no grinding through the rest
    assert elapsed < 10


def test_random_server_errors_between_answers_never_stop_the_run():
    # A failing attempt here and there is not a dead endpoint: each answer resets the clock.
    faults = random_faults(0.3, kinds=("server_error",), seed=3)
    with OpenAIServer({"s": ModelScript(answer="ok", faults=faults)}) as server:
        backend = OpenAICompatibleBackend("openai/s", api_base=server.base_url, price=None)
        options = RunnerOptions(concurrency=2, max_retries=20, give_up_after_s=0.2, **FAST)
        results = _run({"student": backend}, _calls("student", 60), options=options)
    assert len(results) == 60 and all(r.ok for r in results)


def test_rate_budget_spreads_requests_over_the_window():
    async def go():
        budget = RateBudget(requests_per_minute=4, tokens_per_minute=None, window_s=0.3)
        started = time.monotonic()
        for _ in range(9):
            await budget.acquire(1)
        return time.monotonic() - started

    elapsed = asyncio.run(go())
    assert 0.6 <= elapsed < 1.2  # 9 requests at 4 per window need two full windows


def test_token_budget_counts_measured_tokens():
    async def go():
        budget = RateBudget(requests_per_minute=None, tokens_per_minute=100, window_s=0.3)
        entry = await budget.acquire(90)
        budget.settle(entry, 10)  # the call used far fewer tokens than estimated
        started = time.monotonic()
        await budget.acquire(80)
        return time.monotonic() - started

    assert asyncio.run(go()) < 0.1


def test_a_settle_after_the_entry_left_the_window_does_not_change_the_budget():
    # A call slower than the window is settled after its entry has expired and been subtracted.
    # Its correction must then be dropped: applying it would take 80 tokens off the live total,
    # and a request that does not fit beside the live entry would be let through at once.
    async def go():
        budget = RateBudget(requests_per_minute=None, tokens_per_minute=100, window_s=0.3)
        slow = await budget.acquire(90)
        await asyncio.sleep(0.35)
        live = await budget.acquire(50)  # prunes the slow call's entry
        budget.settle(slow, 10)  # the slow call answers late, with fewer tokens than estimated
        after = await budget.acquire(60)  # 50 + 60 > 100: must wait for the live entry to expire
        return live[0], after[0]

    live_at, after_at = asyncio.run(go())
    assert after_at - live_at >= 0.3  # time stamps of the window entries, not wall time: no flake


def test_rpm_option_limits_the_runner():
    with OpenAIServer({"s": ModelScript()}) as server:
        backend = OpenAICompatibleBackend("openai/s", api_base=server.base_url, price=None)
        options = RunnerOptions(concurrency=8, requests_per_minute={"student": 600}, **FAST)
        runner = Runner({"student": backend}, options=options)
        assert runner._budgets["student"].requests_per_minute == 600


def test_progress_counts_and_is_quiet_off_a_terminal():
    progress = Progress(3)
    assert progress._rich is None  # pytest's stderr is not a terminal
    with OpenAIServer({"s": ModelScript(faults=lambda p, a: "rate_limit" if p == "item 1" else None)}) as server:
        backend = OpenAICompatibleBackend("openai/s", api_base=server.base_url, price=None)
        _run({"student": backend}, _calls("student", 3), options=RunnerOptions(max_retries=0, **FAST), progress=progress)
    assert (progress.done, progress.errors) == (3, 1)


def test_progress_draws_done_errors_and_dollars_on_a_terminal():
    import io

    from rich.console import Console

    screen = io.StringIO()
    results = [CallResult("a", "student", 0, "ok", cost_usd=0.25), CallResult("b", "student", 0, "error", error_kind="timeout"),
               CallResult("c", "student", 0, "ok", cost_usd=0.0, cache_hit=True)]
    with Progress(4, force=True, console=Console(file=screen, force_terminal=True, width=120)) as progress:
        for result in results:
            progress.advance(result)
    drawn = screen.getvalue()
    assert "3/4" in drawn and "1 errors" in drawn and "1 cached" in drawn and "$0.2500" in drawn


def test_latency_is_measured_per_call():
    # The seed's figures: a 450 ms teacher and a 35 ms student. The server runs in its own
    # process so its work does not share this process's GIL with the client being timed.
    from distilleval.results.build import distribution
    from distilleval.results.latency import client_bound_reason

    with ServerProcess({"t": (450, "a"), "s": (35, "b")}) as server:
        backends = {
            "teacher": LiteLLMBackend("openai/t", price=None, api_base=server.base_url),
            "student": LiteLLMBackend("openai/s", price=None, api_base=server.base_url),
        }
        calls = [c for pair in zip(_calls("teacher", 12), _calls("student", 12)) for c in pair]
        runner = Runner(backends, options=RunnerOptions(concurrency=2, **FAST))

        async def go():
            try:
                return await runner.run(calls)
            finally:
                for backend in backends.values():
                    await backend.aclose()

        results = asyncio.run(go())
    for role, true_ms in (("teacher", 450), ("student", 35)):
        latency = distribution([r.latency_ms for r in results if r.model == role])
        assert true_ms <= latency.p50, latency
        # Within the bound (10% + 5 ms) unless the loop lag says the client set the figure
        # (this machine is shared: under load the runner must say so rather than be believed).
        lag = distribution(runner.loop_lag_ms.get(role, []))
        assert client_bound_reason(lag, latency) is not None or latency.p50 <= true_ms * 1.1 + 5, (latency, lag)

def test_an_answer_lost_to_thinking_keeps_its_billed_usage_and_cost(tmp_path):
    """Gemini answered (and billed) a candidate with no parts: the error carries the thinking, priced as output."""
    from distilleval.costs.cost_model import request_cost_usd
    from distilleval.costs.pricing import ModelPrice
    from distilleval.run.store import RunStore

    price = ModelPrice.model_validate(
        {"display_name": "g", "input": 2.0, "output": 12.0, "source": "test", "as_of": "2026-01-01"}
    )
    with OpenAIServer(default=ModelScript(answer="billing", usage=(40, 1), thinking_tokens=50_000)) as server:
        backend = LiteLLMBackend("gemini/gemini-3-pro-preview", price=price, api_base=server.api_base("gemini"), api_key="k")
        with RunStore(tmp_path / "run") as store:
            progress = Progress(2, force=False)
            results = _run({"teacher": backend}, _calls("teacher", 2), options=RunnerOptions(**FAST),
                           on_result=store.add, progress=progress)
            stored = store.results()
        configs = [entry.body["generationConfig"] for entry in server.log]
        sent_max_tokens = [config.get("maxOutputTokens", config.get("max_output_tokens")) for config in configs]
    assert [r.error_kind for r in stored] == ["thinking_exhausted"] * 2
    for result, limit in zip(stored, sent_max_tokens):
        # The double thinks up to the whole output limit; all of it is billed as output.
        assert result.output_tokens == limit > 1000 and result.input_tokens == 40
        assert result.cost_usd == pytest.approx(request_cost_usd(price, 40, limit)) and result.cost_usd > 0
    assert [r.cost_usd for r in results] == [r.cost_usd for r in stored]
    assert progress.spent_usd == pytest.approx(sum(r.cost_usd for r in stored))


def test_a_failure_the_provider_did_not_bill_costs_nothing():
    with OpenAIServer({"s": ModelScript(faults=lambda prompt, attempt: "malformed")}) as server:
        backend = OpenAICompatibleBackend("openai/s", api_base=server.base_url, price=None)
        [result] = _run({"student": backend}, _calls("student", 1), options=RunnerOptions(max_retries=0, **FAST))
    assert result.error_kind == "bad_response" and result.cost_usd == 0.0 and result.output_tokens is None


class _AnswersThenHangs:
    """A backend that answers ``answers`` calls, then never answers again (a frozen server)."""

    model_id = "openai/frozen"

    def __init__(self, answers: int, *, hang_s: float = 3600.0):
        self.answers = answers
        self.hang_s = hang_s
        self.calls = 0

    async def complete(self, request, *, timeout_s):
        from distilleval.backends.base import Completion

        self.calls += 1
        if self.calls > self.answers:
            await asyncio.sleep(self.hang_s)
        return Completion("ok", 3, 1, 1.0, 0.0)

    async def aclose(self):
        pass


def test_a_frozen_endpoint_stops_the_run_whatever_the_call_timeout(monkeypatch):
    """Issue 26: a server frozen mid-run (SIGSTOP) accepts connections and answers nothing, and each
    call's own timeout (an hour here) is far away: the silence, then a probe nobody answers, stop it."""
    import socket

    from distilleval.run import runner as runner_module

    monkeypatch.setattr(runner_module, "PROBE_TIMEOUT_S", 0.3)
    with socket.socket() as silent:  # listens (the kernel completes connections) but never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/v1"
        results = []
        options = RunnerOptions(concurrency=2, default_timeout_s=3600, give_up_after_s=0.4, endpoints={"student": url}, **FAST)
        started = time.monotonic()
        with pytest.raises(RunAborted) as caught:
            _run({"student": _AnswersThenHangs(3)}, _calls("student", 20), options=options, on_result=results.append)
        elapsed = time.monotonic() - started
    message = str(caught.value)
    assert url in message and "stopped answering mid-run" in message and "3 of 20 calls done, 17 left" in message
    assert [r.status for r in results] == ["ok"] * 3  # the calls in flight were dropped, not recorded
    assert elapsed < 3.0


def test_a_slow_endpoint_that_answers_the_probe_is_not_stopped():
    # Every call after the first takes longer than give_up_after_s, but the server answers a probe.
    with OpenAIServer({"s": ModelScript(answer="ok")}) as server:
        options = RunnerOptions(concurrency=1, give_up_after_s=0.2, endpoints={"student": server.base_url}, **FAST)
        results = _run({"student": _AnswersThenHangs(1, hang_s=0.6)}, _calls("student", 3), options=options)
    assert [r.status for r in results] == ["ok"] * 3


# -- a stream of calls: drawn as workers free up, cache hits served before the runner -------------


class _Answering:
    """A backend that answers every call at once and notes how many calls were drawn by then."""

    model_id = "openai/s"

    def __init__(self, drawn, fail=None, delay_s=lambda content: 0):
        self.drawn, self.fail, self.seen, self.delay_s = drawn, fail, [], delay_s

    async def complete(self, request, *, timeout_s):
        from distilleval.backends.base import Completion

        self.seen.append((request.messages[0]["content"], len(self.drawn)))
        if self.fail is not None:
            raise self.fail
        await asyncio.sleep(self.delay_s(request.messages[0]["content"]))
        return Completion("billing", 5, 1, 1.0, 0.0)

    async def aclose(self):
        pass


def _drawn_stream(calls, drawn):
    for call in calls:
        drawn.append(call.item_id)
        yield call


def test_an_iterator_of_calls_is_drawn_as_workers_free_up():
    drawn = []
    # Even items answer slowly: results finish out of order, and still come back in the calls' order.
    backend = _Answering(drawn, delay_s=lambda content: 0.01 if int(content.split()[-1]) % 2 == 0 else 0)
    stream = _drawn_stream(_calls("student", 40), drawn)
    results = _run({"student": backend}, stream, options=RunnerOptions(concurrency=4, **FAST))
    assert backend.seen[0] == ("item 0", 1)  # the first call went out before the rest were drawn
    assert [r.item_id for r in results] == [f"item-{i}" for i in range(40)] and len(drawn) == 40


def test_keep_results_false_keeps_nothing_and_on_result_gets_every_result():
    got = []
    runner = Runner({"student": _Answering([])}, on_result=got.append, options=RunnerOptions(concurrency=3, **FAST))
    results = asyncio.run(runner.run(iter(_calls("student", 7)), keep_results=False))
    assert results == [] and sorted(r.item_id for r in got) == [f"item-{i}" for i in range(7)]


def test_an_iterator_naming_a_role_without_a_backend_raises_key_error():
    with pytest.raises(KeyError, match="teacher"):
        _run({"student": _Answering([])}, iter(_calls("teacher", 1)))


def test_a_call_known_to_miss_is_not_looked_up_again_and_its_answer_goes_in_the_cache(tmp_path):
    from distilleval.backends.base import Completion
    from distilleval.run.cache import ResponseCache

    backend = _Answering([])
    with ResponseCache(tmp_path / "cache.sqlite") as cache:
        cache.put("planned-key", "openai/s", Completion("stale", 5, 1, 1.0, 0.0))  # written after the bulk look-up
        call = Call("a", "student", ChatRequest(messages=({"role": "user", "content": "a"},)), miss_key="planned-key")
        [result] = _run({"student": backend}, [call], cache=cache, options=RunnerOptions(**FAST))
        assert (result.text, result.cache_hit, len(backend.seen)) == ("billing", False, 1)
        assert cache.get("planned-key").text == "billing"  # stored under the planned key


def test_hits_served_outside_the_runner_count_as_answers_and_as_done():
    async def go(hits):
        runner = Runner({"student": _Answering([], fail=ServiceUnavailableError("down"))},
                        options=RunnerOptions(max_retries=0, **FAST))
        if hits:
            runner.note_hits("student", hits)
        try:
            return await runner.run(iter(_calls("student", 1)), total=hits + 1)
        except RunAborted as err:
            return str(err)

    # A model that never answered and is unreachable stops the run; one whose answers came from the cache
    # in this run has answered, so its connection error is recorded like any other.
    assert "cannot be used (unavailable)" in asyncio.run(go(0))
    [result] = asyncio.run(go(3))
    assert result.error_kind == "unavailable"
