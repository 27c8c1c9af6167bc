"""Model backends behind one small interface (see ``base``).

``factory.build_backend`` picks one for a spec's model role: LiteLLM (any provider), the
aiohttp fast path for OpenAI-compatible servers, or Tinker. Nothing here imports LiteLLM,
aiohttp or Tinker until a backend is built.
"""
