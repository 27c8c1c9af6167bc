"""Stage 2, what things cost: pricing tables, token counts, the cost model and cost tables.

- ``pricing``: dated pricing tables (matching by id, alias or glob; a missing model is an error).
- ``tokens``: local token counting (tiktoken, offline).
- ``cost_model``: per request, per day and month, savings, one-time cost, break-even.
- ``prompt_caching``: the cache share a provider would give (Anthropic's minimum cacheable lengths).
- ``training_plan``: the recipe's step arithmetic (held-out rows, batch, epochs, steps), shared with ``training``.
- ``estimates``: token profiles of a spec's rendered prompts, before anything is spent.
- ``tables``: cost tables in md / marp / csv / json / latex.
- ``use_case_table``: one row per use case (teacher against student) across specs or runs.
- ``slide_check``: a pasted slide table compared with the computed one, cell by cell.

Imports only ``spec`` (and ``errors``, ``files``).
"""
