"""Prometheus metrics: :class:`~synapsekit.observability.PrometheusMetrics` and the pieces behind it.

``metrics`` is the class (a sink of the call core and a budget listener), ``series`` the cached per-label
writers of the hot path, ``instruments`` the metric definitions, ``labels`` the cardinality guard, and
``server`` the scrape endpoint.
"""
