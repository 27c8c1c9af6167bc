"""A recording HTTP proxy: forwards every request to one upstream server and logs the exchange.

Put in front of a real server (``llama_server``), it gives a test the server's own record of
each call distilleval made: the request body, the response body (its ``usage`` block and, for
llama.cpp, its ``timings``), and two clocks of the proxy's own: ``upstream_ms``, from sending
the request upstream to having read the whole answer, and ``window_ms``, from having read the
client's request headers to being ready to send the answer back (the exchange is logged just
before it is sent, so a client that has its answer finds the exchange in the log). A client's
latency for the same call encloses both, so it can be compared with them call by call.

It runs in its own process (so it shares no GIL with the client under test) and appends one
JSON line per exchange to a log file, flushed at once; a test reads it with ``exchanges()``.
Usage::

    with RecordingProxy(server.root_url) as proxy:
        ...  # point the client at proxy.base_url
        for exchange in proxy.exchanges():
            exchange["response"]["usage"], exchange["upstream_ms"]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

# Hop-by-hop headers are the proxy's own business, not forwarded.
_HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection",
                "content-length", "host"}


class RecordingProxy:
    """The proxy in a child process; a context manager.

    Args:
        upstream: the server's root URL, e.g. ``http://127.0.0.1:8080``.
    """

    def __init__(self, upstream: str):
        self.upstream = upstream
        self.log_path = Path(tempfile.mkstemp(prefix="distilleval-proxy-", suffix=".jsonl")[1])
        self.process: subprocess.Popen | None = None
        self.root_url = ""

    @property
    def base_url(self) -> str:
        """The OpenAI-compatible base URL through the proxy, for a spec's ``api_base``."""
        return self.root_url + "/v1"

    def __enter__(self) -> "RecordingProxy":
        package_root = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH", "")) if p)
        argv = [sys.executable, "-m", "distilleval.testing.recording_proxy", self.upstream, str(self.log_path)]
        self.process = subprocess.Popen(argv, stdout=subprocess.PIPE, text=True, env=env)
        line = self.process.stdout.readline() if self.process.stdout else ""
        if not line.startswith("http://"):
            self.process.kill()
            raise RuntimeError(f"the recording proxy did not start (printed {line!r})")
        self.root_url = line.strip()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.log_path.unlink(missing_ok=True)

    def exchanges(self) -> list[dict[str, Any]]:
        """Every exchange logged so far, oldest first."""
        text = self.log_path.read_text()
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def clear(self) -> None:
        """Forget the exchanges logged so far."""
        self.log_path.write_text("")


def _handler(upstream: str, log_path: Path) -> type[BaseHTTPRequestHandler]:
    target = urllib.parse.urlsplit(upstream)
    if not target.hostname:
        raise ValueError(f"upstream {upstream!r} names no host (expected http://host:port)")
    host = target.hostname
    write_lock = threading.Lock()

    class Forward(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as a real server offers

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
            pass

        def _forward(self) -> None:
            received_at = time.time()
            window_start = time.perf_counter()
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_HEADERS}
            connection = http.client.HTTPConnection(host, target.port, timeout=600)
            upstream_start = time.perf_counter()
            try:
                connection.request(self.command, self.path, body=body or None, headers=headers)
                response = connection.getresponse()
                answer = response.read()
            except OSError as error:  # the upstream server is gone: say so as a gateway would
                status, reason, answer, answer_headers = 502, "Bad Gateway", str(error).encode(), [("Content-Type", "text/plain")]
            else:
                status, reason = response.status, response.reason
                answer_headers = [(k, v) for k, v in response.getheaders() if k.lower() not in _HOP_HEADERS]
            finally:
                connection.close()
            upstream_ms = (time.perf_counter() - upstream_start) * 1000
            window_ms = (time.perf_counter() - window_start) * 1000
            record = {"method": self.command, "path": self.path, "received_at": received_at, "status": status,
                      "upstream_ms": upstream_ms, "window_ms": window_ms,
                      "request": _json_or_text(body), "response": _json_or_text(answer)}
            # Logged before the client gets its answer: whoever it tells next finds the exchange.
            with write_lock, log_path.open("a") as log:
                log.write(json.dumps(record) + "\n")
            self.send_response(status, reason)
            for key, value in answer_headers:
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)
            self.wfile.flush()

        do_GET = do_POST = _forward

    return Forward


def _json_or_text(data: bytes) -> Any:
    if not data:
        return None
    try:
        return json.loads(data)
    except ValueError:
        return data.decode("utf-8", "replace")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("upstream", help="the server's root URL, e.g. http://127.0.0.1:8080")
    parser.add_argument("log", type=Path, help="JSON-lines file to append each exchange to")
    args = parser.parse_args(argv)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(args.upstream, args.log))
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"http://127.0.0.1:{server.server_address[1]}", flush=True)
    # Serve until terminated, or until the process that started us is gone (a test run killed outright).
    parent = os.getppid()
    while os.getppid() == parent:
        time.sleep(1.0)


if __name__ == "__main__":
    main()
