"""Teacher-output checks: label set, JSON (+schema), read-only SQL that compiles."""

import sqlite3

from distilleval.spec.task_spec import load_spec
from distilleval.training.label_checks import LabelChecker

BASE = """\
name: t
data: {{path: data.jsonl, input: {{text: message}}}}
teacher: {{model: openai/gpt-5.2, prompt: "{{text}}"}}
student: {{model: tinker://r/sampler_weights/final, prompt: "{{text}}"}}
{rest}
"""


def checker(tmp_path, rest):
    (tmp_path / "data.jsonl").write_text('{"message": "x"}\n')
    path = tmp_path / "spec.yaml"
    path.write_text(BASE.format(rest=rest))
    return LabelChecker(load_spec(path))


def test_label_in_set_and_canonical_spelling(tmp_path):
    check = checker(tmp_path, "output: {kind: label, labels: [Billing, shipping]}\n"
                              "scorer: {kind: exact_match, normalize: {case: true, whitespace: true}, aliases: {shipping: [delivery]}}")
    assert check.check("  billing \n").label == "Billing"
    assert check.check("Delivery").label == "shipping"
    verdict = check.check("refund")
    assert (verdict.label, verdict.reason) == (None, "invalid_label")
    assert "'refund' is not one of the spec's labels" in verdict.detail
    assert check.check("").reason == "empty"


def test_label_without_declared_normalisation_is_exact(tmp_path):
    check = checker(tmp_path, "output: {kind: label, labels: [billing]}")
    assert check.check("billing").valid
    assert check.check("Billing").reason == "invalid_label"


def test_json_parses_strips_fence_and_checks_schema(tmp_path):
    check = checker(
        tmp_path,
        "output: {kind: json, schema: {type: object, required: [total], properties: {total: {type: string}}}}\n"
        "scorer: json_fields",
    )
    assert check.check('```json\n{"total": "9.50"}\n```').label == '{"total": "9.50"}'
    assert check.check('{"total": 9.5}').reason == "schema_mismatch"
    assert "total" in check.check('{"total": 9.5}').detail
    assert check.check('{"total": "9.50"').reason == "parse_error"
    # A teacher label nested deeper than Python's parser recurses is a parse error, not a crash.
    deep = check.check("[" * 100_000 + "]" * 100_000)
    assert (deep.reason, deep.detail) == ("parse_error", "not valid JSON (nested too deeply to read)")


def test_sql_checked_against_an_in_memory_copy_of_the_schema(tmp_path):
    database = tmp_path / "shop.sqlite"
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE orders (id INTEGER, total REAL)")
        connection.execute("INSERT INTO orders VALUES (1, 9.5)")
    check = checker(tmp_path, f"output: {{kind: sql}}\nscorer: {{kind: sql_execution, database: {database.name}}}")
    assert check.check("SELECT total FROM orders;").label == "SELECT total FROM orders"
    assert check.check("```sql\nSELECT id FROM orders WHERE total > 1\n```").valid
    assert check.check("SELECT nope FROM orders").reason == "parse_error"
    assert check.check("SELEC total FROM orders").reason == "parse_error"
    assert check.check("SELECT 1; SELECT 2").reason == "parse_error"
    assert check.check("DELETE FROM orders").reason == "unsafe"
    assert check.check("DROP TABLE orders").reason == "unsafe"
    # nothing ran against the real file
    with sqlite3.connect(database) as connection:
        assert connection.execute("SELECT COUNT(*) FROM orders").fetchone() == (1,)


def test_text_kind_accepts_any_non_empty_text(tmp_path):
    check = checker(tmp_path, "output: {kind: text}")
    assert check.check(" a summary ").label == "a summary"
    assert not check.check("   ").valid


def test_a_decomposed_teacher_label_is_the_composed_label(tmp_path):
    check = checker(tmp_path, 'output: {kind: label, labels: ["caf\\u00e9", other]}\n'
                              "scorer: {kind: exact_match, normalize: {case: true}}")
    assert check.check("CAFE\u0301\n").label == "caf\u00e9"
    assert check.check("Other").label == "other"
