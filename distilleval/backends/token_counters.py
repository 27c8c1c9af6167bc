"""Which counter measures each role's tokens for ``estimate``: the model's own template where it can be known.

In order of preference, per role:

1. a Tinker student: its base model's packaged tokenizer and chat template (``tinker.token_counts``);
2. a model on an OpenAI-compatible server the spec points at (``api_base``): the server's own
   template and tokenizer endpoints (``server_token_counts``);
3. otherwise the local tokenizer (cl100k with OpenAI's chat overhead), a guess whose basis, and
   the reason no better counter was found, the caller prints.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from distilleval.backends.server_token_counts import server_token_counter
from distilleval.backends.tinker.token_counts import spec_token_counters
from distilleval.costs.tokens import TokenCounter
from distilleval.spec.task_spec import TaskSpec

ROLES = ("teacher", "student")


@dataclass(frozen=True)
class RoleCounters:
    """Role -> the model's own counter where known; role -> why the local tokenizer counts the others."""

    counters: dict[str, TokenCounter] = field(default_factory=dict)
    guessed: dict[str, str] = field(default_factory=dict)


def own_template_counters(spec: TaskSpec, *, ask_servers: bool = True) -> RoleCounters:
    """The best known counter for the teacher and the student (see the module's order).

    Args:
        spec: the spec.
        ask_servers: ask a role's ``api_base`` server to count (off: offline counters only).
    """
    offline = spec_token_counters(spec)
    models = spec.models()
    counters: dict[str, TokenCounter] = {}
    guessed: dict[str, str] = {}
    for role in ROLES:
        if role in offline:
            counters[role] = offline[role]
            continue
        model = models[role]
        if model.api_base and ask_servers:
            outcome = server_token_counter(model, image_inputs=bool(spec.data.image_inputs))
            if outcome.counter is not None:
                counters[role] = outcome.counter
                continue
            guessed[role] = outcome.reason or "its server counts nothing"
        elif model.api_base:
            guessed[role] = f"its server ({model.api_base}) was not asked"
        else:
            guessed[role] = f"{model.model}'s own tokenizer and chat template are not known offline"
    return RoleCounters(counters, guessed)
