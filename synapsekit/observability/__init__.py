"""The spec's observability classes: thin facades over synapsekit's ambient instrumentation.

The public names are listed once, in ``__init__.pyi``, and load on first use.
"""

from synapsekit._core.lazy import attach_stub

__getattr__, __dir__, __all__ = attach_stub(__name__, __file__, globals())
