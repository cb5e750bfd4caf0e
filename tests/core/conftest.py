from __future__ import annotations

from collections.abc import Iterator

import pytest

from synapsekit.testing import CallRecorder

# The name the core tests use for it.
RecordingSink = CallRecorder


@pytest.fixture
def sink() -> Iterator[CallRecorder]:
    with CallRecorder() as recorder:
        yield recorder
