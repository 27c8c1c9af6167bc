"""A run's identity: everything that decides the answers it stores and what they cost.

A run directory may be continued (``eval --resume``, ``eval --out`` on an existing run,
``label --batch`` re-run on its ``<out>.batch/`` folder) only with the very inputs it started
with; otherwise answers to old inputs would be mixed with answers to new ones. The identity is
a mapping of named parts, recorded in the run store's meta table when the run starts:

- ``data``: the data file (or label pool), by its SHA-256,
- ``<role>.prompt`` / ``<role>.system``: each called role's prompt and system message (the
  text actually sent, so an edited rubric file counts even when the spec file did not change),
- ``<role>.settings``: each called role's model settings (model id, endpoint, max tokens,
  temperature, stop sequences, pricing entry, batch tier),
- ``pricing.<n>``: the pricing table(s), by SHA-256 (they decide the costs),
- ``spec``: the spec file itself, compared last: any other edit of it (labels, input
  mapping, scorer) also counts.

Files are compared by content, not by path: a project moved to another folder can still be
resumed. ``identity_change`` names the first part that differs, in words, for a one-line refusal.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from distilleval.errors import DistillevalError
from distilleval.files import file_sha256

IDENTITY_META = "identity"


class RunInputsChanged(DistillevalError):
    """A run cannot be continued: something that decides its answers changed since it started."""

# The model settings that decide an answer or its price (timeouts and keys do not).
MODEL_SETTINGS = ("model", "api_base", "max_tokens", "temperature", "stop", "price_as", "batch")


def _text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _template(spec: Any, role: str, part: str, declared: str, text: str) -> dict[str, Any]:
    """A prompt or system message: its text's hash, and the file it was read from (if any)."""
    from_file = declared != text  # the loader read a file in its place
    return {"what": f"the {role}'s {part}" + (" file" if from_file else ""),
            "file": str(spec.resolve(declared)) if from_file else None, "sha256": _text_sha256(text)}


def _file(what: str, path: Path) -> dict[str, Any]:
    return {"what": what, "file": str(path), "sha256": file_sha256(Path(path))}


def run_identity(
    spec: Any, pricing: Any, *, roles: list[str], data_file: Path, include_spec: bool = True
) -> dict[str, Any]:
    """The identity of a run of ``roles`` over the items of ``data_file``.

    Args:
        spec: the loaded task spec.
        pricing: the pricing table the run prices its calls with.
        roles: the model roles the run calls (``teacher``, ``student``).
        data_file: the file the run's items come from (the data file, or a label pool).
        include_spec: add the spec file's own hash (``eval``); ``label`` leaves it out, so an
            edit of the student's settings does not stop the teacher's batches from being collected.

    Returns:
        Part -> ``{"what", "file", "sha256"}`` (a file or text) or ``{"what", "settings"}``.

    Raises:
        OSError: a file cannot be read.
    """
    identity: dict[str, Any] = {"data": _file("the data file", data_file)}
    models = spec.models()
    for role in roles:
        model = models[role]
        identity[f"{role}.prompt"] = _template(spec, role, "prompt", model.prompt, model.prompt_text)
        if model.system:
            identity[f"{role}.system"] = _template(spec, role, "system message", model.system, model.system_text)
        settings = {name: getattr(model, name) for name in MODEL_SETTINGS}
        identity[f"{role}.settings"] = {"what": f"the {role}'s model settings",
                                        "settings": {k: list(v) if isinstance(v, tuple) else v for k, v in settings.items()}}
    if getattr(spec.scorer, "kind", None) == "judge":
        identity["judge.criteria"] = _file("the judge's criteria file", spec.resolve(spec.scorer.criteria))
        if spec.scorer.alignment is not None:
            identity["judge.alignment"] = _file("the judge's alignment set", spec.resolve(spec.scorer.alignment.path))
    for number, table in enumerate(pricing.chain()):
        identity[f"pricing.{number}"] = _file("the pricing table", table.path) | {"sha256": table.sha256}
    if include_spec:
        identity["spec"] = {"what": "the spec file", "file": str(spec.source), "sha256": spec.source_sha256}
    return identity


def _named(part: dict[str, Any]) -> str:
    return part["what"] + (f" {part['file']}" if part.get("file") else "")


def identity_change(recorded: dict[str, Any], current: dict[str, Any]) -> str | None:
    """What differs between a run's recorded identity and today's, in words; None when nothing does.

    Parts only one side has (a role called now and not before, or the other way round) do
    not count: nothing of them is stored to mix with. The first differing part is named, the spec file last (so an edited model setting is named
    rather than "the spec file changed"), e.g. ``the data file specs/a/data.jsonl changed since
    this run started (sha256 1a2b3c4d5e6f -> 3c4d5e6f7a8b)`` or ``the teacher's model settings
    changed since this run started (temperature 0.0 -> 0.7)``.
    """
    for name, part in current.items():
        old = recorded.get(name)
        if old is None:
            continue  # a role this run did not call before: nothing of it is stored to mix with
        if "settings" in part:
            before, after = old.get("settings", {}), part["settings"]
            fields = [key for key in {**before, **after} if before.get(key) != after.get(key)]
            if fields:
                details = ", ".join(f"{key} {before.get(key)!r} -> {after.get(key)!r}" for key in fields)
                return f"{_named(part)} changed since this run started ({details})"
        elif old.get("sha256") != part.get("sha256"):
            return (f"{_named(part)} changed since this run started "
                    f"(sha256 {str(old.get('sha256'))[:12]} -> {str(part.get('sha256'))[:12]})")
    return None
