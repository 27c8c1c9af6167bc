"""The distillation training side: short-format data, chat rendering, LoRA training on Tinker.

Nothing here imports ``tinker`` at module level; the SDK is imported where it is called
(``connection.import_tinker``), so the rest of distilleval installs and runs without it.
"""
