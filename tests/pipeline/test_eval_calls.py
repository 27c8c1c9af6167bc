"""An eval's calls as a plan: counted without building them, built in run order, keyed once, hits replayed in bulk."""

import pytest

from distilleval.backends.base import Completion
from distilleval.pipeline.call_keys import RoleKeys
from distilleval.pipeline.eval_calls import EvalCalls
from distilleval.pipeline.evaluate import _call_for
from distilleval.pipeline.preflight import check_eval_inputs
from distilleval.run.cache import ResponseCache, cache_key
from distilleval.run.store import RunStore
from distilleval.spec.task_spec import load_spec
from tests.commands.test_eval import write_spec

ROLES = ("teacher", "student")
ANSWER = Completion("billing", 5, 1, 3.0, 0.001)


@pytest.fixture
def task(tmp_path, monkeypatch):
    monkeypatch.setattr("distilleval.pipeline.eval_calls.FIRST_CHUNK_ITEMS", 2)
    monkeypatch.setattr("distilleval.pipeline.eval_calls.MAX_CHUNK_ITEMS", 4)
    spec = load_spec(write_spec(tmp_path / "task", "http://127.0.0.1:9/v1", 9))
    return spec, check_eval_inputs(spec).evaluate


def test_calls_are_counted_without_being_built_and_come_interleaved_by_item(task):
    spec, items = task
    finished = {(items[0].id, "teacher", 0), (items[3].id, "student", 0)}
    plan = EvalCalls(spec, items, ROLES, finished)
    assert plan.counts == {"teacher": 8, "student": 8} and len(plan) == 16 and plan.roles == list(ROLES)
    expected = [_call_for(spec, role, item) for item in items for role in ROLES if (item.id, role, 0) not in finished]
    assert list(plan) == expected  # the very requests eval sends (and the drift check rebuilds)
    assert EvalCalls(spec, items, ["teacher"], {(item.id, "teacher", 0) for item in items}).roles == []


def test_one_roles_calls_are_drawn_anew_on_each_pass(task):
    # What ``eval --batch`` hands the batch runner: it iterates them more than once and keeps none.
    spec, items = task
    finished = {(items[0].id, "teacher", 0), (items[3].id, "student", 0)}
    plan = EvalCalls(spec, items, ROLES, finished)
    for role in ROLES:
        calls = plan.of_role(role)
        expected = [call for call in plan if call.model == role]
        assert len(calls) == len(expected) == 8
        first = list(calls)
        assert first == expected and list(calls) == expected
        assert iter(calls) is not calls and next(iter(calls)) is not first[0]  # built again, not kept


def test_keys_are_those_of_the_built_requests_in_growing_chunks(task):
    spec, items = task
    plan = EvalCalls(spec, items, ROLES)
    chunks = list(plan.keyed_chunks(plan.model_ids))
    assert [len(chunk) for chunk in chunks] == [4, 8, 6]  # 2, 4, then 3 items (of 4 at most), two calls each
    for item_id, role, repeat, key, cache_row, item in (entry for chunk in chunks for entry in chunk):
        assert key == cache_key(plan.model_ids[role], plan.request(role, item)) and (item_id, repeat) == (item.id, 0)
        assert cache_row is None  # no scan looked in a cache
    again = list(plan.keyed_chunks(plan.model_ids, remember=True))
    assert again == chunks and list(plan.keyed_chunks(plan.model_ids)) == chunks  # computed, then remembered


def test_the_backend_scan_stops_at_a_miss_of_every_role_and_its_keys_are_not_computed_again(task, tmp_path, monkeypatch):
    spec, items = task
    plan = EvalCalls(spec, items, ROLES)
    cache_path = tmp_path / "cache.sqlite"
    assert plan.roles_with_misses(None) == set(ROLES) and plan.roles_with_misses(tmp_path / "absent") == set(ROLES)
    # Cached: every teacher answer and the student's for the first four items.
    with ResponseCache(cache_path) as cache:
        for item in items:
            for role in ROLES if item in items[:4] else ("teacher",):
                cache.put(cache_key(plan.model_ids[role], plan.request(role, item)), plan.model_ids[role], ANSWER)
    built = []
    digests = RoleKeys.digests

    def counted(role_keys, items):
        built.extend(items)
        return digests(role_keys, items)

    monkeypatch.setattr(RoleKeys, "digests", counted)
    assert plan.roles_with_misses(cache_path) == {"student"}
    assert len(built) == 18  # a role with no miss is scanned to the end
    with ResponseCache(cache_path) as cache:  # the scan noted where it found each key, for the replay to read
        rows = cache.rows_of([entry[3] for chunk in plan.keyed_chunks(plan.model_ids) for entry in chunk])
    assert [entry[4] for chunk in plan.keyed_chunks(plan.model_ids) for entry in chunk] == [
        rows.get(entry[3]) for chunk in plan.keyed_chunks(plan.model_ids) for entry in chunk]
    assert sum(1 for row in rows.values() if row) == 13
    with ResponseCache(cache_path) as cache, RunStore(tmp_path / "run") as store:
        counted = []
        misses = list(plan.calls(cache, store, plan.model_ids, on_hits=lambda role, n: counted.append((role, n))))
        stored = {(r.item_id, r.model) for r in store.results() if r.cache_hit}
    assert len(built) == 18  # the scan's keys were reused, none computed again
    assert [(call.item_id, call.model) for call in misses] == [(item.id, "student") for item in items[4:]]
    assert all(call.miss_key == cache_key(plan.model_ids["student"], call.request) for call in misses)
    assert stored == {(item.id, "teacher") for item in items} | {(item.id, "student") for item in items[:4]}
    assert sum(n for _, n in counted) == 13


def test_without_a_cache_every_call_is_drawn_and_none_is_keyed(task, tmp_path):
    spec, items = task
    plan = EvalCalls(spec, items, ROLES)
    with RunStore(tmp_path / "run") as store:
        calls = list(plan.calls(None, store, plan.model_ids))
    assert len(calls) == 18 and all(call.miss_key is None for call in calls)


def test_the_scan_keeps_no_memory_per_call_and_the_replay_reads_its_keys_back(tmp_path, monkeypatch):
    import gc
    import tracemalloc

    spec = load_spec(write_spec(tmp_path / "task", "http://127.0.0.1:9/v1", 2_000))
    plan = EvalCalls(spec, check_eval_inputs(spec).evaluate, ROLES)
    cache_path = tmp_path / "cache.sqlite"
    with ResponseCache(cache_path) as cache:
        for chunk in plan.keyed_chunks(plan.model_ids):
            for role in ROLES:
                cache.put_many(plan.model_ids[role], [(key, ANSWER) for _, called, _, key, _, _ in chunk if called == role])
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        assert plan.roles_with_misses(cache_path) == set()
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert held < 4 * len(plan)  # 40 bytes a call were kept in memory before (32 of key, 8 of cache row)

    def not_again(role_keys, items):
        raise AssertionError("a key computed again")

    monkeypatch.setattr(RoleKeys, "digests", not_again)
    with ResponseCache(cache_path) as cache, RunStore(tmp_path / "run") as store:
        assert list(plan.calls(cache, store, plan.model_ids)) == []
        assert len(store.results("teacher")) == len(store.results("student")) == 2_000
