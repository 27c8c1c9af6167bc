"""Loading task specs: good specs load; every broken one fails with one line naming file, line and field."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from distilleval.cli.main import main
from distilleval.errors import SpecError
from distilleval.spec.task_spec import load_spec

TINY = Path(__file__).resolve().parents[1] / "fixtures" / "tiny"


def test_tiny_spec_loads_with_rubric_file(tiny_spec_path):
    spec = load_spec(tiny_spec_path)
    assert spec.name == "tiny"
    assert spec.teacher.prompt_text.startswith("You route customer messages")
    assert spec.student.prompt_text == "{text}"
    assert spec.scorer.kind == "exact_match"
    assert spec.output.labels == ["billing", "technical", "other"]
    assert spec.traffic.days_per_month == 30.0
    assert len(spec.source_sha256) == 64


@pytest.fixture
def spec_dir(tmp_path: Path) -> Path:
    for name in ("rubric.md", "data.jsonl"):
        shutil.copy(TINY / name, tmp_path / name)
    return tmp_path


def _write(spec_dir: Path, mutate) -> Path:
    data = yaml.safe_load((TINY / "spec.yaml").read_text())
    mutate(data)
    path = spec_dir / "spec.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _set(path: tuple, value):
    def mutate(data):
        target = data
        for key in path[:-1]:
            target = target.setdefault(key, {})
        target[path[-1]] = value

    return mutate


def _delete(path: tuple):
    def mutate(data):
        target = data
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return mutate


BROKEN_SPECS = [
    # (name, mutation, text the one-line message must contain)
    ("missing teacher", _delete(("teacher",)), "teacher: required field is missing"),
    ("missing teacher.model", _delete(("teacher", "model")), "teacher.model: required field is missing"),
    ("wrong type", _set(("teacher", "model"), 42), "teacher.model: input should be a valid string, found 42 (int)"),
    ("unknown top-level key", _set(("gatez",), {"student_min": 0.9}), "gatez: unknown key"),
    ("unknown nested key", _set(("gates", "studnet_min"), 0.9), "gates.studnet_min: unknown key"),
    ("bad template field", _set(("student", "prompt"), "Message: {txt}"), "student.prompt: placeholder {txt} is not an input field"),
    ("bad field in rubric file", None, "teacher.prompt: placeholder {body}"),
    ("missing prompt file", _set(("teacher", "prompt"), "nope.md"), "teacher.prompt: prompt file not found"),
    ("missing system file", _set(("teacher", "system"), "nope.md"), "teacher.system: prompt file not found"),
    ("bad field in system file", None, "teacher.system: placeholder {body}"),
    ("missing data file", _set(("data", "path"), "missing.jsonl"), "data.path: file not found"),
    ("gate out of range", _set(("gates", "student_min"), 1.5), "gates.student_min: input should be less than or equal to 1"),
    ("negative volume", _set(("traffic", "volumes_per_day"), [1000, -5]), "traffic.volumes_per_day[1]: input should be greater than 0"),
    ("unknown scorer", _set(("scorer",), "exact"), "scorer.kind: unknown scorer kind 'exact'"),
    ("unknown scorer kind", _set(("scorer",), {"kind": "bleu"}), "scorer.kind: unknown scorer kind 'bleu'; expected one of exact_match"),
    ("label kind without labels", _delete(("output", "labels")), "output: kind 'label' needs a non-empty 'labels' list"),
    ("bad output kind", _set(("output", "kind"), "labels"), "output.kind: input should be 'label', 'json', 'sql' or 'text'"),
    ("baseline on json task", _set(("baselines",), ["tfidf_logreg"]), None),
    ("unknown baseline", _set(("baselines",), ["bert"]), "baselines[0].kind"),
    ("secret in api_key_env", _set(("teacher", "api_key_env"), "sk-live-123"), "teacher.api_key_env: string should match pattern"),
    ("bad name", _set(("name",), "Ticket Routing"), "name: string should match pattern"),
    ("bad prompt_cache", _set(("teacher", "prompt_cache"), "on"), "teacher.prompt_cache: input should be 'auto' or 'off'"),
    # A 1 MB name used to reach the file system as a run directory name (OSError: File name too long).
    ("name too long", _set(("name",), "a" * 1_000_000), "name: string should have at most 100 characters"),
    # Infinity and NaN pass a plain `ge=0`; the chart then overflowed and days_per_month blamed summary.json.
    ("infinite cost", _set(("training", "engineering_cost_usd"), float("inf")), "training.engineering_cost_usd: input should be a finite number"),
    ("nan volume share", _set(("traffic", "cached_input_fraction"), float("nan")), "traffic.cached_input_fraction: input should be a finite number"),
    ("infinite month", _set(("traffic", "days_per_month"), float("inf")), "traffic.days_per_month: input should be a finite number"),
    ("month over 31 days", _set(("traffic", "days_per_month"), 1e300), "traffic.days_per_month: input should be less than or equal to 31"),
    ("absurd cost", _set(("training", "engineering_cost_usd"), 1e300), "training.engineering_cost_usd: input should be less than or equal to 1000000000"),
    ("absurd volume", _set(("traffic", "volumes_per_day"), [10**300]), "traffic.volumes_per_day[0]: input should be less than or equal to 1000000000000"),
    ("absurd max_tokens", _set(("teacher", "max_tokens"), 10**30), "teacher.max_tokens: input should be less than or equal to 1000000"),
    ("infinite timeout", _set(("student", "timeout_s"), float("inf")), "student.timeout_s: input should be a finite number"),
]


@pytest.mark.parametrize(("name", "mutate", "expected"), BROKEN_SPECS, ids=[case[0] for case in BROKEN_SPECS])
def test_broken_spec_gives_one_line_naming_file_and_field(spec_dir, capsys, name, mutate, expected):
    if name == "bad field in rubric file":
        (spec_dir / "rubric.md").write_text("Route this: {body}\n")
        path = _write(spec_dir, lambda data: None)
    elif name == "bad field in system file":
        (spec_dir / "system.md").write_text("You route tickets about {body}.\n")
        path = _write(spec_dir, _set(("teacher", "system"), "system.md"))
    elif name == "baseline on json task":
        def mutate_json(data):
            data["output"] = {"kind": "json"}
            data["scorer"] = {"kind": "json_fields"}
            data["baselines"] = ["tfidf_logreg"]

        path = _write(spec_dir, mutate_json)
        expected = "baselines (tfidf_logreg) classify labels; they do not apply to output kind 'json'"
    else:
        path = _write(spec_dir, mutate)
    status = main(["estimate", str(path)])
    err = capsys.readouterr().err
    assert status == 2
    assert err.count("\n") == 1, err
    assert str(path) in err
    assert expected in err
    assert "Traceback" not in err


def test_error_names_the_line_of_the_bad_key(spec_dir):
    path = _write(spec_dir, _set(("gates", "studnet_min"), 0.9))
    bad_line = next(n for n, text in enumerate(path.read_text().splitlines(), 1) if "studnet_min" in text)
    with pytest.raises(SpecError, match=rf"spec.yaml:{bad_line}: gates.studnet_min"):
        load_spec(path)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("", "the file is empty"),
        ("name: [unclosed\n", "not valid YAML"),
        ("- just\n- a list\n", "expected a mapping"),
        ("\tname: tabs\n", "not valid YAML"),
    ],
)
def test_unparseable_spec_files(tmp_path, capsys, content, expected):
    path = tmp_path / "spec.yaml"
    path.write_text(content)
    assert main(["estimate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err and expected in err


def test_missing_spec_file(tmp_path, capsys):
    assert main(["estimate", str(tmp_path / "nope.yaml")]) == 2
    assert "file not found" in capsys.readouterr().err


def test_system_may_be_a_file_read_at_load(spec_dir):
    (spec_dir / "system.md").write_text("You route customer messages.\n")
    spec = load_spec(_write(spec_dir, _set(("teacher", "system"), "system.md")))
    assert spec.teacher.system == "system.md" and spec.teacher.system_text == "You route customer messages.\n"


def test_literal_braces_in_rubric_are_not_placeholders(tiny_spec_path):
    from distilleval.spec.data import load_items
    from distilleval.spec.messages import build_messages

    spec = load_spec(tiny_spec_path)
    item = load_items(spec)[0]
    text = build_messages(spec.teacher, item)[0]["content"]
    assert '{"label": "billing"} and {text}.' in text
    assert text.rstrip().endswith(item.inputs["text"])


def test_baselines_are_refused_when_every_input_is_an_image(spec_dir):
    def image_only(data):
        data["data"]["image_inputs"] = list(data["data"]["input"])
        data["baselines"] = ["tfidf_logreg"]

    with pytest.raises(SpecError, match="every input field of this spec is an image"):
        load_spec(_write(spec_dir, image_only))


def test_prompt_cache_defaults_to_auto_and_accepts_off(spec_dir):
    assert load_spec(_write(spec_dir, lambda data: None)).teacher.prompt_cache == "auto"
    assert load_spec(_write(spec_dir, _set(("teacher", "prompt_cache"), "off"))).teacher.prompt_cache == "off"


def _label_set_spec(spec_dir: Path, labels: list[str], *, aliases: dict | None = None) -> Path:
    def mutate(data):
        data["output"]["labels"] = labels
        data["scorer"] = {"kind": "exact_match", "normalize": {"case": True, "punctuation": True}}
        if aliases:
            data["scorer"]["aliases"] = aliases

    return _write(spec_dir, mutate)


def test_labels_that_normalise_to_one_label_are_refused(spec_dir, capsys):
    # balance / Balance / bal-ance would be scored as one class but trained as three.
    path = _label_set_spec(spec_dir, ["billing", "technical", "other", "balance", "Balance", "bal-ance"])
    line = next(n for n, text in enumerate(path.read_text().splitlines(), 1) if text.strip() == "- Balance")
    assert main(["estimate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.endswith(f"{path}:{line}: output.labels.4: 'Balance' and 'balance' are the same label after "
                        "scorer.normalize (case, punctuation); merge them or change the normalisation\n"), err


def test_an_alias_that_is_another_label_is_refused(spec_dir):
    path = _label_set_spec(spec_dir, ["billing", "technical", "other"], aliases={"billing": ["Other!"]})
    with pytest.raises(SpecError, match=r"scorer.aliases.billing.0: alias 'Other!' of 'billing' is the label 'other'"):
        load_spec(path)


def test_labels_differing_only_in_case_are_distinct_without_case_normalisation(spec_dir):
    path = _write(spec_dir, _set(("output", "labels"), ["billing", "Billing", "other"]))
    assert load_spec(path).output.labels == ["billing", "Billing", "other"]


def test_duplicate_key_is_an_error_naming_both_lines(spec_dir, capsys):
    path = _write(spec_dir, lambda data: None)
    text = path.read_text()
    path.write_text(text + "name: other_name\n")
    last = len(path.read_text().splitlines())
    assert main(["estimate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{path}:{last}: name: duplicate key (first on line 1)" in err


@pytest.mark.parametrize(("text", "expected"), [
    ("name: x\n" + "description: " + "[" * 1000 + "]" * 1000 + "\n", "nested more than 64 levels deep"),
    ("name: x\n" + "description: '" + "x" * (2 << 20) + "'\n", "file too large"),
])
def test_hostile_yaml_spec_is_exit_2_in_one_line(tmp_path, capsys, text, expected):
    path = tmp_path / "spec.yaml"
    path.write_text(text)
    assert main(["estimate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err and expected in err


SQL_SPEC = Path(__file__).resolve().parents[2] / "specs" / "sql_generation"


@pytest.mark.parametrize(("content", "expected"), [
    (b"id,name\n1,tent\n", "is not a SQLite database"),
    (b"SQLite format 3\x00" + b"\x00" * 200, "cannot be read as a SQLite database"),
])
def test_sql_database_that_is_not_sqlite_fails_at_load(tmp_path, capsys, content, expected):
    # Before, such a spec loaded and `score` exited 0 with almost every item "gold_failed".
    for name in ("spec.yaml", "data.jsonl", "rubric.md"):
        shutil.copy(SQL_SPEC / name, tmp_path / name)
    (tmp_path / "shop.sqlite").write_bytes(content)
    spec_path = tmp_path / "spec.yaml"
    spec_path.write_text(spec_path.read_text().replace("../../pricing/", str(SQL_SPEC.parents[1] / "pricing") + "/"))
    assert main(["estimate", str(spec_path)]) == 2
    err = capsys.readouterr().err
    line = next(n for n, text in enumerate(spec_path.read_text().splitlines(), 1) if "database:" in text)
    assert err.count("\n") == 1 and f"{spec_path}:{line}: scorer.database: " in err and expected in err


def test_latency_block_defaults_to_no_probe_and_is_validated_with_its_line(spec_dir):
    assert load_spec(_write(spec_dir, lambda data: None)).latency.probe_calls == 0
    spec = load_spec(_write(spec_dir, _set(("latency",), {"probe_calls": 50, "concurrency": 2})))
    assert (spec.latency.probe_calls, spec.latency.concurrency) == (50, 2)
    for bad, field in (({"probe_calls": -1}, "latency.probe_calls"), ({"probe_calls": 5, "concurrency": 0}, "latency.concurrency"),
                       ({"probe_calls": 5, "concurency": 2}, "latency.concurency")):
        path = _write(spec_dir, _set(("latency",), bad))
        with pytest.raises(SpecError, match=rf"spec.yaml:\d+: {field}"):
            load_spec(path)


def test_a_path_too_long_for_the_file_system_is_one_line(spec_dir, capsys):
    # is_file() raises OSError (File name too long) instead of answering False.
    path = _write(spec_dir, _set(("data", "path"), "x" * 5000))
    assert main(["estimate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "data.path: not a usable file name (File name too long)" in err


def test_a_prompt_file_over_the_size_limit_is_refused(spec_dir, capsys):
    # A 10 MB rubric, rendered for every item, kept `estimate` busy for over 5 minutes.
    (spec_dir / "rubric.md").write_text("Route the ticket. " * 60_000 + "{text}")
    path = _write(spec_dir, lambda data: None)
    assert main(["estimate", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "teacher.prompt: prompt file" in err and "is over 1,048,576 bytes" in err


def test_a_tinker_student_records_its_base_model_for_pricing(spec_dir):
    # Only a tinker:// student without price_as is priced at training.base_model's own row.
    def base(mutate):
        return load_spec(_write(spec_dir, mutate)).student.checkpoint_base_model

    assert base(lambda d: d.update(training={"base_model": "Qwen/Qwen3.5-9B"})) == "Qwen/Qwen3.5-9B"
    assert base(lambda d: d["student"].update(price_as="tinker/seed")) is None
    assert base(lambda d: d["student"].update(model="openai/gpt-4.1-mini")) is None
    assert load_spec(_write(spec_dir, lambda d: None)).teacher.checkpoint_base_model is None


def test_labels_in_two_unicode_forms_are_refused_with_both_shown_escaped(spec_dir):
    path = _write(spec_dir, _set(("output", "labels"), ["billing", "caf\u00e9", "cafe\u0301"]))
    with pytest.raises(SpecError, match=r"output.labels.2: 'cafe\\u0301' and 'caf\\xe9' are the same text in two Unicode forms"):
        load_spec(path)


def test_unicode_twins_are_refused_whatever_the_scorer(spec_dir):
    def mutate(data):
        data["output"]["labels"] = ["caf\u00e9", "cafe\u0301"]
        data["scorer"] = {"kind": "python", "ref": "os.path:join"}

    with pytest.raises(SpecError, match=r"output.labels.1: .* two Unicode forms"):
        load_spec(_write(spec_dir, mutate))


def test_the_reserved_label_and_aliases_of_unknown_labels_are_refused_at_load(spec_dir):
    with pytest.raises(SpecError, match=r"output.labels.1: 'INVALID' is reserved for outputs outside the label set"):
        load_spec(_write(spec_dir, _set(("output", "labels"), ["billing", "INVALID"])))
    path = _label_set_spec(spec_dir, ["billing", "technical", "other"], aliases={"refund": ["money back"]})
    with pytest.raises(SpecError, match=r"scorer.aliases.refund: 'refund' is not one of output.labels"):
        load_spec(path)


def test_a_label_listed_twice_is_refused_naming_both_places(spec_dir):
    path = _write(spec_dir, _set(("output", "labels"), ["billing", "other", "billing"]))
    with pytest.raises(SpecError, match=r"output.labels.2: 'billing' is listed twice \(also as output.labels.0\)"):
        load_spec(path)


def test_one_alias_for_two_labels_is_refused(spec_dir):
    path = _label_set_spec(spec_dir, ["billing", "technical", "other"],
                           aliases={"billing": ["invoice"], "other": ["Invoice!"]})
    with pytest.raises(SpecError, match=r"scorer.aliases.other.0: alias 'Invoice!' of 'other' is also an alias of 'billing'"):
        load_spec(path)

def test_gates_defaults_and_baseline_floors_are_validated_with_their_line(spec_dir):
    gates = load_spec(_write(spec_dir, lambda data: None)).gates
    assert gates.max_error_rate == 0.02 and not gates.explicitly_set("max_error_rate")
    assert gates.unmeasured_latency == "fail" and gates.baseline_min is None

    def with_gates(value):
        def mutate(data):
            data["baselines"] = ["tfidf_logreg", {"kind": "wordllama_logreg", "name": "wl"}]
            data["gates"] = value
        return mutate

    spec = load_spec(_write(spec_dir, with_gates({"baseline_min": {"tfidf_logreg": 0.5, "wl": 0.7}, "unmeasured_latency": "skip"})))
    assert spec.gates.baseline_min == {"tfidf_logreg": 0.5, "wl": 0.7} and spec.gates.unmeasured_latency == "skip"
    assert load_spec(_write(spec_dir, with_gates({"baseline_min": 0.6}))).gates.baseline_min == 0.6
    with pytest.raises(SpecError, match=r"spec.yaml:\d+: gates: .*baseline_min names 'wordllama_logreg', which is not a baseline of this spec"):
        load_spec(_write(spec_dir, with_gates({"baseline_min": {"wordllama_logreg": 0.5}})))
    for bad, field in (({"baseline_min": 1.5}, "gates.baseline_min"), ({"unmeasured_latency": "ignore"}, "gates.unmeasured_latency"),
                       ({"max_error_rate": -0.1}, "gates.max_error_rate")):
        with pytest.raises(SpecError, match=rf"spec.yaml:\d+: {field}"):
            load_spec(_write(spec_dir, with_gates(bad)))


def test_a_tinker_provider_prefix_says_how_a_base_model_student_is_named(spec_dir):
    path = _write(spec_dir, _set(("student", "model"), "tinker/Qwen/Qwen3-8B"))
    with pytest.raises(SpecError) as err:
        load_spec(path)
    message = str(err.value)
    assert "student.model" in message and "'Qwen/Qwen3-8B'" in message and "tinker://" in message
    assert "pricing import" not in message
    assert load_spec(_write(spec_dir, _set(("student", "model"), "Qwen/Qwen3-8B"))).student.model == "Qwen/Qwen3-8B"


def test_reasoning_is_a_level_or_a_budget_not_both(spec_dir):
    spec = load_spec(_write(spec_dir, _set(("teacher", "reasoning"), {"effort": "low"})))
    assert (spec.teacher.reasoning_effort, spec.teacher.thinking_budget_tokens) == ("low", None)
    spec = load_spec(_write(spec_dir, _set(("teacher", "reasoning"), {"budget_tokens": 0})))
    assert spec.teacher.thinking_budget_tokens == 0
    for bad in ({"effort": "low", "budget_tokens": 10}, {}, {"effort": "extreme"}, {"budget_tokens": -1}):
        with pytest.raises(SpecError, match="teacher.reasoning"):
            load_spec(_write(spec_dir, _set(("teacher", "reasoning"), bad)))


# --- decision: the cost of a wrong answer -------------------------------------------------------

def _decision(value):
    return _set(("decision", "cost_per_error_usd"), value)


def test_a_cost_per_error_is_one_number_or_a_matrix_by_gold_and_predicted_label(spec_dir):
    assert load_spec(_write(spec_dir, _decision(1.5))).decision.cost_per_error_usd == 1.5
    spec = load_spec(_write(spec_dir, _decision({"matrix": {"billing": {"technical": 9.0, "INVALID": 4.0}}, "default": 2.0})))
    costs = spec.decision.cost_per_error_usd
    # A listed pair, an unlisted wrong pair (the default), a right answer (free), an answer outside the set.
    assert (costs.cost("billing", "technical"), costs.cost("technical", "billing"), costs.cost("other", "other"),
            costs.cost("billing", "INVALID")) == (9.0, 2.0, 0.0, 4.0)
    assert costs.price_levels_usd == [2.0, 4.0, 9.0]
    assert spec.decision.assumed_discordance == 0.10 and spec.decision.power == 0.8


@pytest.mark.parametrize(
    ("matrix", "field", "expected"),
    [
        ({"biling": {"technical": 3.0}}, "decision.cost_per_error_usd.matrix.biling",
         "'biling' is not one of output.labels (billing, technical, other)"),
        ({"billing": {"tech": 3.0}}, "decision.cost_per_error_usd.matrix.billing.tech",
         "'tech' is not one of output.labels (billing, technical, other) or INVALID"),
        ({"billing": {"billing": 3.0}}, "decision.cost_per_error_usd.matrix.billing.billing",
         "a right answer costs nothing"),
    ],
)
def test_an_error_cost_matrix_is_checked_against_the_labels_with_its_line(spec_dir, capsys, matrix, field, expected):
    path = _write(spec_dir, _decision({"matrix": matrix, "default": 1.0}))
    bad_key = field.rsplit(".", 1)[1]
    # The deepest key named is the last line under matrix: that spells it (billing.billing: the inner one).
    bad_line = max(n for n, text in enumerate(path.read_text().splitlines(), 1) if text.strip().startswith(f"{bad_key}:"))
    status = main(["estimate", str(path)])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1, err
    assert f"spec.yaml:{bad_line}: {field}: {expected}" in err


def test_an_error_cost_matrix_needs_a_label_task(spec_dir, capsys):
    def mutate(data):
        data["output"] = {"kind": "text"}
        data["decision"] = {"cost_per_error_usd": {"matrix": {"billing": {"other": 1.0}}, "default": 1.0}}

    status = main(["estimate", str(_write(spec_dir, mutate))])
    err = capsys.readouterr().err
    assert status == 2 and "decision.cost_per_error_usd.matrix: a matrix by gold and predicted label needs output kind " \
                             "'label', found 'text'" in err


@pytest.mark.parametrize("value", [-1.0, {"matrix": {"billing": {"other": 1.0}}}, {"matrix": {}, "default": 1.0}])
def test_a_negative_cost_or_a_matrix_without_default_is_refused(spec_dir, capsys, value):
    status = main(["estimate", str(_write(spec_dir, _decision(value)))])
    err = capsys.readouterr().err
    assert status == 2 and err.count("\n") == 1 and "decision.cost_per_error_usd" in err, err
