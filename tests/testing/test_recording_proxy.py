"""The recording proxy forwards each call unchanged and logs the exchange with its two clocks."""

import json
import time
import urllib.error
import urllib.request

from distilleval.testing.llama_server import free_port
from distilleval.testing.openai_server import ModelScript, OpenAIServer
from distilleval.testing.recording_proxy import RecordingProxy


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
