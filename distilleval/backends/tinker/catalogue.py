"""Which base models Tinker serves: the live list when online, a dated offline copy otherwise.

The service is the authority: ``ServiceClient.get_server_capabilities()`` lists the models it
trains and samples today. ``base_models.yaml`` (shipped in the package) is a dated copy of the
public lineup, used where the service is not asked (``estimate``, offline runs, the checks made
before the network) and for the facts the service does not report: the chat template, the
tokenizer and the hidden size the learning-rate formula needs. Every message that rests on the
copy names its date, so a stale copy is visible instead of silently wrong.

Model names may carry a ``:suffix`` (a long-context variant such as ``:peft:262144``); the
facts of the plain name apply to it.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import resources
from typing import Any, Literal

from distilleval.errors import ConfigurationError

OFFLINE_COPY = "base_models.yaml"
TemplateName = Literal["qwen3", "qwen3_5", "qwen3_instruct", "llama3"]
TEMPLATES: tuple[str, ...] = ("qwen3", "qwen3_5", "qwen3_instruct", "llama3")


@dataclass(frozen=True)
class BaseModel:
    """One Tinker base model and what distilleval knows about it."""

    name: str
    kind: str = "unknown"
    vision: bool = False
    template: TemplateName | None = None
    tokenizer: Literal["packaged_qwen3", "huggingface"] | None = None
    hidden_size: int | None = None
    lr_family: Literal["qwen", "llama"] | None = None
    max_context_length: int | None = None


def plain_name(model: str) -> str:
    """``model`` without a ``:suffix`` (``Qwen/Qwen3-8B:peft:131072`` -> ``Qwen/Qwen3-8B``)."""
    return model.split(":", 1)[0]


def suffix_context_length(model: str) -> int | None:
    """The context length a ``:peft:N`` long-context variant names (N), else None."""
    tail = model.rsplit(":", 1)[-1] if ":peft:" in model else ""
    return int(tail) if tail.isdigit() else None


@dataclass(frozen=True)
class Catalogue:
    """The base models Tinker lists, and where that list came from.

    Attributes:
        models: by name, in the order the source lists them.
        origin: ``"the Tinker service"`` or ``"distilleval's offline copy as of <date>"``.
    """

    models: dict[str, BaseModel]
    origin: str

    def get(self, model: str) -> BaseModel | None:
        """The entry for ``model`` (exact name first, then without its ``:suffix``)."""
        return self.models.get(model) or self.models.get(plain_name(model))

    def context_length(self, model: str) -> int | None:
        """Prompt plus ``max_tokens`` that ``model`` takes: N for a ``:peft:N`` variant, else its
        listed ``max_context_length`` (None: not listed, or no length known)."""
        found = self.get(model)
        if found is None:
            return None
        return suffix_context_length(model) or found.max_context_length

    def require(self, model: str, *, where: str = "") -> BaseModel:
        """The entry for ``model``.

        Args:
            model: a base model id.
            where: ``FILE:LINE: field`` to start the message with, if known.

        Raises:
            ConfigurationError: the model is not listed; the message lists the ones that are.
        """
        found = self.get(model)
        if found is None:
            prefix = f"{where}: " if where else ""
            raise ConfigurationError(
                f"{prefix}{model!r} is not a base model Tinker serves (per {self.origin}); "
                f"listed: {', '.join(self.models)}"
            )
        return found

    def require_trainable(self, model: str, *, where: str = "") -> BaseModel:
        """Like ``require``, and distilleval must be able to render the model's chat template.

        Raises:
            ConfigurationError: not listed, or listed but with no renderer in distilleval.
        """
        found = self.require(model, where=where)
        if found.template is None:
            prefix = f"{where}: " if where else ""
            usable = [m.name for m in self.models.values() if m.template is not None]
            raise ConfigurationError(
                f"{prefix}Tinker serves {model!r}, but distilleval cannot render its chat template yet; "
                f"models distilleval can train and sample: {', '.join(usable)}"
            )
        return found


def _entry(name: str, raw: Any) -> BaseModel:
    if not isinstance(raw, dict):
        raise ConfigurationError(f"{OFFLINE_COPY}: models.{name}: expected a mapping")
    template = raw.get("template")
    if template is not None and template not in TEMPLATES:
        raise ConfigurationError(f"{OFFLINE_COPY}: models.{name}.template: unknown template {template!r}")
    context = raw.get("max_context_length")
    if context is not None and (not isinstance(context, int) or isinstance(context, bool) or context <= 0):
        raise ConfigurationError(f"{OFFLINE_COPY}: models.{name}.max_context_length: expected a positive integer")
    return BaseModel(
        name=name,
        kind=str(raw.get("kind", "unknown")),
        vision=bool(raw.get("vision", False)),
        template=template,
        tokenizer=raw.get("tokenizer"),
        hidden_size=raw.get("hidden_size"),
        lr_family=raw.get("lr_family"),
        max_context_length=raw.get("max_context_length"),
    )


@functools.lru_cache(maxsize=1)
def offline_catalogue() -> Catalogue:
    """The dated copy shipped with distilleval (``base_models.yaml``)."""
    import yaml

    text = resources.files("distilleval.backends.tinker").joinpath(OFFLINE_COPY).read_text(encoding="utf-8")
    raw = yaml.safe_load(text)
    as_of = raw.get("as_of")
    if not isinstance(as_of, dt.date) or not isinstance(raw.get("models"), dict):
        raise ConfigurationError(f"{OFFLINE_COPY}: needs as_of (a date) and models (a mapping)")
    models = {name: _entry(name, entry) for name, entry in raw["models"].items()}
    return Catalogue(models=models, origin=f"distilleval's offline copy of the Tinker lineup as of {as_of.isoformat()}")


def offline_copy_date() -> str:
    """The ``as_of`` date of the offline copy, ISO formatted."""
    return offline_catalogue().origin.rsplit(" ", 1)[-1]


def catalogue_from_names(names: Iterable[str], *, origin: str) -> Catalogue:
    """A catalogue of ``names`` (as a service lists them), with the offline copy's facts added.

    A name the copy does not know is kept, with no template: it exists, but distilleval
    cannot render it.
    """
    known = offline_catalogue()
    models: dict[str, BaseModel] = {}
    for name in names:
        facts = known.get(name)
        models[name] = BaseModel(**{**vars(facts), "name": name}) if facts else BaseModel(name=name)
    return Catalogue(models=models, origin=origin)


def live_catalogue(make_rest: Callable[[], Any], *, call: Callable[[Callable[[], Any], str], Any]) -> Catalogue:
    """Ask the service which base models it serves now (``RestClient.get_server_capabilities``).

    Args:
        make_rest: builds a ``tinker.RestClient`` (``connection.rest_client``) or the test
            double's; built inside ``call``, since building one may already wait on the network.
        call: runs a blocking SDK call under a deadline, given the call and what it is doing
            (``connection.call_with_deadline`` with the deadline bound).
    """
    capabilities = call(
        lambda: make_rest().get_server_capabilities().result(), "asking which base models it serves"
    )
    names = [m.model_name for m in capabilities.supported_models if m.model_name]
    return catalogue_from_names(names, origin="the Tinker service's list (get_server_capabilities)")


def spec_field_location(spec: Any, path: tuple[str, ...]) -> str:
    """``FILE:LINE: a.b`` for a field of a loaded spec (the line when the file can be read)."""
    from distilleval.errors import SpecError
    from distilleval.spec.yaml_source import load_yaml_with_lines

    dotted = ".".join(path)
    try:
        _, lines = load_yaml_with_lines(spec.source, SpecError)
    except SpecError:
        return f"{spec.source}: {dotted}"
    line = lines.line_of(path)
    return f"{spec.source}:{line}: {dotted}" if line else f"{spec.source}: {dotted}"


def check_spec_base_model(spec: Any, catalogue: Catalogue | None = None) -> BaseModel:
    """The spec's ``training.base_model``, checked against ``catalogue`` (default: the offline copy).

    Raises:
        ConfigurationError: ``FILE:LINE: training.base_model: ...`` naming the model and the
            models that are listed.
    """
    model = spec.training.base_model
    chosen = catalogue or offline_catalogue()
    if chosen.get(model) is not None:
        return chosen.require(model)
    return chosen.require(model, where=spec_field_location(spec, ("training", "base_model")))
