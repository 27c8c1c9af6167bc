"""Batch jobs against the local OpenAI and Anthropic batch servers: every item accounted for
(ok, failed, expired, missing), batch-tier cost, no latency, cache hits never sent, and an
interrupted submission found again instead of sent twice."""

import asyncio

import pytest

from distilleval.backends.base import ChatRequest
from distilleval.backends.batch_factory import batch_client_for
from distilleval.costs.cost_model import request_cost_usd
from distilleval.costs.pricing import load_pricing
from distilleval.errors import ConfigurationError
from distilleval.run.batch import BatchJobRunner, BatchOptions
from distilleval.run.batch_ledger import BatchLedger, BatchRequestRow
from distilleval.run.cache import ResponseCache, cache_key
from distilleval.run.runner import Call
from distilleval.run.store import RunStore
from distilleval.testing.batch_servers import BatchServer

MODELS = {"openai": "openai/gpt-4.1-mini", "anthropic": "anthropic/claude-opus-4-6"}


def calls(n=10):
    return [
        Call(f"i{i}", "teacher", ChatRequest(
            ({"role": "system", "content": "rubric words"}, {"role": "user", "content": f"item {i} text"}), max_tokens=8
        ))
        for i in range(n)
    ]


def base_of(server, provider):
    return server.openai_base if provider == "openai" else server.anthropic_base


def run_job(server, provider, run_dir, cache_path, the_calls, *, log=None):
    model = MODELS[provider]

    async def go():
        client = batch_client_for("teacher", model, api_base=base_of(server, provider), api_key="k")
        store = RunStore(run_dir)
        cache = ResponseCache(cache_path) if cache_path else None
        runner = BatchJobRunner(
            "teacher", model, client, store=store, cache=cache, price=load_pricing().price_for(model),
            work_dir=run_dir, options=BatchOptions(poll_initial_s=0.001, poll_max_s=0.01), log=log or (lambda line: None),
        )
        try:
            return await runner.run(the_calls), runner
        finally:
            runner.close()
            store.close()
            if cache is not None:
                cache.close()
            await client.aclose()

    return asyncio.run(go())


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_every_item_accounted_for_with_failures_expiries_and_missing_results(tmp_path, provider):
    server = BatchServer(
        polls_to_finish=2, answer=lambda prompt: "billing now",
        fails=lambda p: "item 3 " in p, expires=lambda p: "item 5 " in p, drops=lambda p: "item 7 " in p,
        api_key="k",
    )
    lines = []
    with server:
        results, _ = run_job(server, provider, tmp_path / "run", tmp_path / "cache.sqlite", calls(), log=lines.append)
    assert [r.item_id for r in results] == [f"i{i}" for i in range(10)]
    kinds = {r.item_id: r.error_kind for r in results if not r.ok}
    assert kinds == {"i3": "bad_request", "i5": "expired", "i7": "missing"}
    ok = [r for r in results if r.ok]
    assert len(ok) == 7 and all(r.text == "billing now" for r in ok)
    # prompt "rubric words\nitem N text": 5 words in, 2 out, priced at the batch tier (half price)
    price = load_pricing().price_for(MODELS[provider])
    assert all(r.input_tokens == 5 and r.output_tokens == 2 for r in ok)
    assert ok[0].cost_usd == pytest.approx(request_cost_usd(price, 5, 2, batch=True))
    assert ok[0].cost_usd == pytest.approx(request_cost_usd(price, 5, 2) / 2)
    assert all(r.latency_ms is None for r in results)  # a batch call has no per-request latency
    assert len(server.submissions) == 1 and server.submissions[0][2] == 10
    assert any("done (in_progress), elapsed" in line for line in lines)  # the progress line
    with RunStore(tmp_path / "run") as store:
        assert len(store.results("teacher")) == 10


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_cache_hits_are_served_and_never_resubmitted(tmp_path, provider):
    with BatchServer(polls_to_finish=1) as server:
        cache = tmp_path / "cache.sqlite"
        run_job(server, provider, tmp_path / "first", cache, calls(6))
        results, runner = run_job(server, provider, tmp_path / "second", cache, calls(8))
        assert [size for _, _, size in server.submissions] == [6, 2]  # only the two new items went out
    assert runner.cache_hits == 6
    hits = [r for r in results if r.cache_hit]
    assert len(hits) == 6 and all(r.cost_usd == 0 and r.latency_ms is None for r in hits)
    with ResponseCache(cache) as stored:
        key = cache_key(MODELS[provider], calls(1)[0].request, 0)
        assert stored.get(key).latency_ms is None  # the cache keeps "no latency", so hits replay none


def test_a_finished_job_is_not_submitted_again(tmp_path):
    with BatchServer(polls_to_finish=1) as server:
        run_job(server, "openai", tmp_path / "run", None, calls(4))
        results, _ = run_job(server, "openai", tmp_path / "run", None, calls(4))
        assert len(server.submissions) == 1
    assert len(results) == 4 and all(r.ok for r in results)


def test_an_interrupted_openai_submission_is_found_by_its_token_not_sent_again(tmp_path):
    """Killed after the batch was created but before its id was saved: the ledger has the job
    without an id; the next run finds the batch by its metadata token."""
    with BatchServer(polls_to_finish=1) as server:
        run_dir = tmp_path / "run"
        first, _ = run_job(server, "openai", run_dir, None, calls(3))
        with BatchLedger(run_dir / "records.sqlite") as ledger:
            (job,) = ledger.jobs("teacher")
            ledger._db.execute("UPDATE batch_jobs SET batch_id = NULL, collected = 0")
        with RunStore(run_dir) as store:
            store._db.execute("DELETE FROM records")
        results, _ = run_job(server, "openai", run_dir, None, calls(3))
        assert len(server.submissions) == 1
    assert [r.ok for r in results] == [True] * 3


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_an_interrupted_submission_the_provider_never_got_is_sent_once(tmp_path, provider):
    """Killed after the job was recorded but before the request reached the provider: the
    provider has no such batch, so the next run submits it (once)."""
    with BatchServer(polls_to_finish=1) as server:
        run_dir = tmp_path / "run"
        run_job(server, provider, run_dir, None, calls(3))
        with BatchLedger(run_dir / "records.sqlite") as ledger:
            ledger._db.execute("UPDATE batch_jobs SET batch_id = NULL, collected = 0")
        with RunStore(run_dir) as store:
            store._db.execute("DELETE FROM records")
        server._batches.clear()  # the earlier batch never existed at the provider
        server.submissions.clear()
        results, _ = run_job(server, provider, run_dir, None, calls(3))
        assert len(server.submissions) == 1
    assert [r.ok for r in results] == [True] * 3


def test_an_interrupted_anthropic_submission_is_recognised_by_its_time_and_size(tmp_path):
    """Message Batches carry no token of ours: the batch made since the job was recorded, with
    the job's number of requests, is the one."""
    with BatchServer(polls_to_finish=1) as server:
        run_dir = tmp_path / "run"
        run_job(server, "anthropic", tmp_path / "other", None, calls(5))  # someone else's batch, another size
        run_job(server, "anthropic", run_dir, None, calls(3))
        with BatchLedger(run_dir / "records.sqlite") as ledger:
            ledger._db.execute("UPDATE batch_jobs SET batch_id = NULL, collected = 0")
        with RunStore(run_dir) as store:
            store._db.execute("DELETE FROM records")
        lines = []
        results, _ = run_job(server, "anthropic", run_dir, None, calls(3), log=lines.append)
        assert len(server.submissions) == 2  # the two above; nothing sent again
    assert [r.ok for r in results] == [True] * 3
    assert any("found batch msgbatch_" in line for line in lines)


def test_two_anthropic_batches_that_could_be_the_interrupted_one_stop_the_run(tmp_path):
    with BatchServer(polls_to_finish=1) as server:
        run_job(server, "anthropic", tmp_path / "a", None, calls(2))
        run_job(server, "anthropic", tmp_path / "b", None, calls(2))
        run_dir = tmp_path / "run"
        RunStore(run_dir).close()
        keys = [cache_key(MODELS["anthropic"], call.request) for call in calls(2)]
        with BatchLedger(run_dir / "records.sqlite") as ledger:
            job = ledger.add_job("teacher", "anthropic", "tok", [BatchRequestRow("c0-0", "i0", 0, keys[0]),
                                                                BatchRequestRow("c0-1", "i1", 0, keys[1])])
            ledger._db.execute("UPDATE batch_jobs SET created_at = ?", (job.created_at - 5,))
        with pytest.raises(ConfigurationError, match="2 batches"):
            run_job(server, "anthropic", run_dir, None, calls(2))
        assert len(server.submissions) == 2


def test_a_batch_too_big_for_one_request_file_is_split(tmp_path, monkeypatch):
    from distilleval.backends.batch_openai import OpenAIBatchClient

    monkeypatch.setattr(OpenAIBatchClient, "max_requests", 4)
    with BatchServer(polls_to_finish=1) as server:
        results, _ = run_job(server, "openai", tmp_path / "run", None, calls(10))
        assert [size for _, _, size in server.submissions] == [4, 4, 2]
    assert len(results) == 10 and all(r.ok for r in results)


def test_models_without_a_batch_api_are_named():
    with pytest.raises(ConfigurationError, match="'gemini/gemini-2.5-flash' has no provider batch API"):
        batch_client_for("teacher", "gemini/gemini-2.5-flash", api_base=None, api_key=None)
    with pytest.raises(ConfigurationError, match="tinker://x"):
        batch_client_for("student", "tinker://x/sampler_weights/final", api_base=None, api_key=None)


@pytest.mark.parametrize(("provider", "model", "repeats"), [
    ("openai", "openai/gpt-4", 6000),  # LiteLLM's map: 8,192 input tokens; ~12,000 sent
    ("anthropic", "anthropic/claude-haiku-4-5", 110_000),  # 200,000 input tokens; ~220,000 sent
])
def test_a_prompt_longer_than_the_context_window_is_refused_before_any_upload(tmp_path, provider, model, repeats):
    from distilleval.errors import DataError

    the_calls = calls(3)
    too_long = ChatRequest(({"role": "user", "content": "charged twice " * repeats},), max_tokens=8)
    the_calls[1] = Call("i1", "teacher", too_long)

    async def go(server):
        client = batch_client_for("teacher", model, api_base=base_of(server, provider), api_key="k")
        try:
            with RunStore(tmp_path / "run") as store:
                runner = BatchJobRunner("teacher", model, client, store=store, cache=None, price=None,
                                        work_dir=tmp_path / "run", log=lambda line: None)
                try:
                    await runner.run(the_calls)
                finally:
                    runner.close()
        finally:
            await client.aclose()

    with BatchServer(polls_to_finish=0) as server:
        with pytest.raises(DataError) as err:
            asyncio.run(go(server))
        assert server.submissions == []  # nothing uploaded, no batch made
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith("--batch: teacher model, item i1:") and "context window" in message
    assert not list((tmp_path / "run").glob("batch-*.jsonl"))  # no request file written either


def test_request_files_go_once_their_results_are_stored_and_a_resume_writes_one_it_needs_again(tmp_path):
    # Issue 27: a batch run folder kept every request file (1.4 GiB at 1M items). Once a job's
    # results are in the run store the file goes; the ledger keeps what resuming needs.
    run_dir = tmp_path / "run"
    sent: list[bytes] = []

    def log(line):
        if " requests as " in line:  # "teacher: submitted 5 requests as openai batch ..."
            [request_file] = run_dir.glob("batch-*.jsonl")
            sent.append(request_file.read_bytes())

    with BatchServer(polls_to_finish=1) as server:
        first, _ = run_job(server, "openai", run_dir, None, calls(5), log=log)
        assert len(sent) == 1 and sent[0].count(b"\n") == 5
        assert not list(run_dir.glob("batch-*"))  # the folder holds the store, not the 5 requests
        # Killed between recording the job and uploading it (the provider never got it): the file is
        # gone, so the resume writes it again from the ledger and the calls, byte for byte, and sends it once.
        with BatchLedger(run_dir / "records.sqlite") as ledger:
            ledger._db.execute("UPDATE batch_jobs SET batch_id = NULL, collected = 0")
        with RunStore(run_dir) as store:
            store._db.execute("DELETE FROM records")
        server._batches.clear()
        server.submissions.clear()
        again, _ = run_job(server, "openai", run_dir, None, calls(5), log=log)
        assert len(server.submissions) == 1
    assert sent[1] == sent[0]
    assert [r.text for r in again] == [r.text for r in first] and all(r.ok for r in again)
    assert not list(run_dir.glob("batch-*"))


class DrawnCalls:
    """Calls built anew each time they are iterated (as ``EvalCalls.of_role`` builds them): the test
    can then see whether the runner keeps any."""

    def __init__(self, n, long_item=None):
        self.n, self.long_item = n, long_item

    def __iter__(self):
        for i in range(self.n):
            if f"i{i}" == self.long_item:
                yield Call(f"i{i}", "teacher", ChatRequest(({"role": "user", "content": "charged twice " * 6000},),
                                                           max_tokens=8))
            else:
                yield Call(f"i{i}", "teacher", ChatRequest(
                    ({"role": "system", "content": "rubric words"}, {"role": "user", "content": f"item {i} text"}),
                    max_tokens=8))


def live_calls():
    import gc

    return sum(1 for obj in gc.get_objects() if isinstance(obj, Call))


def test_several_windows_write_the_same_rows_and_requests_as_one_batch_and_keep_no_call(tmp_path, monkeypatch):
    # Issue 27: at 1M items the runner held every Call (its whole prompt) of a role until the end.
    import json

    from distilleval.backends.batch_openai import OpenAIBatchClient

    def rows_of(run_dir):
        with RunStore(run_dir) as store:
            return sorted((r.item_id, r.status, r.text, r.input_tokens, r.output_tokens, r.cost_usd, r.error_kind)
                          for r in store.results("teacher"))

    def recording(run_dir, sent, held):
        def log(line):
            if " requests as " in line:
                held.append(live_calls())
                newest = max(run_dir.glob("batch-*.jsonl"), key=lambda path: int(path.stem.rsplit("-", 1)[1]))
                sent.append(newest.read_text().splitlines())
        return log

    before = live_calls()  # earlier tests' calls a kept traceback may hold
    with BatchServer(polls_to_finish=1, fails=lambda p: "item 4 " in p) as server:
        one_sent, one_held = [], []
        one, _ = run_job(server, "openai", tmp_path / "one", None, DrawnCalls(10),
                         log=recording(tmp_path / "one", one_sent, one_held))
        monkeypatch.setattr(OpenAIBatchClient, "max_requests", 3)
        sent, held = [], []
        windowed, _ = run_job(server, "openai", tmp_path / "windowed", None, DrawnCalls(10),
                              log=recording(tmp_path / "windowed", sent, held))
        assert [size for _, _, size in server.submissions] == [10, 3, 3, 3, 1]
        client = batch_client_for("teacher", MODELS["openai"], api_base=server.openai_base, api_key="k")
    assert rows_of(tmp_path / "windowed") == rows_of(tmp_path / "one")
    assert [(r.item_id, r.ok) for r in windowed] == [(r.item_id, r.ok) for r in one]
    assert [r.item_id for r in windowed if not r.ok] == ["i4"]
    # Each window's file holds exactly the lines the request writer makes, ids c<window>-<index>, in call order.
    expected = [[json.dumps(client.request_line(f"c{w}-{i}", call.request), ensure_ascii=False)
                 for i, call in enumerate(calls(10)[w * 3:w * 3 + 3])] for w in range(4)]
    assert sent == expected and len(one_sent) == 1 and len(one_sent[0]) == 10
    # Nothing holds the calls of a window once it is submitted (the one drawn last at most).
    assert len(held) == 4 and max(held) - before <= 1 and max(one_held) - before <= 1


def test_a_long_prompt_in_a_later_window_is_refused_before_the_first_window_is_uploaded(tmp_path, monkeypatch):
    from distilleval.backends.batch_openai import OpenAIBatchClient
    from distilleval.errors import DataError

    monkeypatch.setattr(OpenAIBatchClient, "max_requests", 2)

    async def go(server):
        client = batch_client_for("teacher", "openai/gpt-4", api_base=server.openai_base, api_key="k")
        try:
            with RunStore(tmp_path / "run") as store:
                runner = BatchJobRunner("teacher", "openai/gpt-4", client, store=store, cache=None, price=None,
                                        work_dir=tmp_path / "run", log=lambda line: None)
                try:
                    await runner.run(DrawnCalls(7, long_item="i5"))
                finally:
                    runner.close()
        finally:
            await client.aclose()

    with BatchServer(polls_to_finish=0) as server:
        with pytest.raises(DataError, match="item i5:.*no batch was submitted"):
            asyncio.run(go(server))
        assert server.submissions == []
    assert not list((tmp_path / "run").glob("batch-*.jsonl"))


def test_results_false_reads_nothing_back_and_a_one_pass_iterator_is_refused(tmp_path):
    with BatchServer(polls_to_finish=1) as server:
        async def go(the_calls, **kwargs):
            client = batch_client_for("teacher", MODELS["openai"], api_base=server.openai_base, api_key="k")
            try:
                with RunStore(tmp_path / "run") as store:
                    runner = BatchJobRunner("teacher", MODELS["openai"], client, store=store, cache=None, price=None,
                                            work_dir=tmp_path / "run", options=BatchOptions(poll_initial_s=0.001),
                                            log=lambda line: None)
                    try:
                        return await runner.run(the_calls, **kwargs)
                    finally:
                        runner.close()
            finally:
                await client.aclose()

        with pytest.raises(TypeError, match="more than once"):
            asyncio.run(go(iter(calls(2))))
        assert asyncio.run(go(DrawnCalls(4), results=False)) == []
        assert len(server.submissions) == 1
    with RunStore(tmp_path / "run") as store:
        assert sorted(r.item_id for r in store.results("teacher")) == ["i0", "i1", "i2", "i3"]
