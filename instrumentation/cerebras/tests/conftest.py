"""Fixtures: the real cerebras-cloud-sdk SDK pointed at the local server over HTTP, the instrumentation on/off.

The fixtures are the shared chat suite's (``compatible_chat_suite``), told of the SDK by ``kit``.
"""

from __future__ import annotations

from types import ModuleType

import _cerebras_testkit
import pytest
from compatible_chat_suite import async_client, client, instrumented

__all__ = ["async_client", "client", "instrumented", "kit"]


@pytest.fixture
def kit() -> ModuleType:
    return _cerebras_testkit
