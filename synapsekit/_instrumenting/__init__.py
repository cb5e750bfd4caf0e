"""Instrumenting client SDKs: discovery of instrumentors, ``instrument()``/``uninstrument()``, and patches.

``instrumentor`` is the contract third parties implement (re-exported by :mod:`synapsekit.plugin`),
``instrument`` finds installed instrumentors through the ``synapsekit.instrumentors`` entry points and runs
them, ``patching`` applies wrapt patches marked as ours and undoes exactly those.
"""
