"""Fixtures: the real together SDK pointed at the local server over HTTP, the instrumentation on/off.

The fixtures are the shared chat suite's (``compatible_chat_suite``), told of the SDK by ``kit``.
"""

from __future__ import annotations

from types import ModuleType

import _together_testkit
import pytest
from compatible_chat_suite import async_client, client, instrumented

__all__ = ["async_client", "client", "instrumented", "kit"]


@pytest.fixture
def kit() -> ModuleType:
    return _together_testkit
