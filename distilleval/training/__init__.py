"""The distillation training side: teacher labels, short-format data, LoRA training on Tinker.

- ``teacher`` and ``label_checks``: the teacher labels a pool (through the shared runner and
  cache) and each label is checked against the spec's output kind.
- ``data``: short-format conversations read and rendered into weighted training examples.
- ``schedule``, ``tinker_trainer`` and ``manifest``: the learning-rate schedule, the training
  loop (checkpoints, resume, held-out loss) and the manifest with the sampler path and cost.

Chat rendering, tokenizers and the Tinker connection are shared with sampling and live in
``distilleval.backends.tinker``. Nothing here imports ``tinker`` at module level.
"""
