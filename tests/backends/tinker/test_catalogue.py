"""The Tinker base-model catalogue: the dated offline copy, the live list, the spec check."""

from pathlib import Path

import pytest

from distilleval.backends.tinker.catalogue import (
    catalogue_from_names,
    check_spec_base_model,
    live_catalogue,
    offline_catalogue,
    offline_copy_date,
)
from distilleval.errors import ConfigurationError
from distilleval.spec.task_spec import load_spec

SPECS = sorted(Path(__file__).resolve().parents[3].joinpath("specs").glob("*/spec.yaml"))


def test_offline_copy_is_dated_and_names_its_date_in_messages():
    assert offline_copy_date() == "2026-12-01"
    with pytest.raises(ConfigurationError, match=r"offline copy of the Tinker lineup as of 2026-12-01"):
        offline_catalogue().require("acme/NotAModel")


@pytest.mark.parametrize("spec_path", SPECS, ids=lambda p: p.parent.name)
def test_every_shipped_spec_trains_a_listed_model_distilleval_can_render(spec_path):
    spec = load_spec(spec_path)
    model = check_spec_base_model(spec)
    assert offline_catalogue().require_trainable(model.name).template is not None


def test_vision_specs_train_a_vision_model():
    for name in ("document_classification", "receipt_extraction"):
        spec = load_spec(next(p for p in SPECS if p.parent.name == name))
        assert check_spec_base_model(spec).vision


def test_spec_naming_an_unlisted_model_fails_with_file_line_and_the_listed_models(tmp_path):
    source = SPECS[0].read_text().replace("base_model: Qwen/Qwen3-8B", "base_model: Qwen/Qwen3-4B-Instruct-2507")
    # keep the data file reachable: write the spec beside a copy of its data reference
    spec_file = SPECS[0].parent / "spec.yaml"
    spec = load_spec(spec_file).model_copy(update={"source": tmp_path / "spec.yaml"})
    (tmp_path / "spec.yaml").write_text(source)
    spec = spec.model_copy(update={"training": spec.training.model_copy(update={"base_model": "Qwen/Qwen3-4B-Instruct-2507"})})
    line = next(i for i, text in enumerate(source.splitlines(), 1) if "base_model:" in text)
    with pytest.raises(ConfigurationError) as caught:
        check_spec_base_model(spec)
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'spec.yaml'}:{line}: training.base_model: 'Qwen/Qwen3-4B-Instruct-2507' is not")
    assert "Qwen/Qwen3-8B" in message and "Qwen/Qwen3.6-35B-A3B" in message


def test_live_list_is_the_authority_and_keeps_the_copys_facts():
    live = catalogue_from_names(["Qwen/Qwen3-8B", "acme/Brand-New-7B"], origin="the Tinker service's list")
    assert list(live.models) == ["Qwen/Qwen3-8B", "acme/Brand-New-7B"]
    assert live.get("Qwen/Qwen3-8B").template == "qwen3"
    # a model the copy does not know exists, but cannot be rendered here
    with pytest.raises(ConfigurationError, match="Tinker serves 'acme/Brand-New-7B', but distilleval cannot render"):
        live.require_trainable("acme/Brand-New-7B")
    with pytest.raises(ConfigurationError, match=r"'Qwen/Qwen3.6-27B' is not a base model Tinker serves \(per the Tinker service"):
        live.require("Qwen/Qwen3.6-27B")


def test_live_catalogue_asks_the_service():
    pytest.importorskip("tinker")
    from distilleval.testing.fake_tinker import FakeServiceClient

    service = FakeServiceClient(models=("Qwen/Qwen3-8B", "Qwen/Qwen3-8B:peft:131072"))
    live = live_catalogue(service.create_rest_client, call=lambda fn, doing: fn())
    assert list(live.models) == ["Qwen/Qwen3-8B", "Qwen/Qwen3-8B:peft:131072"]
    assert live.get("Qwen/Qwen3-8B:peft:131072").template == "qwen3"
    assert service.calls_named("get_server_capabilities") == [{}]
