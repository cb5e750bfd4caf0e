"""Prices of LLM calls: lookup, user overrides, model-name normalisation and the cost arithmetic.

``prices`` is the public door (``compute_cost``, ``set_price``, ``load_prices``, ...); ``tables`` holds the
resolved per-model tables the hot path indexes into; ``names`` normalises provider model names;
``overrides`` validates user prices and price files; ``genai`` is the one module that imports genai-prices.
A leaf: it imports nothing else from synapsekit.
"""
