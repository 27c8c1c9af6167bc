"""run_teacher: a teacher whose every answer is cached builds no backend (no provider SDK, key or server)."""

import json
import os
import subprocess
import sys
from pathlib import Path

from distilleval.cli.main import main
from distilleval.testing.openai_server import ModelScript, OpenAIServer
from tests.commands.test_validate import teacher_answer, write_spec

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_a_fully_cached_validate_imports_no_provider_sdk(tmp_path):
    with OpenAIServer({"teacher": ModelScript(answer=teacher_answer, usage=(50, 1))}) as server:
        spec = write_spec(tmp_path, server.base_url, rows=20)
        # Through LiteLLM (not the fast path), so a rebuilt backend would import it.
        spec.write_text(spec.read_text().replace("  fast_path: true\n", ""))
        cache = tmp_path / "cache.sqlite"
        assert main(["validate", str(spec), "--cache", str(cache), "--spot-check", "0"]) == 0
        served = len(server.log)
    assert served == 20
    script = (
        "import json, sys\n"
        "from distilleval.cli.main import main\n"
        f"status = main(['validate', {str(spec)!r}, '--cache', {str(cache)!r}, '--spot-check', '0'])\n"
        "print(json.dumps({'status': status, 'litellm': 'litellm' in sys.modules, 'httpx': 'httpx' in sys.modules}))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")}
    env["PYTHONPATH"] = str(REPO_ROOT)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {"status": 0, "litellm": False, "httpx": False}
