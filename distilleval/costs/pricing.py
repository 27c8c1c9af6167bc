"""Dated pricing tables: USD per 1M tokens per model, with a source for every figure.

A table is a YAML file (the bundled ``pricing_tables/2026-02.yaml``) validated like a spec. ``PricingTable.price_for``
finds a model's entry by id, alias or glob pattern and raises ``PricingError`` naming the model
and the table when there is none: a missing price is never a silent $0.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import hashlib
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from distilleval.errors import PricingError
from distilleval.spec.validation import describe_validation_error
from distilleval.spec.yaml_source import load_yaml_with_lines

if TYPE_CHECKING:
    from distilleval.spec.task_spec import ModelSpec, TaskSpec

# Package data, so an installed wheel finds it; the repository's pricing/2026-02.yaml links here.
BUNDLED_TABLES = Path(__file__).resolve().parent / "pricing_tables"
DEFAULT_TABLE = BUNDLED_TABLES / "2026-02.yaml"
MAX_TABLE_BYTES = 16 << 20
"""Largest pricing table read (16 MiB: room for every model of an imported price map)."""
MAX_TABLE_VALUES = 1_000_000
"""Most YAML values a pricing table may hold, aliases expanded."""
MAX_PER_MTOK_USD = 100_000.0
"""Upper bound of a price per 1M tokens; the dearest models cost a few hundred dollars."""
MAX_PER_HOUR_USD = 100_000.0
"""Upper bound of an hourly CPU or GPU price."""
DEFAULT_MAX_PRICE_AGE_DAYS = 180
"""Prices read longer ago than this are flagged in cost tables (``--max-price-age-days``)."""

_STRICT = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class SelfHosting(BaseModel):
    """What a self-hosted model costs to serve: a GPU by the hour and its measured throughput."""

    model_config = _STRICT

    gpu_usd_per_hour: float = Field(gt=0, le=MAX_PER_HOUR_USD)
    requests_per_hour: float = Field(gt=0, le=1e12, description="measured, at the request shape priced")
    measured: str = Field(min_length=1, description="how and when the throughput was measured")


class ModelPrice(BaseModel):
    """One model's prices, USD per 1M tokens unless the field says otherwise."""

    model_config = _STRICT

    display_name: str
    input_per_mtok_usd: float = Field(alias="input", ge=0, le=MAX_PER_MTOK_USD)
    output_per_mtok_usd: float = Field(alias="output", ge=0, le=MAX_PER_MTOK_USD)
    cached_input_per_mtok_usd: float | None = Field(default=None, alias="cached_input", ge=0, le=MAX_PER_MTOK_USD)
    cache_write_per_mtok_usd: float | None = Field(
        default=None, alias="cache_write", ge=0, le=MAX_PER_MTOK_USD,
        description="prompt-cache writes (Anthropic: 1.25x input for 5-minute writes)",
    )
    batch_input_per_mtok_usd: float | None = Field(default=None, alias="batch_input", ge=0, le=MAX_PER_MTOK_USD)
    batch_output_per_mtok_usd: float | None = Field(default=None, alias="batch_output", ge=0, le=MAX_PER_MTOK_USD)
    batch_discount: float | None = Field(default=None, ge=0, lt=1, description="0.5 = half price")
    training_per_mtok_usd: float | None = Field(default=None, alias="training", ge=0, le=MAX_PER_MTOK_USD)
    storage_usd_per_gb_month: float | None = Field(
        default=None, alias="storage_gb_month", ge=0, le=MAX_PER_MTOK_USD,
        description="checkpoint storage, USD per GB-month (Tinker bills saved checkpoints)",
    )
    cpu_usd_per_hour: float | None = Field(
        default=None, gt=0, le=MAX_PER_HOUR_USD, description="for local CPU models: cost = hourly price x measured seconds"
    )
    self_hosted: SelfHosting | None = None
    aliases: list[str] = Field(default_factory=list)
    match: list[str] = Field(default_factory=list, description="glob patterns such as 'tinker://*'")
    source: str = Field(min_length=1)
    as_of: dt.date

    @model_validator(mode="after")
    def _one_batch_form(self) -> "ModelPrice":
        explicit = self.batch_input_per_mtok_usd is not None or self.batch_output_per_mtok_usd is not None
        if explicit and self.batch_discount is not None:
            raise ValueError("give either batch_input/batch_output or batch_discount, not both")
        if (self.batch_input_per_mtok_usd is None) != (self.batch_output_per_mtok_usd is None):
            raise ValueError("batch_input and batch_output go together")
        return self

    @property
    def has_batch_tier(self) -> bool:
        """True when the model has batch prices (explicit, or a discount on the standard ones)."""
        return self.batch_discount is not None or self.batch_input_per_mtok_usd is not None

    def batch_prices(self) -> tuple[float, float]:
        """(input, output) USD per 1M tokens at the batch tier; raises if there is none."""
        # Both or neither (checked on load).
        if self.batch_input_per_mtok_usd is not None and self.batch_output_per_mtok_usd is not None:
            return self.batch_input_per_mtok_usd, self.batch_output_per_mtok_usd
        if self.batch_discount is not None:
            keep = 1.0 - self.batch_discount
            return self.input_per_mtok_usd * keep, self.output_per_mtok_usd * keep
        raise PricingError(f"{self.display_name} has no batch price in the pricing table")


class PricingFile(BaseModel):
    """The YAML layout of a pricing table."""

    model_config = _STRICT

    as_of: dt.date
    currency: str = Field(default="USD", pattern=r"^USD$")
    description: str = ""
    defer_to: str | None = Field(
        default=None,
        min_length=1,
        description="'bundled' or a table path relative to this one: its prices win; this table fills the gaps",
    )
    models: dict[str, ModelPrice] = Field(min_length=1)


class PricingTable:
    """A loaded pricing table, with its path and content hash for traceability.

    A table that defers to another (``defer_to``) looks every model up there first and uses its
    own entries only for models the other does not price.
    """

    def __init__(self, content: PricingFile, *, path: Path, sha256: str, deferred_to: "PricingTable | None" = None):
        self.content = content
        self.path = path
        self.sha256 = sha256
        self.deferred_to = deferred_to

    @property
    def as_of(self) -> dt.date:
        """The date the table's prices were read."""
        return self.content.as_of

    @property
    def own_label(self) -> str:
        """This file alone: ``2026-02.yaml (as of 2026-02-01, sha256 1a2b3c4d)``."""
        return table_label(self.path.name, self.as_of.isoformat(), self.sha256)

    @property
    def label(self) -> str:
        """How reports name the table; a deferring table names the one it defers to first."""
        if self.deferred_to is None:
            return self.own_label
        return f"{self.deferred_to.label}, then {self.own_label}"

    def locate(self, model: str) -> tuple["PricingTable", str, ModelPrice] | None:
        """The (table, key, entry) that prices ``model``, or None: which file a price comes from."""
        if self.deferred_to is not None:
            found = self.deferred_to.locate(model)
            if found is not None:
                return found
        entries = self.content.models
        if model in entries:
            return self, model, entries[model]
        for key, entry in entries.items():
            if model in entry.aliases:
                return self, key, entry
        for key, entry in entries.items():
            if any(fnmatch.fnmatchcase(model, pattern) for pattern in entry.match):
                return self, key, entry
        return None

    def find(self, model: str) -> tuple[str, ModelPrice] | None:
        """The (key, entry) for ``model`` by exact key, alias, then glob pattern; None if absent."""
        found = self.locate(model)
        return None if found is None else found[1:]

    def chain(self) -> list["PricingTable"]:
        """The tables consulted, in order (the one deferred to first)."""
        return (self.deferred_to.chain() if self.deferred_to else []) + [self]

    def key_for(self, model: ModelSpec) -> str:
        """The id a spec's model is priced as in this table.

        Its ``price_as`` when set; else, for a ``tinker://`` checkpoint, its base model's own row
        when this table has one (``ModelSpec.checkpoint_base_model``: Tinker bills a LoRA at its
        base model's prefill and sample rates); else its id (``tinker://*`` matches the seed row).
        """
        if model.price_as:
            return model.price_as
        base = model.checkpoint_base_model
        if base and self.find(base) is not None:
            return base
        return model.model

    def price_for(self, model: str) -> ModelPrice:
        """The entry for ``model``.

        Raises:
            PricingError: no entry matches; the message names the model and the table(s).
        """
        found = self.find(model)
        if found is None:
            known = [key for table in self.chain() for key in table.content.models]
            shown = ", ".join(known) if len(known) <= 12 else f"{len(known)} models"
            where = " or ".join(str(table.path) for table in self.chain())
            raise PricingError(
                f"model {model!r} has no price in {where} (priced models: {shown}); "
                "add it to the table, import it (distilleval pricing import MODEL), pass --pricing FILE, "
                "or set price_as in the spec"
            )
        return found[1]


def priced_as(model: ModelSpec, table: PricingTable) -> str | None:
    """What a run records as a model's ``priced_as``: the entry id it was priced as, None when that is its own id."""
    key = table.key_for(model)
    return None if key == model.model else key


SEED_TINKER_ROW = "tinker/seed"
"""The seed's flat Tinker LoRA figure (an alias of ``tinker/lora``): ``price_as`` it to reproduce the seed's tables."""


def checkpoint_price_note(model: str, priced_as: str | None, table: PricingTable) -> str | None:
    """The note saying which row priced a ``tinker://`` checkpoint at its base model's rates (None otherwise)."""
    if not model.startswith("tinker://") or priced_as is None:
        return None
    found = table.find(priced_as)
    if found is None or SEED_TINKER_ROW in (found[0], *found[1].aliases):
        return None
    name = found[1].display_name or priced_as
    return (f"{model} is priced at its base model's row, {name} ({priced_as}: Tinker's prefill and sample rates); "
            f"set student.price_as: {SEED_TINKER_ROW} for the seed's flat figure")


def stale_prices(
    table: PricingTable, models: list[str], *, today: dt.date, max_age_days: int
) -> list[tuple[str, dt.date]]:
    """(model, as_of) of every priced model in ``models`` whose price is older than ``max_age_days``.

    Models without a price are left out (pricing them raises elsewhere); each model once, in order.
    """
    stale = []
    for model in dict.fromkeys(models):
        found = table.find(model)
        if found is not None and (today - found[1].as_of).days > max_age_days:
            stale.append((model, found[1].as_of))
    return stale


def table_label(name: str, as_of: str, sha256: str) -> str:
    """``2026-02.yaml (as of 2026-02-01, sha256 1a2b3c4d)``: a table named by file, date and hash prefix."""
    return f"{name} (as of {as_of}, sha256 {sha256[:8]})"


MAX_DEFER_DEPTH = 8
"""Longest chain of tables deferring to one another."""


def load_pricing(path: str | Path | None = None, *, _seen: tuple[Path, ...] = ()) -> PricingTable:
    """Load and validate a pricing table (the bundled 2026-02 table when ``path`` is None).

    A table with ``defer_to`` loads the table it names too (``bundled``, or a path relative to it).

    Raises:
        PricingError: one line naming the file, line and field that is wrong, or a loop of tables
            deferring to one another.
    """
    source = Path(path) if path is not None else DEFAULT_TABLE
    raw, lines = load_yaml_with_lines(source, PricingError, max_bytes=MAX_TABLE_BYTES, max_values=MAX_TABLE_VALUES)
    if not isinstance(raw, dict):
        raise PricingError(f"{source}:1: expected a mapping with 'as_of' and 'models', found {type(raw).__name__}")
    try:
        content = PricingFile.model_validate(raw)
    except ValidationError as err:
        raise PricingError(describe_validation_error(err, source=source, lines=lines)) from None
    deferred_to = None
    if content.defer_to is not None:
        target = DEFAULT_TABLE if content.defer_to == "bundled" else source.parent / content.defer_to
        resolved = source.resolve()
        if target.resolve() in (*_seen, resolved) or len(_seen) >= MAX_DEFER_DEPTH:
            line = lines.line_of(("defer_to",)) or 1
            raise PricingError(f"{source}:{line}: defer_to: {content.defer_to!r} makes a loop or a chain over {MAX_DEFER_DEPTH} tables")
        deferred_to = load_pricing(target, _seen=(*_seen, resolved))
    sha256 = hashlib.sha256(source.read_bytes()).hexdigest()
    return PricingTable(content, path=source, sha256=sha256, deferred_to=deferred_to)


def resolve_pricing(spec: TaskSpec, override: str | Path | None = None) -> PricingTable:
    """The pricing table a spec is priced with: ``override`` (a command's ``--pricing``) when given,
    else the file the spec's ``pricing:`` names (relative to the spec), else the bundled table.

    Raises:
        PricingError: the chosen table is missing or invalid (see ``load_pricing``).
    """
    return load_pricing(override or (spec.resolve(spec.pricing) if spec.pricing else None))
