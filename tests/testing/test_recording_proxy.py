"""The recording proxy forwards each call unchanged and logs the exchange with its two clocks."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from distilleval.testing.llama_server import free_port
from distilleval.testing.openai_server import ModelScript, OpenAIServer
from distilleval.testing.recording_proxy import RecordingProxy
from tests.conftest import REPO_ROOT


def _post(url, body):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, json.load(response)


def test_forwards_and_logs_each_exchange_with_clocks_inside_the_clients():
    with OpenAIServer({"m": ModelScript(answer="billing", delay_ms=80, usage=(31, 2))}) as server:
        with RecordingProxy(server.base_url.removesuffix("/v1")) as proxy:
            body = {"model": "m", "messages": [{"role": "user", "content": "ticket #1"}], "max_tokens": 5}
            started = time.perf_counter()
            status, answer = _post(proxy.base_url + "/chat/completions", body)
            client_ms = (time.perf_counter() - started) * 1000
            [exchange] = proxy.exchanges()
            proxy.clear()
            assert proxy.exchanges() == []
        upstream = [r for r in server.log if r.model == "m"]
    assert status == 200 and answer["choices"][0]["message"]["content"] == "billing"
    assert len(upstream) == 1 and upstream[0].body == body  # forwarded unchanged
    assert exchange["path"] == "/v1/chat/completions" and exchange["status"] == 200
    assert exchange["request"] == body and exchange["response"] == answer
    assert answer["usage"]["prompt_tokens"] == 31
    # The server's delay < the proxy's upstream clock <= its window < the client's own clock.
    assert 80 <= exchange["upstream_ms"] <= exchange["window_ms"] <= client_ms


def test_an_upstream_that_is_gone_is_a_logged_502():
    with RecordingProxy(f"http://127.0.0.1:{free_port()}") as proxy:
        try:
            _post(proxy.base_url + "/chat/completions", {"model": "m", "messages": []})
        except urllib.error.HTTPError as error:
            status = error.code
        [exchange] = proxy.exchanges()
    assert status == 502 and exchange["status"] == 502


def test_the_proxy_does_not_outlive_a_test_run_killed_outright():
    script = ("from distilleval.testing.recording_proxy import RecordingProxy\nimport time\n"
              "proxy = RecordingProxy('http://127.0.0.1:9').__enter__()\n"
              "print(proxy.process.pid, flush=True)\ntime.sleep(600)\n")
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    proxy_pid = int(parent.stdout.readline())
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(proxy_pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail(f"the proxy (pid {proxy_pid}) outlived its parent")
