"""The loop-lag monitor sees a blocked event loop and credits it to the roles with calls in flight."""

import asyncio
import time

from distilleval.backends.base import ChatRequest, Completion
from distilleval.run.loop_lag import LoopLagMonitor
from distilleval.run.runner import Call, Runner, RunnerOptions


def test_a_blocked_loop_is_measured_and_credited_to_roles_in_flight_only():
    in_flight = {"student": 1, "teacher": 0}

    async def go():
        monitor = LoopLagMonitor(in_flight, interval_s=0.005)
        monitor.start()
        await asyncio.sleep(0.02)
        time.sleep(0.12)  # CPU work that holds the loop, as LiteLLM's per-call overhead does
        await asyncio.sleep(0.02)
        await monitor.stop()
        return monitor.samples_ms

    samples = asyncio.run(go())
    assert set(samples) == {"student"}
    assert max(samples["student"]) >= 100  # the loop woke at least 100 ms late once


class Blocking:
    """A backend whose every call holds the event loop for ``cpu_s`` (a client-bound client)."""

    model_id = "openai/s"

    def __init__(self, cpu_s):
        self.cpu_s = cpu_s

    async def complete(self, request, *, timeout_s):
        time.sleep(self.cpu_s)
        await asyncio.sleep(0.001)
        return Completion("ok", 1, 1, 1.0, 0.0)

    async def aclose(self):
        pass


def test_the_runner_samples_lag_while_its_calls_are_in_flight():
    calls = [Call(f"i{i}", "student", ChatRequest(messages=({"role": "user", "content": str(i)},))) for i in range(40)]
    runner = Runner({"student": Blocking(0.01)}, options=RunnerOptions(concurrency=8))
    asyncio.run(runner.run(calls))
    assert runner.called_roles == {"student"}
    lag = runner.loop_lag_ms["student"]
    assert lag and max(lag) >= 10  # eight calls each holding the loop 10 ms


class TimedElsewhere(Blocking):
    """A backend that times its calls in loops of its own (worker processes) and reports their lag."""

    def __init__(self):
        super().__init__(0.0)
        self.loop_lag_ms = [40.0] * 5


def test_a_backend_that_times_calls_in_its_own_loops_reports_the_lag_that_counts():
    from distilleval.run.lazy import LazyBackend

    calls = [Call(f"i{i}", "student", ChatRequest(messages=({"role": "user", "content": str(i)},))) for i in range(4)]
    runner = Runner({"student": LazyBackend("openai/s", TimedElsewhere)}, options=RunnerOptions(concurrency=2))
    asyncio.run(runner.run(calls))
    assert runner.loop_lag_ms["student"] == [40.0] * 5  # the workers' samples, not this loop's


def test_a_later_run_on_the_same_backend_counts_only_its_own_samples():
    # The probe re-uses the throughput run's backends: the run's lag must not count against it.
    backend = TimedElsewhere()
    calls = [Call(f"i{i}", "student", ChatRequest(messages=({"role": "user", "content": str(i)},))) for i in range(2)]
    runner = Runner({"student": backend}, options=RunnerOptions(concurrency=1))

    async def go():
        original = backend.complete

        async def complete(request, *, timeout_s):
            backend.loop_lag_ms.append(1.0)  # what the workers sampled during this call
            return await original(request, timeout_s=timeout_s)

        backend.complete = complete
        await runner.run(calls)

    asyncio.run(go())
    assert runner.loop_lag_ms["student"] == [1.0, 1.0]
