"""Public names of ``synapsekit.plugin``, listed once (see :mod:`synapsekit._core.lazy`)."""

from synapsekit._core.call import LLMCall as LLMCall, current_call as current_call, start_call as start_call
from synapsekit._core.config import capture_content as capture_content, redactor as redactor
from synapsekit._core.errors import is_strict as is_strict, report_internal_error as report_internal_error
from synapsekit._core.exceptions import BudgetExceeded as BudgetExceeded
from synapsekit._core.prompt import PromptParts as PromptParts
from synapsekit._core.reaper import abandon_when_collected as abandon_when_collected
from synapsekit._core.streams import (
    AsyncStreamProxy as AsyncStreamProxy,
    StreamReader as StreamReader,
    SyncStreamProxy as SyncStreamProxy,
)
from synapsekit._instrumenting.instrumentor import (
    InstrumentationError as InstrumentationError,
    Instrumentor as Instrumentor,
)
from synapsekit._instrumenting.patching import (
    is_synapsekit_wrapper as is_synapsekit_wrapper,
    unwrap_method as unwrap_method,
    wrap_method as wrap_method,
)
