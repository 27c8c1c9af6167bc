"""evaluate: a fully cached re-run needs no provider SDK, no key and no server."""

import json
import os
import subprocess
import sys

from distilleval.cli.main import main
from distilleval.testing.openai_server import ModelScript, OpenAIServer
from tests.commands.test_eval import REPO_ROOT, write_spec

PROVIDER_MODULES = ("litellm", "openai", "anthropic", "google.genai", "tinker", "httpx", "sklearn", "scipy")


def test_a_fully_cached_rerun_imports_no_provider_sdk(tmp_path):
    with OpenAIServer({"teacher-m": ModelScript(answer="billing"), "student-m": ModelScript(answer="billing")}) as server:
        spec = write_spec(tmp_path / "task", server.base_url, 6)  # both roles through LiteLLM
        cache = tmp_path / "cache.sqlite"
        assert main(["eval", str(spec), "--runs-dir", str(tmp_path / "first"), "--cache", str(cache)]) == 0
    # The server is gone and no key is set: every answer must come from the cache.
    script = (
        "import json, sys\n"
        "from distilleval.cli.main import main\n"
        f"status = main(['eval', {str(spec)!r}, '--runs-dir', {str(tmp_path / 'again')!r}, '--cache', {str(cache)!r}])\n"
        f"print(json.dumps({{'status': status, 'loaded': [m for m in {PROVIDER_MODULES!r} if m in sys.modules]}}))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env["PYTHONPATH"] = str(REPO_ROOT)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcome == {"status": 0, "loaded": []}
    [run_dir] = list((tmp_path / "again").iterdir())
    summary = json.loads((run_dir / "summary.json").read_text())
    assert {role: summary["models"][role]["cache_hits"] for role in ("teacher", "student")} == {"teacher": 6, "student": 6}


def test_a_role_with_a_miss_is_called_and_the_cached_role_is_not(tmp_path):
    with OpenAIServer({"teacher-m": ModelScript(answer="billing"), "student-m": ModelScript(answer="billing")}) as server:
        spec = write_spec(tmp_path / "task", server.base_url, 4, fast_path=True)
        cache = tmp_path / "cache.sqlite"
        assert main(["eval", str(spec), "--runs-dir", str(tmp_path / "first"), "--cache", str(cache), "--models", "teacher"]) == 0
        server.clear_log()
        assert main(["eval", str(spec), "--runs-dir", str(tmp_path / "second"), "--cache", str(cache)]) == 0
        assert {r.model for r in server.log} == {"student-m"} and len(server.log) == 4
