"""Model backends behind one small interface (see ``base``).

``factory.build_backend`` picks one for a spec's model role: LiteLLM (``litellm_backend``,
any provider), the aiohttp fast path for OpenAI-compatible servers (``openai_compatible``),
or Tinker (``tinker.sampling``). ``credentials`` reads API keys from the environment only.
Nothing here imports LiteLLM, aiohttp or Tinker until a backend is built.
"""
