"""The batch test server keeps requests and results on disk, answers from there, and refuses a
batch the real services would refuse."""

import gc
import json
import tracemalloc
from pathlib import Path

import httpx
import pytest

from distilleval.testing import batch_servers
from distilleval.testing.batch_servers import BatchServer


def _line(i, text=None):
    return {"custom_id": f"c{i}", "method": "POST", "url": "/v1/chat/completions",
            "body": {"model": "gpt-4.1-mini", "messages": [{"role": "user", "content": text or f"item {i} text"}]}}


def _upload(server, lines, purpose="batch"):
    content = "".join(line if isinstance(line, str) else json.dumps(line) + "\n" for line in lines)
    return httpx.post(f"{server.openai_base}/files", data={"purpose": purpose},
                      files={"file": ("r.jsonl", content.encode(), "application/jsonl")}, timeout=30)


def _create(server, file_id):
    return httpx.post(f"{server.openai_base}/batches", timeout=30,
                      json={"input_file_id": file_id, "endpoint": "/v1/chat/completions", "completion_window": "24h"})


def _run_openai_batch(server, lines):
    batch = _create(server, _upload(server, lines).json()["id"]).json()
    while batch["status"] not in ("completed", "expired", "failed"):
        batch = httpx.get(f"{server.openai_base}/batches/{batch['id']}", timeout=30).json()
    return batch


def test_results_come_from_files_on_disk_and_stop_removes_them():
    with BatchServer(polls_to_finish=0, answer=lambda p: "billing", fails=lambda p: "item 1 " in p) as server:
        batch = _run_openai_batch(server, [_line(i) for i in range(3)])
        assert batch["request_counts"] == {"total": 3, "completed": 2, "failed": 1}
        folder = Path(server._folder.name)
        output = httpx.get(f"{server.openai_base}/files/{batch['output_file_id']}/content").text
        errors = httpx.get(f"{server.openai_base}/files/{batch['error_file_id']}/content").text
        assert [json.loads(x)["custom_id"] for x in output.splitlines()] == ["c0", "c2"]
        assert [json.loads(x)["response"]["status_code"] for x in errors.splitlines()] == [400]
        assert (folder / batch["output_file_id"]).read_text() == output
    assert not folder.exists()


def test_memory_stays_flat_as_a_batch_goes_through():
    # The request file is ~1.5 MB; held in memory as parsed requests and results it was many times that.
    lines = [_line(i, f"item {i} " + "word " * 20) for i in range(5000)]
    with BatchServer(polls_to_finish=0) as server:
        _run_openai_batch(server, lines[:10])  # warm up: imports, connection pools
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            batch = _run_openai_batch(server, lines)
            gc.collect()
            retained = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
        assert batch["request_counts"]["completed"] == 5000
    assert retained < 500_000, f"the server kept {retained:,} bytes after a 5,000-request batch"


def test_an_upload_with_the_wrong_purpose_or_no_file_is_refused_and_not_kept():
    with BatchServer() as server:
        assert _upload(server, [_line(0)], purpose="fine-tune").status_code == 400
        assert httpx.post(f"{server.openai_base}/files", data={"purpose": "batch"}).status_code == 400
        assert list(Path(server._folder.name).iterdir()) == []


@pytest.mark.parametrize("lines", [
    [_line(0), _line(0)],                          # a repeated custom_id
    [{"method": "POST", "body": _line(0)["body"]}],  # no custom_id
    [json.dumps(_line(0)) + "\n", "{not json\n"],  # a line that is not JSON
    [_line(i) for i in range(4)],                  # more than the service's limit (set to 3 below)
])
def test_a_batch_file_the_service_would_refuse_gets_400(monkeypatch, lines):
    monkeypatch.setattr(batch_servers, "OPENAI_MAX_REQUESTS", 3)
    with BatchServer() as server:
        response = _create(server, _upload(server, lines).json()["id"])
        assert response.status_code == 400, response.text
        assert server.submissions == []


def test_anthropic_batches_are_refused_when_empty_repeated_or_too_big(monkeypatch):
    monkeypatch.setattr(batch_servers, "ANTHROPIC_MAX_REQUESTS", 2)
    request = {"params": {"model": "claude-opus-4-6", "max_tokens": 8, "messages": [{"role": "user", "content": "x"}]}}
    with BatchServer(polls_to_finish=0) as server:
        url, headers = f"{server.anthropic_base}/v1/messages/batches", {"anthropic-version": "2023-06-01"}
        for requests in ([], [request | {"custom_id": "a"}] * 2, [request | {"custom_id": c} for c in "abc"]):
            assert httpx.post(url, json={"requests": requests}, headers=headers).status_code == 400
        created = httpx.post(url, json={"requests": [request | {"custom_id": c} for c in "ab"]}, headers=headers).json()
        ended = httpx.get(f"{url}/{created['id']}", headers=headers).json()
        assert ended["request_counts"]["succeeded"] == 2
        results = httpx.get(ended["results_url"], headers=headers).text
        assert sorted(json.loads(x)["custom_id"] for x in results.splitlines()) == ["a", "b"]
