"""Counting a request with its server's own template: llama.cpp's endpoints, and the fallback's reason."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from distilleval.backends.server_token_counts import ServerCountingError, server_root, server_token_counter
from distilleval.spec.task_spec import ModelSpec
from distilleval.testing.openai_server import ModelScript, OpenAIServer

# A template with a default system turn, and a tokenizer of one token per character: a count that
# a local tokenizer could never give, so the test can only pass if the server's answers are used.
DEFAULT_SYSTEM = "<s>system: be nice</s>"


class _TemplateServer(BaseHTTPRequestHandler):
    """llama.cpp's two endpoints, as llama.cpp answers them, over a toy template and tokenizer."""

    calls: list[tuple[str, dict]] = []

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).calls.append((self.path, body))
        if self.path == "/apply-template":
            turns = "".join(f"<s>{m['role']}: {m['content']}</s>" for m in body["messages"])
            answer = {"prompt": DEFAULT_SYSTEM + turns + "<s>assistant: "}
        elif self.path == "/tokenize":
            answer = {"tokens": list(range(len(body["content"]) + (1 if body.get("add_special") else 0)))}
        else:
            self.send_error(404)
            return
        data = json.dumps(answer).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture()
def template_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _TemplateServer)
    _TemplateServer.calls = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _model(api_base: str | None) -> ModelSpec:
    return ModelSpec(model="openai/local", prompt="{text}", api_base=api_base)


def test_a_llama_cpp_server_renders_and_counts_each_request(template_server):
    base = f"http://127.0.0.1:{template_server.server_address[1]}/v1"
    counting = server_token_counter(_model(base))
    assert counting.counter is not None and counting.reason is None
    assert counting.counter.name == f"the chat template and tokenizer of the llama.cpp server at {base}"
    messages = [{"role": "system", "content": "rubric"}, {"role": "user", "content": "hello"}]
    rendered = DEFAULT_SYSTEM + "<s>system: rubric</s><s>user: hello</s><s>assistant: "
    # The rendered prompt's tokens, special tokens added as the chat endpoint adds them; an answer without.
    assert counting.counter.count_request(messages) == len(rendered) + 1
    assert counting.counter.count_answer("positive") == len("positive")
    assert ("/apply-template", {"messages": messages}) in _TemplateServer.calls  # at the root, not under /v1


def test_a_server_without_template_endpoints_gives_the_reason():
    with OpenAIServer({"local": ModelScript(answer="ok")}) as server:
        counting = server_token_counter(_model(server.base_url))
    assert counting.counter is None
    assert counting.reason.startswith(f"the server at {server.base_url} counts no chat request (llama.cpp /apply-template")


def test_no_api_base_or_image_inputs_are_not_asked():
    assert server_token_counter(_model(None)).reason == "no api_base"
    assert "image inputs" in server_token_counter(_model("http://127.0.0.1:9/v1"), image_inputs=True).reason


def test_a_server_that_stops_answering_mid_count_is_an_operational_error(template_server):
    base = f"http://127.0.0.1:{template_server.server_address[1]}"
    counter = server_token_counter(_model(base)).counter
    template_server.shutdown()
    template_server.server_close()
    with pytest.raises(ServerCountingError) as caught:
        counter.count_request([{"role": "user", "content": "x"}])
    assert caught.value.exit_code == 2 and "/apply-template" in str(caught.value)


def test_the_root_drops_the_openai_suffix():
    assert server_root("http://127.0.0.1:8080/v1/") == "http://127.0.0.1:8080"
    assert server_root("http://host:1/api") == "http://host:1/api"
