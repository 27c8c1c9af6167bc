"""Drive Debian's headless Chromium over the DevTools protocol (aiohttp websocket) for HTML tests.

Opens one page, records every network request, console message, uncaught exception and log
entry (CSP violations arrive as log entries), evaluates a probe expression and takes a PNG
screenshot. Used only by tests; no internet is needed or reached.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--no-default-browser-check", "--disable-extensions",
         "--remote-debugging-port=0"]


def find_chromium() -> str | None:
    """Path of a Chromium binary ($CHROMIUM first), or None."""
    explicit = os.environ.get("CHROMIUM")
    if explicit and Path(explicit).exists():
        return explicit
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


@dataclass
class PageRun:
    """What happened while a page loaded."""

    requests: list[str] = field(default_factory=list)
    console: list[tuple[str, str]] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)
    log_entries: list[tuple[str, str]] = field(default_factory=list)
    probe: object = None
    screenshot_png: bytes = b""

    @property
    def errors(self) -> list[str]:
        """Console errors, uncaught exceptions and error-level log entries."""
        out = [text for kind, text in self.console if kind in ("error", "assert")]
        out += self.exceptions
        out += [text for level, text in self.log_entries if level == "error"]
        return out


class _Session:
    def __init__(self, ws):
        self.ws = ws
        self.next_id = 0
        self.pending: dict[int, asyncio.Future] = {}
        self.events: list[dict] = []
        self.loads: dict[str | None, asyncio.Event] = {}  # sessionId -> its page's load event fired

    async def pump(self) -> None:
        async for message in self.ws:
            data = json.loads(message.data)
            if "id" in data and data["id"] in self.pending:
                self.pending.pop(data["id"]).set_result(data)
            elif "method" in data:
                self.events.append(data)
                if data["method"] == "Page.loadEventFired":
                    self.loads.setdefault(data.get("sessionId"), asyncio.Event()).set()

    async def send(self, method: str, params: dict | None = None, session_id: str | None = None) -> dict:
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session_id:
            message["sessionId"] = session_id
        future = asyncio.get_running_loop().create_future()
        self.pending[self.next_id] = future
        await self.ws.send_str(json.dumps(message))
        reply = await asyncio.wait_for(future, timeout=20)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})


async def _drive(ws_url: str, page_urls: list[str], probe: str, width: int, settle_s: float,
                 screenshot: bool = True) -> list[PageRun]:
    import aiohttp

    async with aiohttp.ClientSession() as http, http.ws_connect(ws_url, max_msg_size=0) as ws:
        session = _Session(ws)
        pump = asyncio.create_task(session.pump())
        runs = [await _visit(session, page_url, probe, width, settle_s, screenshot) for page_url in page_urls]
        try:
            await session.send("Browser.close")
        except Exception:  # the browser may close the socket before it answers
            pass
        pump.cancel()
    return runs


async def _visit(session: _Session, page_url: str, probe: str, width: int, settle_s: float, screenshot: bool) -> PageRun:
    """Load one page in a fresh tab and record what happened there."""
    run = PageRun()
    target = await session.send("Target.createTarget", {"url": "about:blank"})
    attached = await session.send("Target.attachToTarget", {"targetId": target["targetId"], "flatten": True})
    sid = attached["sessionId"]
    first_event = len(session.events)
    for domain in ("Network", "Runtime", "Log", "Page"):
        await session.send(f"{domain}.enable", session_id=sid)
    await session.send("Emulation.setDeviceMetricsOverride",
                       {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False}, session_id=sid)
    loaded = session.loads[sid] = asyncio.Event()
    await session.send("Page.navigate", {"url": page_url}, session_id=sid)
    await asyncio.wait_for(loaded.wait(), timeout=20)
    await asyncio.sleep(settle_s)
    result = await session.send("Runtime.evaluate", {"expression": probe, "returnByValue": True}, session_id=sid)
    run.probe = result.get("result", {}).get("value")
    if screenshot:
        metrics = await session.send("Page.getLayoutMetrics", session_id=sid)
        height = int(metrics["cssContentSize"]["height"])
        shot = await session.send("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": width, "height": min(height, 6000), "scale": 1}}, session_id=sid)
        run.screenshot_png = base64.b64decode(shot["data"])
    for event in session.events[first_event:]:
        if event.get("sessionId") != sid:
            continue
        method, params = event["method"], event.get("params", {})
        if method == "Network.requestWillBeSent":
            url = params["request"]["url"]
            if url != page_url:
                run.requests.append(url)
        elif method == "Runtime.consoleAPICalled":
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
            run.console.append((params.get("type", ""), text))
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            run.exceptions.append(details.get("exception", {}).get("description") or details.get("text", ""))
        elif method == "Log.entryAdded":
            entry = params.get("entry", {})
            run.log_entries.append((entry.get("level", ""), entry.get("text", "")))
    await session.send("Target.closeTarget", {"targetId": target["targetId"]})
    return run


def open_page(chromium: str, html_path: Path, *, probe: str = "null", width: int = 1100, settle_s: float = 0.5) -> PageRun:
    """Load ``html_path`` in a fresh headless Chromium profile and report what happened.

    Raises:
        RuntimeError: Chromium did not start or the DevTools protocol failed.
    """
    return open_pages(chromium, [html_path], probe=probe, width=width, settle_s=settle_s)[0]


def open_pages(chromium: str, html_paths: list[Path], *, probe: str = "null", width: int = 1100,
               settle_s: float = 0.5, screenshot: bool = True) -> list[PageRun]:
    """Load each of ``html_paths`` in its own tab of one fresh headless Chromium (one start for all);
    ``screenshot=False`` skips the PNG (the slow part of a long page).

    Raises:
        RuntimeError: Chromium did not start or the DevTools protocol failed.
    """
    # Chromium's helper processes can still be writing the profile when the browser exits; they
    # share its process group, which is stopped as a whole, and a straggler's file never fails a test.
    with tempfile.TemporaryDirectory(prefix="distilleval-chromium-", ignore_cleanup_errors=True) as profile:
        command = [chromium, *FLAGS, f"--user-data-dir={profile}", "about:blank"]
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        try:
            port_file = Path(profile) / "DevToolsActivePort"
            deadline = time.monotonic() + 30
            while not (port_file.exists() and len(port_file.read_text().splitlines()) >= 2):
                if process.poll() is not None or time.monotonic() > deadline:
                    stderr = process.stderr.read().decode(errors="replace")[-2000:] if process.stderr else ""
                    raise RuntimeError(f"chromium did not start (exit {process.poll()}): {stderr}")
                time.sleep(0.05)
            port, path = port_file.read_text().splitlines()[:2]
            ws_url = f"ws://127.0.0.1:{port}{path}"
            urls = [path.resolve().as_uri() for path in html_paths]
            return asyncio.run(_drive(ws_url, urls, probe, width, settle_s, screenshot))
        finally:
            _stop_group(process)


def _stop_group(process: subprocess.Popen) -> None:
    """Stop Chromium and every helper process it started (they share its process group)."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
