"""The public plugin API for instrumentors (used by every ``instrumentation/*`` distribution).

A third party writes an instrumentor for its own client with exactly these pieces:

- :class:`Instrumentor` — the contract (``name``, ``distribution``, ``supported``, ``module``,
  ``_instrument``, ``_uninstrument``), registered under the entry-point group ``synapsekit.instrumentors``;
- :func:`wrap_method` / :func:`unwrap_method` — patches that are marked as ours and undone exactly;
- :func:`start_call` and :class:`LLMCall` — the lifecycle of one provider request;
- :class:`SyncStreamProxy` / :class:`AsyncStreamProxy` — streams that finalise exactly once;
- :class:`StreamReader` — what a stream proxy reads from each item (subclass it, pass it to the proxy);
- :func:`report_internal_error` — the error policy (log once, raise under tests).
- :func:`abandon_when_collected` — end a call whose caller dropped its result unread, off the garbage
  collector's finalizer (on synapsekit's reaper thread).

The names are listed once, in ``plugin.pyi``, and load on first use (PEP 562): ``synapsekit.instrument()``
loads every registered instrumentor to read its ``Instrumentor`` subclass, and that must not cost the call
machinery, wrapt and the pricing tables for clients that are not there to patch.
"""

from synapsekit._core.lazy import attach_stub

__getattr__, __dir__, __all__ = attach_stub(__name__, __file__, globals())
