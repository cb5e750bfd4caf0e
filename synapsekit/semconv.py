"""Every span attribute, event and metric name synapsekit emits, in one place.

Names under ``gen_ai.*`` follow the OpenTelemetry GenAI semantic conventions. Names under
``synapsekit.*`` and ``gen_ai.usage.cost`` are synapsekit's extensions (the conventions define no cost
attribute yet); ``gen_ai.usage.cost`` is in USD.
"""

from __future__ import annotations

from typing import Final

# -- GenAI semantic conventions ---------------------------------------------------------------------------
GEN_AI_OPERATION_NAME: Final = "gen_ai.operation.name"
GEN_AI_PROVIDER_NAME: Final = "gen_ai.provider.name"
GEN_AI_REQUEST_MODEL: Final = "gen_ai.request.model"
GEN_AI_REQUEST_MAX_TOKENS: Final = "gen_ai.request.max_tokens"
GEN_AI_REQUEST_TEMPERATURE: Final = "gen_ai.request.temperature"
GEN_AI_REQUEST_TOP_P: Final = "gen_ai.request.top_p"
GEN_AI_REQUEST_TOP_K: Final = "gen_ai.request.top_k"
GEN_AI_REQUEST_SEED: Final = "gen_ai.request.seed"
GEN_AI_REQUEST_STOP_SEQUENCES: Final = "gen_ai.request.stop_sequences"
GEN_AI_REQUEST_FREQUENCY_PENALTY: Final = "gen_ai.request.frequency_penalty"
GEN_AI_REQUEST_PRESENCE_PENALTY: Final = "gen_ai.request.presence_penalty"
GEN_AI_REQUEST_CHOICE_COUNT: Final = "gen_ai.request.choice.count"
GEN_AI_REQUEST_STREAM: Final = "gen_ai.request.stream"
GEN_AI_OUTPUT_TYPE: Final = "gen_ai.output.type"
GEN_AI_RESPONSE_MODEL: Final = "gen_ai.response.model"
GEN_AI_RESPONSE_ID: Final = "gen_ai.response.id"
GEN_AI_RESPONSE_FINISH_REASONS: Final = "gen_ai.response.finish_reasons"
GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK: Final = "gen_ai.response.time_to_first_chunk"  # seconds
GEN_AI_USAGE_INPUT_TOKENS: Final = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS: Final = "gen_ai.usage.output_tokens"
GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS: Final = "gen_ai.usage.cache_read.input_tokens"
GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS: Final = "gen_ai.usage.cache_creation.input_tokens"
GEN_AI_USAGE_REASONING_OUTPUT_TOKENS: Final = "gen_ai.usage.reasoning.output_tokens"
GEN_AI_INPUT_MESSAGES: Final = "gen_ai.input.messages"
GEN_AI_OUTPUT_MESSAGES: Final = "gen_ai.output.messages"
GEN_AI_TOKEN_TYPE: Final = "gen_ai.token.type"
# Written by the anthropic SDK on its own spans for what the conventions call cache_creation; on a span
# synapsekit adopts it is renamed to GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS (one name per quantity).
ANTHROPIC_SDK_CACHE_WRITE_INPUT_TOKENS: Final = "gen_ai.usage.cache_write.input_tokens"
# OpenAI-specific attributes of the conventions.
OPENAI_REQUEST_SERVICE_TIER: Final = "openai.request.service_tier"
OPENAI_RESPONSE_SERVICE_TIER: Final = "openai.response.service_tier"
OPENAI_RESPONSE_SYSTEM_FINGERPRINT: Final = "openai.response.system_fingerprint"
SERVER_ADDRESS: Final = "server.address"
SERVER_PORT: Final = "server.port"
ERROR_TYPE: Final = "error.type"

# -- synapsekit extensions --------------------------------------------------------------------------------
GEN_AI_USAGE_COST: Final = "gen_ai.usage.cost"  # USD
SYNAPSEKIT_COST_UNKNOWN: Final = "synapsekit.cost.unknown"
SYNAPSEKIT_USAGE_ESTIMATED: Final = "synapsekit.usage.estimated"
# Before the conventions named them, spans carried these; now GEN_AI_REQUEST_STREAM and
# GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK. Kept as names only, so that code reading old spans still imports.
SYNAPSEKIT_STREAMED: Final = "synapsekit.streamed"
SYNAPSEKIT_TIME_TO_FIRST_CHUNK: Final = "synapsekit.time_to_first_chunk_s"
SYNAPSEKIT_COMPONENT: Final = "synapsekit.component"
SYNAPSEKIT_INPUT: Final = "synapsekit.input"
SYNAPSEKIT_OUTPUT: Final = "synapsekit.output"
SYNAPSEKIT_FUNCTION_ARGUMENTS: Final = "synapsekit.function.arguments"
SYNAPSEKIT_FUNCTION_RESULT: Final = "synapsekit.function.result"
# A budgeted call's span: its reservation, and the tightest budget in scope with what it had left after.
SYNAPSEKIT_BUDGET_NAME: Final = "synapsekit.budget.name"
SYNAPSEKIT_BUDGET_RESERVED_USD: Final = "synapsekit.budget.reserved_usd"
SYNAPSEKIT_BUDGET_REMAINING_USD: Final = "synapsekit.budget.remaining_usd"
# On the span of a request that arrived with a propagated budget: its id, and "joined" or why not.
SYNAPSEKIT_BUDGET_ID: Final = "synapsekit.budget.id"
SYNAPSEKIT_BUDGET_JOIN: Final = "synapsekit.budget.join"

# -- span events -------------------------------------------------------------------------------------------
EVENT_FIRST_CHUNK: Final = "gen_ai.first_chunk"
EVENT_BUDGET_RESERVED: Final = "synapsekit.budget.reserved"
EVENT_BUDGET_SETTLED: Final = "synapsekit.budget.settled"
EVENT_BUDGET_REJECTED: Final = "synapsekit.budget.rejected"
EVENT_BUDGET_EXCEEDED: Final = "synapsekit.budget.exceeded"

# -- OpenTelemetry GenAI metrics -----------------------------------------------------------------------------
METRIC_GEN_AI_TOKEN_USAGE: Final = "gen_ai.client.token.usage"
METRIC_GEN_AI_OPERATION_DURATION: Final = "gen_ai.client.operation.duration"
METRIC_GEN_AI_TIME_TO_FIRST_CHUNK: Final = "gen_ai.client.operation.time_to_first_chunk"
METRIC_GEN_AI_TIME_PER_OUTPUT_CHUNK: Final = "gen_ai.client.operation.time_per_output_chunk"

# -- Prometheus metric names (without the namespace prefix) ----------------------------------------------------
PROM_COST_USD_TOTAL: Final = "cost_usd_total"
PROM_TOKENS_TOTAL: Final = "tokens_total"
PROM_LATENCY_SECONDS: Final = "latency_seconds"
PROM_TOKENS_BY_TYPE_TOTAL: Final = "tokens_by_type_total"
PROM_REQUESTS_TOTAL: Final = "requests_total"
PROM_ERRORS_TOTAL: Final = "errors_total"
PROM_TIME_TO_FIRST_CHUNK_SECONDS: Final = "time_to_first_chunk_seconds"
PROM_UNKNOWN_COST_CALLS_TOTAL: Final = "unknown_cost_calls_total"
PROM_BUDGET_REMAINING_USD: Final = "budget_remaining_usd"
PROM_BUDGET_REJECTIONS_TOTAL: Final = "budget_rejections_total"
PROM_BUDGET_SPENT_USD_TOTAL: Final = "budget_spent_usd_total"
