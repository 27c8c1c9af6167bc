"""`distilleval train`: the command end to end against the Tinker double, and its bad inputs."""

import pytest

pytest.importorskip("tinker")  # the Tinker extra; the rest of the suite runs without it

import json

from distilleval.cli.main import build_parser, main
from distilleval.commands import train
from distilleval.testing.fake_tinker import FakeServiceClient

LABELS = ["billing", "shipping", "technical"]
SPEC = """\
name: routing
data:
  path: data.jsonl
  input: {text: message}
  gold: label
output:
  kind: label
  labels: [billing, shipping, technical]
teacher:
  model: openai/gpt-5.2
  prompt: "Route this: {text}"
student:
  model: tinker://placeholder/sampler_weights/final
  prompt: "{text}"
training:
  base_model: Qwen/Qwen3-8B
  batch_size: 16
  epochs: 2
"""


def make_spec(tmp_path, spec_text=SPEC):
    (tmp_path / "data.jsonl").write_text(json.dumps({"message": "hi", "label": "billing"}) + "\n")
    path = tmp_path / "spec.yaml"
    path.write_text(spec_text)
    return path


def make_training_data(path, rows):
    with path.open("w") as handle:
        for i in range(rows):
            label = LABELS[i % 3]
            message = {"role": "user", "content": f"ticket {i} about {label}"}
            handle.write(json.dumps({"messages": [message, {"role": "assistant", "content": label}]}) + "\n")
    return path


def parse(argv):
    return build_parser().parse_args(["train", *argv])


def test_train_end_to_end_writes_manifest(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TINKER_API_KEY", "tml-test")
    spec = make_spec(tmp_path)
    data = make_training_data(tmp_path / "train.jsonl", 60)
    service = FakeServiceClient()
    out = tmp_path / "out"
    status = train.run(parse([str(spec), "--data", str(data), "--out", str(out)]), service_factory=lambda: service)
    assert status == 0
    manifest = json.loads((out / "manifest.json").read_text())
    # the spec's batch 16 and 2 epochs are kept; rank and learning rate come from the cookbook recipe
    assert manifest["hyperparameters"]["batch_size"] == 16
    assert manifest["hyperparameters"]["epochs"] == 2
    assert manifest["hyperparameters"]["rank"] == 32
    expected_lr = 5e-5 * 10 * (2000 / 4096) ** 0.0775 * (16 / 128) ** 0.5
    assert manifest["hyperparameters"]["learning_rate"] == pytest.approx(expected_lr)
    recipe = manifest["recipe"]
    assert recipe["name"] == "cookbook" and recipe["steps"] == 8 and recipe["adaptations"] == []
    assert recipe["learning_rate_source"] == (
        "cookbook formula 5e-05 x 10 x (2000/4096)^0.0775 = 0.000473 for Qwen/Qwen3-8B at batch 128, "
        "x sqrt(16/128) for batch 16 = 0.000167"
    )
    assert recipe["warnings"] == [
        "only 8 optimizer steps (54 rows, batch 16, 2 epochs); the cookbook's guidance is at least 100: "
        "label more data for a student that reaches its gates"
    ]
    assert manifest["chat_template"] == "qwen3"
    assert manifest["data"]["rows"] == 60 and manifest["data"]["heldout_rows"] == 6
    assert len(manifest["data"]["sha256"]) == 64
    assert manifest["sampler_path"].startswith("tinker://") and ":train:0/sampler_weights/" in manifest["sampler_path"]
    # costed at Tinker's own rates for the base model: train $0.44/1M, storage $0.10/GB-month
    cost = manifest["training_cost"]
    assert (cost["price_as"], cost["training_price_per_mtok_usd"]) == ("Qwen/Qwen3-8B", 0.44)
    assert cost["cost_usd"] == pytest.approx(manifest["tokens"]["trained_tokens"] * 0.44 / 1e6)
    storage = manifest["storage_cost"]
    # epoch 1's state + sampler weights expire after 7 days; the final two are kept
    assert (storage["expiring_bytes"], storage["kept_bytes"]) == (2 * 170_000_000, 2 * 170_000_000)
    assert storage["expiring_cost_usd"] == pytest.approx(0.34 * (7 / 30) * 0.10)
    assert storage["kept_cost_usd_per_month"] == pytest.approx(0.34 * 0.10)
    assert manifest["training_runs"] == [manifest["sampler_path"].removeprefix("tinker://").split("/")[0]]
    assert len(service.calls_named("forward_backward")) == 2 * 4  # 54 train rows / 16 -> 4 batches
    printed = capsys.readouterr().out
    assert manifest["sampler_path"] in printed and "training cost $" in printed


def test_small_data_without_explicit_batch_or_epochs_is_adapted_and_recorded(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TINKER_API_KEY", "tml-test")
    spec = make_spec(tmp_path, SPEC.replace("  batch_size: 16\n  epochs: 2\n", ""))
    data = make_training_data(tmp_path / "train.jsonl", 300)  # 270 training rows
    service = FakeServiceClient()
    assert train.run(parse([str(spec), "--data", str(data), "--out", str(tmp_path / "o")]), service_factory=lambda: service) == 0
    recipe = json.loads((tmp_path / "o" / "manifest.json").read_text())["recipe"]
    assert (recipe["batch_size"], recipe["epochs"], recipe["steps"]) == (16, 6, 102)
    assert recipe["adaptations"] == [
        "batch_size 128 -> 16: 270 training rows give 12 optimizer steps at batch 128; the cookbook asks for at least 100",
        "epochs 4 -> 6: still 68 steps at batch 16; more passes over the data (at most 10)",
    ]
    assert len(service.calls_named("forward_backward")) == 102
    printed = capsys.readouterr().out
    assert "adapted: batch_size 128 -> 16" in printed


def test_seed_recipe_reproduces_the_first_recipe(tmp_path, monkeypatch):
    monkeypatch.setenv("TINKER_API_KEY", "tml-test")
    spec = make_spec(tmp_path, SPEC.replace("  batch_size: 16\n  epochs: 2\n", "  recipe: seed\n"))
    data = make_training_data(tmp_path / "train.jsonl", 300)
    service = FakeServiceClient()
    assert train.run(parse([str(spec), "--data", str(data), "--out", str(tmp_path / "o")]), service_factory=lambda: service) == 0
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text())
    hyper = manifest["hyperparameters"]
    assert (hyper["learning_rate"], hyper["epochs"], hyper["rank"], hyper["batch_size"]) == (1e-4, 4, 32, 128)
    assert manifest["recipe"]["adaptations"] == [] and manifest["recipe"]["learning_rate_source"] == "the seed recipe's 1e-4"
    assert len(service.calls_named("forward_backward")) == 4 * 3  # 270 rows / 128 -> 3 batches


def test_cli_flags_override_spec_defaults(tmp_path, monkeypatch):
    monkeypatch.setenv("TINKER_API_KEY", "tml-test")
    spec = make_spec(tmp_path)
    data = make_training_data(tmp_path / "train.jsonl", 60)
    service = FakeServiceClient()
    argv = [str(spec), "--data", str(data), "--out", str(tmp_path / "o"), "--epochs", "1", "--batch-size", "27",
            "--rank", "8", "--lr", "3e-4", "--heldout-fraction", "0.5"]
    assert train.run(parse(argv), service_factory=lambda: service) == 0
    assert service.calls_named("create_lora_training_client")[0]["rank"] == 8
    assert [c["learning_rate"] for c in service.calls_named("optim_step")] == pytest.approx([3e-4, 1.5e-4])


def test_resume_flag_continues_an_interrupted_run(tmp_path, monkeypatch):
    monkeypatch.setenv("TINKER_API_KEY", "tml-test")
    spec = make_spec(tmp_path)
    data = make_training_data(tmp_path / "train.jsonl", 60)
    service = FakeServiceClient(fail_at_step=6)
    argv = [str(spec), "--data", str(data), "--out", str(tmp_path / "o"), "--max-restarts", "0"]
    with pytest.raises(Exception, match=r"training step 6/8.*checkpoint\(s\) are saved in .*--resume to continue"):
        train.run(parse(argv), service_factory=lambda: service)
    assert not (tmp_path / "o" / "manifest.json").exists()
    assert train.run(parse([*argv, "--resume"]), service_factory=lambda: service) == 0
    manifest = json.loads((tmp_path / "o" / "manifest.json").read_text())
    assert manifest["steps"] == {"total": 8, "run_now": 4, "resumed_from": 4}


@pytest.mark.parametrize(
    "env, message",
    [
        ({}, "no Tinker credential"),
        ({"TINKER_API_KEY": "sk-live-abc"}, "the Tinker SDK does not accept it"),
    ],
)
def test_bad_key_exits_2_before_any_work(tmp_path, monkeypatch, capsys, env, message):
    monkeypatch.delenv("TINKER_API_KEY", raising=False)
    monkeypatch.delenv("TINKER_CREDENTIAL_CMD", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no key stored by `tinker auth login`
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    spec = make_spec(tmp_path)
    data = make_training_data(tmp_path / "train.jsonl", 60)
    assert main(["train", str(spec), "--data", str(data), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert message in err and "sk-live-abc" not in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def run_cli_expecting_error(tmp_path, monkeypatch, capsys, argv):
    monkeypatch.setenv("TINKER_API_KEY", "tml-test")
    status = main(["train", *argv])
    err = capsys.readouterr().err.strip()
    assert status == 2
    assert len(err.splitlines()) == 1
    return err


def test_unknown_base_model_exits_2(tmp_path, monkeypatch, capsys):
    spec = make_spec(tmp_path)
    data = make_training_data(tmp_path / "train.jsonl", 60)
    err = run_cli_expecting_error(tmp_path, monkeypatch, capsys, [str(spec), "--data", str(data), "--base-model", "acme/Nope"])
    assert "'acme/Nope' is not a base model Tinker serves" in err and "Qwen/Qwen3-8B" in err


def test_model_the_live_service_no_longer_lists_is_refused_before_training(tmp_path, monkeypatch, capsys):
    # the offline copy still lists Qwen3-8B, but this service has retired it
    spec = make_spec(tmp_path)
    data = make_training_data(tmp_path / "train.jsonl", 60)
    service = FakeServiceClient(models=("Qwen/Qwen3.6-35B-A3B",))
    monkeypatch.setenv("TINKER_API_KEY", "tml-test")
    args = build_parser().parse_args(["train", str(spec), "--data", str(data), "--out", str(tmp_path / "out")])
    with pytest.raises(Exception) as caught:
        train.run(args, service_factory=lambda: service)
    assert str(caught.value) == (
        "training.base_model: 'Qwen/Qwen3-8B' is not a base model Tinker serves "
        "(per the Tinker service's list (get_server_capabilities)); listed: Qwen/Qwen3.6-35B-A3B"
    )
    assert service.calls_named("create_lora_training_client") == []
    assert not (tmp_path / "out").exists()


def test_malformed_jsonl_names_the_line(tmp_path, monkeypatch, capsys):
    spec = make_spec(tmp_path)
    data = make_training_data(tmp_path / "train.jsonl", 60)
    with data.open("a") as handle:
        handle.write('{"messages": [{"role": "user", "content": "x"}]}\n')
    err = run_cli_expecting_error(tmp_path, monkeypatch, capsys, [str(spec), "--data", str(data)])
    assert f"{data}:61: messages[0].role: the last turn must be the assistant's" in err


def test_empty_jsonl_exits_2(tmp_path, monkeypatch, capsys):
    spec = make_spec(tmp_path)
    data = tmp_path / "train.jsonl"
    data.write_text("\n")
    err = run_cli_expecting_error(tmp_path, monkeypatch, capsys, [str(spec), "--data", str(data)])
    assert "has no rows" in err


def test_fewer_rows_than_a_batch_exits_2(tmp_path, monkeypatch, capsys):
    spec = make_spec(tmp_path)
    data = make_training_data(tmp_path / "train.jsonl", 12)
    err = run_cli_expecting_error(tmp_path, monkeypatch, capsys, [str(spec), "--data", str(data), "--out", str(tmp_path / "o")])
    assert "11 training rows is fewer than one batch of 16" in err
    assert not (tmp_path / "o").exists()


def test_non_positive_flag_exits_2(tmp_path, monkeypatch, capsys):
    spec = make_spec(tmp_path)
    data = make_training_data(tmp_path / "train.jsonl", 60)
    err = run_cli_expecting_error(tmp_path, monkeypatch, capsys, [str(spec), "--data", str(data), "--epochs", "0"])
    assert "--epochs must be positive" in err


def test_label_then_train_then_sample_the_checkpoint(tmp_path, monkeypatch):
    """The offline chain a team runs: label (real HTTP teacher) -> train (Tinker double) ->
    open the manifest's tinker:// path as the student and sample it."""
    import asyncio

    from distilleval.backends.base import ChatRequest
    from distilleval.backends.tinker.sampling import open_sampling_backend
    from distilleval.backends.tinker.tokenizers import QwenTokenizer
    from distilleval.costs.pricing import load_pricing
    from distilleval.testing.openai_server import ModelScript, OpenAIServer

    monkeypatch.setenv("TINKER_API_KEY", "tml-test")
    with OpenAIServer() as server:
        server.script("teacher", ModelScript(answer=lambda prompt: LABELS[int(prompt.split("ticket ")[1].split()[0]) % 3]))
        spec_text = SPEC.replace(
            "  model: openai/gpt-5.2\n",
            f"  model: openai/teacher\n  api_base: {server.base_url}\n  fast_path: true\n  price_as: openai/gpt-4.1-mini\n",
        )
        spec = make_spec(tmp_path, spec_text)
        pool = tmp_path / "pool.jsonl"
        pool.write_text("".join(json.dumps({"message": f"ticket {i} please help"}) + "\n" for i in range(40)))
        labels = tmp_path / "labels.jsonl"
        assert main(["label", str(spec), "--pool", str(pool), "--out", str(labels), "--no-cache"]) == 0

    qwen = QwenTokenizer()
    service = FakeServiceClient(responder=lambda prompt: [*qwen.encode("shipping"), 151645])
    out = tmp_path / "train"
    assert train.run(parse([str(spec), "--data", str(labels), "--out", str(out)]), service_factory=lambda: service) == 0
    manifest = json.loads((out / "manifest.json").read_text())

    student = open_sampling_backend(
        manifest["sampler_path"], price=load_pricing().price_for(manifest["sampler_path"]), base_model=manifest["base_model"],
        service_factory=lambda: service,
    )
    request = ChatRequest(messages=({"role": "user", "content": "ticket 1 please help"},), max_tokens=8)
    completion = asyncio.run(student.complete(request, timeout_s=5))
    assert completion.text == "shipping"
    assert service.calls_named("create_sampling_client")[-1]["model_path"] == manifest["sampler_path"]
    # the student prompt is the raw input rendered exactly as in the training rows
    user_turns = [json.loads(line)["messages"][0] for line in labels.read_text().splitlines()]
    assert {"role": "user", "content": "ticket 0 please help"} in user_turns


def test_unreachable_tinker_exits_2_in_one_line_and_leaves_nothing(tmp_path):
    """Real subprocess, real SDK, a refused local port: the deadline turns minutes of retries
    into one line and exit 2, and no run folder is left behind."""
    import os
    import socket
    import subprocess
    import sys
    from pathlib import Path

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    spec = make_spec(tmp_path)
    data = make_training_data(tmp_path / "train.jsonl", 60)
    repo = Path(__file__).resolve().parents[2]
    env = {**os.environ, "TINKER_API_KEY": "tml-test", "TINKER_BASE_URL": f"http://127.0.0.1:{port}",
           "PYTHONPATH": str(repo)}
    out = tmp_path / "o"
    proc = subprocess.run(
        [sys.executable, "-m", "distilleval", "train", str(spec), "--data", str(data), "--out", str(out),
         "--connect-deadline", "1"],
        capture_output=True, text=True, env=env, timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "distilleval train: error: Tinker did not answer within 1 s while asking which base models it serves; "
        "the service may be unreachable from here (check the network and TINKER_BASE_URL) - nothing was trained"
    ]
    assert not out.exists()


def test_duplicated_training_rows_are_trained_with_one_warning_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TINKER_API_KEY", "tml-test")
    spec = make_spec(tmp_path)
    data = make_training_data(tmp_path / "train.jsonl", 40)
    lines = data.read_text().splitlines()
    # Line 41 repeats line 5's ticket with another answer; line 42 repeats line 5 exactly.
    relabelled = json.loads(lines[4])
    relabelled["messages"][1]["content"] = "technical"
    data.write_text("\n".join(lines + [json.dumps(relabelled), lines[4]]) + "\n")
    out = tmp_path / "out"
    status = train.run(parse([str(spec), "--data", str(data), "--out", str(out), "--batch-size", "8"]),
                       service_factory=FakeServiceClient)
    assert status == 0
    assert capsys.readouterr().err == (
        f"distilleval train: warning: {data}: 2 training rows repeat an earlier row's inputs "
        "(first: line 41, same inputs as line 5); kept, so each copy is trained on\n")
    assert json.loads((out / "manifest.json").read_text())["data"]["rows"] == 42
