"""The LoRA loop against the Tinker test double: batches, epochs, lr, losses, checkpoints, resume."""

import pytest

pytest.importorskip("tinker")  # the Tinker extra; the rest of the suite runs without it

import json
import re

import numpy as np

from distilleval.errors import BackendError, ConfigurationError, DataError, ServiceUnavailableError
from distilleval.testing.fake_tinker import FakeServiceClient
from distilleval.training.data import SupervisedExample
from distilleval.training.schedule import linear_decay_lr
from distilleval.training.tinker_trainer import (
    TrainingConfig,
    epoch_batches,
    split_heldout,
    to_datum,
    train_lora,
)


def make_examples(n: int) -> list[SupervisedExample]:
    examples = []
    for i in range(n):
        prompt = [1000 + i % 7] * (5 + i % 3)
        label = [2000 + i % 5, 3]
        examples.append(SupervisedExample(line=i + 1, tokens=prompt + label, weights=[0.0] * len(prompt) + [1.0] * len(label)))
    return examples


def run(service, examples, out_dir, **overrides):
    config = TrainingConfig(**{"base_model": "Qwen/Qwen3-8B", "batch_size": 8, "epochs": 2, **overrides})
    return config, train_lora(
        service, examples, config, out_dir, data_sha256="ab" * 32, source="train.jsonl", log=lambda line: None
    )


def test_datum_shifts_targets_and_weights_by_one():
    example = SupervisedExample(line=1, tokens=[10, 11, 12, 13], weights=[0.0, 0.0, 1.0, 1.0])
    datum = to_datum(example)
    assert datum.model_input.to_ints() == [10, 11, 12]
    assert datum.loss_fn_inputs["target_tokens"].data == [11, 12, 13]
    assert datum.loss_fn_inputs["target_tokens"].dtype == "int64"
    assert datum.loss_fn_inputs["weights"].data == [0.0, 1.0, 1.0]
    assert datum.loss_fn_inputs["weights"].dtype == "float32"


def test_heldout_split_is_disjoint_seeded_and_floor_sized():
    examples = make_examples(50)
    train, heldout = split_heldout(examples, 0.1, seed=3)
    assert len(heldout) == 5 and len(train) == 45
    assert {e.line for e in train}.isdisjoint(e.line for e in heldout)
    assert split_heldout(examples, 0.1, seed=3)[1] == heldout
    assert split_heldout(examples, 0.1, seed=4)[1] != heldout


def test_epoch_batches_cover_every_row_once_and_differ_between_epochs():
    first = epoch_batches(20, 8, epoch=0, seed=0)
    assert [len(b) for b in first] == [8, 8, 4]
    assert sorted(i for b in first for i in b) == list(range(20))
    assert first != epoch_batches(20, 8, epoch=1, seed=0)
    assert first == epoch_batches(20, 8, epoch=0, seed=0)


def test_full_run_steps_lr_checkpoints_and_losses(tmp_path):
    service = FakeServiceClient()
    examples = make_examples(40)  # 36 train (5 batches of <= 8), 4 held out
    config, result = run(service, examples, tmp_path)
    assert service.calls_named("create_lora_training_client") == [{"base_model": "Qwen/Qwen3-8B", "rank": 32, "seed": 0}]
    batches = service.calls_named("forward_backward")
    assert [b["n"] for b in batches] == [8, 8, 8, 8, 4] * 2
    rates = [c["learning_rate"] for c in service.calls_named("optim_step")]
    assert rates == pytest.approx([linear_decay_lr(1e-4, s, 10) for s in range(10)])
    assert result.total_steps == 10 and result.steps_run == 10
    assert (result.train_rows, result.heldout_rows) == (36, 4)
    # trained tokens = every training row's input length (tokens - 1), once per epoch
    train_rows, _ = split_heldout(examples, 0.1, 0)
    assert result.trained_tokens == 2 * sum(len(e.tokens) - 1 for e in train_rows)
    assert sum(b["tokens"] for b in batches) == result.trained_tokens
    # one sampler checkpoint per epoch; the last is the result
    assert [c["name"] for c in service.calls_named("save_weights_for_sampler")] == ["step-000005", "step-000010"]
    run_id = result.sampler_path.removeprefix("tinker://").split("/")[0]
    assert re.fullmatch(r"[0-9a-f-]{36}:train:0", run_id)  # the service's run id format
    assert result.sampler_path == f"tinker://{run_id}/sampler_weights/step-000010"
    assert result.state_path == f"tinker://{run_id}/weights/step-000010"
    # the toy model learns, so losses fall epoch over epoch
    (e1, e2) = result.epochs
    assert e1.heldout_loss > e2.heldout_loss > 0
    assert e1.train_loss > e2.train_loss > 0
    lines = (tmp_path / "checkpoints.jsonl").read_text().splitlines()
    assert [json.loads(line)["step"] for line in lines] == [5, 10]


def test_train_loss_is_weighted_mean_nll_over_label_tokens(tmp_path):
    # Before any optimizer step the toy model gives every token log(1/V): the first batch's
    # loss per trained token must be exactly that, whatever the prompt lengths.
    service = FakeServiceClient()
    _, result = run(service, make_examples(9), tmp_path, batch_size=9, epochs=1, heldout_fraction=0.0)
    assert result.epochs[0].train_loss == pytest.approx(np.log(151_936), rel=1e-5)
    assert result.epochs[0].heldout_loss is None and result.heldout_rows == 0


def test_fewer_rows_than_a_batch_is_refused_before_any_call(tmp_path):
    service = FakeServiceClient()
    with pytest.raises(DataError, match=r"train.jsonl: 9 training rows is fewer than one batch of 128; pass --batch-size 9"):
        run(service, make_examples(10), tmp_path, batch_size=128)
    assert service.calls == []


def test_interrupted_run_resumes_from_last_state_with_same_batches(tmp_path):
    examples = make_examples(40)
    reference = FakeServiceClient()
    _, full = run(reference, examples, tmp_path / "reference", save_every_steps=2)

    service = FakeServiceClient(fail_at_step=8)
    with pytest.raises(ServiceUnavailableError, match="training step 8/10"):
        run(service, examples, tmp_path / "run", save_every_steps=2, max_restarts=0)
    with pytest.raises(ConfigurationError, match="already holds a training run; pass --resume"):
        run(service, examples, tmp_path / "run", save_every_steps=2, max_restarts=0)

    saved = [json.loads(line) for line in (tmp_path / "run" / "checkpoints.jsonl").read_text().splitlines()]
    assert saved[-1]["state_path"].endswith("/weights/step-000006")
    config = TrainingConfig(base_model="Qwen/Qwen3-8B", batch_size=8, epochs=2, save_every_steps=2, max_restarts=0)
    resumed = train_lora(service, examples, config, tmp_path / "run", data_sha256="ab" * 32, source="t", resume=True, log=lambda _: None)
    assert service.calls_named("create_training_client_from_state_with_optimizer") == [{"path": saved[-1]["state_path"]}]
    assert resumed.resumed_from_step == 6 and resumed.steps_run == 4
    # the resumed run sends the same batches with the same rates as an uninterrupted one
    ref_rates = [c["learning_rate"] for c in reference.calls_named("optim_step")]
    rates = [c["learning_rate"] for c in service.calls_named("optim_step")]
    assert rates[-4:] == pytest.approx(ref_rates[-4:])
    assert [b["tokens"] for b in service.calls_named("forward_backward")][-4:] == [b["tokens"] for b in reference.calls_named("forward_backward")][-4:]
    assert resumed.trained_tokens == full.trained_tokens
    assert re.fullmatch(r"tinker://[0-9a-f-]{36}:train:1/sampler_weights/step-000010", resumed.sampler_path)
    assert [e.epoch for e in resumed.epochs] == [1, 2]
    assert resumed.epochs[-1].heldout_loss == pytest.approx(full.epochs[-1].heldout_loss)


def test_resume_with_different_data_is_refused(tmp_path):
    examples = make_examples(40)
    run(FakeServiceClient(), examples, tmp_path)
    config = TrainingConfig(base_model="Qwen/Qwen3-8B", batch_size=8, epochs=2)
    with pytest.raises(ConfigurationError, match="different data or hyper-parameters"):
        train_lora(FakeServiceClient(), examples, config, tmp_path, data_sha256="cd" * 32, source="t", resume=True, log=lambda _: None)


def test_resume_with_nothing_saved_is_refused(tmp_path):
    config = TrainingConfig(base_model="Qwen/Qwen3-8B", batch_size=8, epochs=2)
    with pytest.raises(ConfigurationError, match="nothing to resume"):
        train_lora(FakeServiceClient(), make_examples(40), config, tmp_path, data_sha256="x", source="t", resume=True, log=lambda _: None)


def test_unknown_base_model_rejected_by_service_is_translated(tmp_path):
    with pytest.raises(Exception, match="Base model acme/Nope is not supported") as info:
        run(FakeServiceClient(), make_examples(40), tmp_path, base_model="acme/Nope")
    assert info.type.__module__ == "distilleval.errors"


def test_unreachable_service_stops_at_the_deadline(tmp_path):
    config = TrainingConfig(base_model="Qwen/Qwen3-8B", batch_size=8, epochs=1)
    with pytest.raises(ServiceUnavailableError, match="within 0.3 s while creating a LoRA training client"):
        train_lora(FakeServiceClient(block_s=5), make_examples(40), config, tmp_path, data_sha256="x", source="t",
                   connect_deadline_s=0.3, log=lambda _: None)


def test_checkpoint_log_tolerates_a_torn_last_line_only(tmp_path):
    from distilleval.training.tinker_trainer import CheckpointLog

    log = CheckpointLog(tmp_path / "checkpoints.jsonl")
    log.append({"step": 5})
    log.append({"step": 10})
    with log.path.open("a") as handle:
        handle.write('{"step": 1')  # a crash mid-append
    assert [r["step"] for r in log.records()] == [5, 10]
    log.path.write_text('{"step": 5}\n{"ste\n{"step": 10}\n')
    with pytest.raises(DataError, match=r"checkpoints.jsonl:2: checkpoint log line is not valid JSON"):
        log.records()


def test_sdk_with_pre_0_38_return_types_is_named_not_an_attribute_error(tmp_path):
    from distilleval.backends.tinker.connection import installed_sdk_version

    with pytest.raises(ConfigurationError) as caught:
        run(FakeServiceClient(sdk_version="0.36.0"), make_examples(40), tmp_path)
    assert str(caught.value) == (
        "create_lora_training_client returned a FakeTrainingClient where tinker>=0.38 returns a future: the SDK in "
        f"use behaves like one older than 0.38 (installed: tinker {installed_sdk_version()}); "
        "upgrade with: pip install -U 'tinker>=0.38'"
    )
    assert not (tmp_path / "run.json").exists()


def test_adam_uses_the_cookbooks_settings(tmp_path):
    service = FakeServiceClient()
    run(service, make_examples(40), tmp_path)
    params = {(c["params"].beta1, c["params"].beta2, c["params"].eps) for c in service.calls_named("optim_step")}
    assert params == {(0.9, 0.95, 1e-8)}  # the SDK's own default eps is 1e-12


def test_next_step_is_submitted_before_the_previous_one_is_awaited(tmp_path):
    service = FakeServiceClient()
    run(service, make_examples(40), tmp_path)  # 36 rows / batch 8 -> 5 steps per epoch
    fb_index = [i for i, (name, _) in enumerate(service.calls) if name == "forward_backward"]
    first_wait_on_fb1 = next(
        i for i, (name, kwargs) in enumerate(service.calls) if name == "wait" and kwargs["call"] == fb_index[0]
    )
    # step 2 was queued behind step 1 before step 1's result was awaited
    assert fb_index[1] < first_wait_on_fb1
    # ... but nothing crosses a checkpoint: step 6 (epoch 2) is sent after step 5's checkpoint is saved
    first_save = next(i for i, (name, _) in enumerate(service.calls) if name == "save_state")
    assert fb_index[4] < first_save < fb_index[5]


def test_intermediate_checkpoints_expire_and_the_final_ones_are_kept(tmp_path):
    service = FakeServiceClient()
    run(service, make_examples(40), tmp_path, checkpoint_ttl_s=3 * 24 * 3600)
    states = service.calls_named("save_state")
    samplers = service.calls_named("save_weights_for_sampler")
    assert [s["ttl_seconds"] for s in states] == [3 * 24 * 3600, None]
    assert [s["ttl_seconds"] for s in samplers] == [3 * 24 * 3600, None]


def test_failed_training_client_is_replaced_from_the_last_saved_state(tmp_path):
    examples = make_examples(40)
    reference = FakeServiceClient()
    _, full = run(reference, examples, tmp_path / "reference", save_every_steps=2)
    # step 8 fails on the server; that client then refuses every request, as Tinker's does
    service = FakeServiceClient(fail_at_step=8, failure="request")
    _, result = run(service, examples, tmp_path / "run", save_every_steps=2)
    (restart,) = result.restarts
    assert restart["at_step"] == 6 and restart["from"].endswith(":train:0/weights/step-000006")
    assert "training step 8/10 (server side)" in restart["error"]
    assert service.calls_named("create_training_client_from_state_with_optimizer") == [{"path": restart["from"]}]
    assert result.sampler_path.endswith(":train:1/sampler_weights/step-000010")
    assert [r.split(":train:")[1] for r in result.run_ids] == ["0", "1"]
    # the replayed steps use the same batches and rates as an uninterrupted run
    rates = [c["learning_rate"] for c in service.calls_named("optim_step")]
    ref_rates = [c["learning_rate"] for c in reference.calls_named("optim_step")]
    assert rates[-4:] == pytest.approx(ref_rates[-4:])
    assert result.trained_tokens == full.trained_tokens
    assert [e.epoch for e in result.epochs] == [1, 2]


def test_failure_before_any_checkpoint_restarts_from_scratch(tmp_path):
    service = FakeServiceClient(fail_at_step=2, failure="request")
    _, result = run(service, make_examples(40), tmp_path)
    assert result.restarts[0]["at_step"] == 0 and result.restarts[0]["from"] == "scratch (no checkpoint yet)"
    assert len(service.calls_named("create_lora_training_client")) == 2


def test_restarts_stop_at_the_limit(tmp_path):
    service = FakeServiceClient(fail_at_step=2, failure="request")
    with pytest.raises(BackendError, match=r"^Tinker failed the request while training step 2/10 \(server side\): forward_backward: worker lost$"):
        run(service, make_examples(40), tmp_path, max_restarts=0)


def test_non_restartable_failure_is_not_retried(tmp_path):
    service = FakeServiceClient()
    with pytest.raises(BackendError, match="Base model acme/Nope is not supported"):
        run(service, make_examples(40), tmp_path, base_model="acme/Nope")
    assert len(service.calls_named("create_lora_training_client")) == 1


def _vision_rows(tmp_path, rows=20):
    from PIL import Image

    (tmp_path / "pages").mkdir()
    lines = []
    for i in range(rows):
        Image.new("RGB", (150 + i, 224), "white").save(tmp_path / "pages" / f"{i}.png")
        label = ["invoice", "receipt"][i % 2]
        user = {"role": "user", "content": [{"type": "text", "text": "Document type:"},
                                            {"type": "image", "path": f"pages/{i}.png"}]}
        lines.append(json.dumps({"messages": [user, {"role": "assistant", "content": label}]}))
    path = tmp_path / "train.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_vision_rows_train_with_image_chunks_of_the_right_size(tmp_path):
    from tinker import types

    from distilleval.backends.tinker.images import qwen_vl_image_tokens
    from distilleval.backends.tinker.rendering import ChatRenderer
    from distilleval.testing.byte_tokenizers import byte_tokenizer_for
    from distilleval.training.data import build_examples, read_conversations

    data = _vision_rows(tmp_path)
    renderer = ChatRenderer("qwen3_5", byte_tokenizer_for("qwen3_5"))
    examples = build_examples(read_conversations(data), renderer, source=data)
    datum = to_datum(examples[3])
    kinds = [type(chunk).__name__ for chunk in datum.model_input.chunks]
    assert kinds == ["EncodedTextChunk", "ImageChunk", "EncodedTextChunk"]
    image = datum.model_input.chunks[1]
    assert image.format == "png" and image.expected_tokens == qwen_vl_image_tokens(153, 224)
    assert len(datum.loss_fn_inputs["target_tokens"].data) == datum.model_input.length
    # nothing inside the image is trained on
    assert sum(datum.loss_fn_inputs["weights"].data) == examples[3].trained_tokens
    service = FakeServiceClient()
    config = TrainingConfig(base_model="Qwen/Qwen3.6-35B-A3B", batch_size=6, epochs=2, heldout_fraction=0.0)
    result = train_lora(service, examples, config, tmp_path / "out", data_sha256="v" * 64, source="t", log=lambda _: None)
    assert result.sampler_path.endswith("/sampler_weights/step-000008")
    assert isinstance(datum.model_input.chunks[1], types.ImageChunk)


def test_service_refuses_an_image_with_the_wrong_token_count(tmp_path):
    from PIL import Image
    from tinker import types

    Image.new("RGB", (150, 224)).save(tmp_path / "p.png")  # 70 tokens
    chunks = [types.EncodedTextChunk(tokens=[1, 2]),
              types.ImageChunk(data=(tmp_path / "p.png").read_bytes(), format="png", expected_tokens=5),
              types.EncodedTextChunk(tokens=[3])]
    zeros = np.zeros(8)
    datum = types.Datum(model_input=types.ModelInput(chunks=chunks), loss_fn_inputs={
        "target_tokens": types.TensorData.from_numpy(zeros.astype(np.int64)),
        "weights": types.TensorData.from_numpy(zeros.astype(np.float32))})
    client = FakeServiceClient().create_lora_training_client(base_model="Qwen/Qwen3.6-35B-A3B").result()
    with pytest.raises(Exception, match=r"Expected 5 tokens, got 70 from image"):
        client.forward_backward([datum], "cross_entropy")


def test_images_for_a_text_only_template_name_the_line(tmp_path):
    from distilleval.backends.tinker.rendering import ChatRenderer
    from distilleval.testing.byte_tokenizers import byte_tokenizer_for
    from distilleval.training.data import build_examples, read_conversations

    data = _vision_rows(tmp_path, rows=2)
    with pytest.raises(DataError, match=r"train.jsonl:1: messages: the qwen3 chat template reads no images"):
        build_examples(read_conversations(data), ChatRenderer("qwen3", byte_tokenizer_for("qwen3")), source=data)
