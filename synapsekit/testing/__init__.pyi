"""Public names of ``synapsekit.testing``, listed once (see :mod:`synapsekit._core.lazy`)."""

from synapsekit.testing._gc import collect_garbage as collect_garbage
from synapsekit.testing._otlp import (
    OTLPReceiver as OTLPReceiver,
    ReceivedDataPoint as ReceivedDataPoint,
    ReceivedEvent as ReceivedEvent,
    ReceivedMetric as ReceivedMetric,
    ReceivedRequest as ReceivedRequest,
    ReceivedSpan as ReceivedSpan,
)
from synapsekit.testing._recorder import CallRecorder as CallRecorder
from synapsekit.testing._server import LLMTestServer as LLMTestServer, RecordedRequest as RecordedRequest
from synapsekit.testing._span_capture import install_global_span_capture as install_global_span_capture
from synapsekit.testing._text import SENTENCE as SENTENCE, completion_text as completion_text
