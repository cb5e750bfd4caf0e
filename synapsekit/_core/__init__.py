"""The call core: one lifecycle per provider request and the ambient state it reports to.

``call`` (the :class:`~synapsekit.LLMCall` record and its start → finish | fail lifecycle), ``context`` and
``scope`` (the ContextVar of active scopes and the accumulators behind ``track()``), ``sinks`` (process-wide
listeners such as metrics), ``streams`` (stream proxies that finalise exactly once), ``spans`` and
``span_attributes`` (the GenAI span of each call), ``traced`` (``@traced``), and the small shared pieces:
``errors`` (the internal-error policy), ``exceptions``, ``config``, ``estimate``, ``lazy``.

Only :mod:`synapsekit._pricing` and :mod:`synapsekit.semconv` lie below this package.
"""
