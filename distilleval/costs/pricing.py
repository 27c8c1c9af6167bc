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

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from distilleval.errors import PricingError
from distilleval.spec.validation import describe_validation_error
from distilleval.spec.yaml_source import load_yaml_with_lines

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
        if self.batch_input_per_mtok_usd is not None:
            return self.batch_input_per_mtok_usd, self.batch_output_per_mtok_usd  # type: ignore[return-value]
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
    models: dict[str, ModelPrice] = Field(min_length=1)


class PricingTable:
    """A loaded pricing table, with its path and content hash for traceability."""

    def __init__(self, content: PricingFile, *, path: Path, sha256: str):
        self.content = content
        self.path = path
        self.sha256 = sha256

    @property
    def as_of(self) -> dt.date:
        """The date the table's prices were read."""
        return self.content.as_of

    @property
    def label(self) -> str:
        """How reports name the table: ``2026-02.yaml (as of 2026-02-01, sha256 1a2b3c4d)``."""
        return table_label(self.path.name, self.as_of.isoformat(), self.sha256)

    def find(self, model: str) -> tuple[str, ModelPrice] | None:
        """The (key, entry) for ``model`` by exact key, alias, then glob pattern; None if absent."""
        entries = self.content.models
        if model in entries:
            return model, entries[model]
        for key, entry in entries.items():
            if model in entry.aliases:
                return key, entry
        for key, entry in entries.items():
            if any(fnmatch.fnmatchcase(model, pattern) for pattern in entry.match):
                return key, entry
        return None

    def price_for(self, model: str) -> ModelPrice:
        """The entry for ``model``.

        Raises:
            PricingError: no entry matches; the message names the model and the table.
        """
        found = self.find(model)
        if found is None:
            known = ", ".join(self.content.models)
            raise PricingError(
                f"model {model!r} has no price in {self.path} (priced models: {known}); "
                "add it to the table, pass --pricing FILE, or set price_as in the spec"
            )
        return found[1]


def table_label(name: str, as_of: str, sha256: str) -> str:
    """``2026-02.yaml (as of 2026-02-01, sha256 1a2b3c4d)``: a table named by file, date and hash prefix."""
    return f"{name} (as of {as_of}, sha256 {sha256[:8]})"


def load_pricing(path: str | Path | None = None) -> PricingTable:
    """Load and validate a pricing table (the bundled 2026-02 table when ``path`` is None).

    Raises:
        PricingError: one line naming the file, line and field that is wrong.
    """
    source = Path(path) if path is not None else DEFAULT_TABLE
    raw, lines = load_yaml_with_lines(source, PricingError, max_bytes=MAX_TABLE_BYTES, max_values=MAX_TABLE_VALUES)
    if not isinstance(raw, dict):
        raise PricingError(f"{source}:1: expected a mapping with 'as_of' and 'models', found {type(raw).__name__}")
    try:
        content = PricingFile.model_validate(raw)
    except ValidationError as err:
        raise PricingError(describe_validation_error(err, source=source, lines=lines)) from None
    return PricingTable(content, path=source, sha256=hashlib.sha256(source.read_bytes()).hexdigest())
