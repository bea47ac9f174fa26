"""Attribute names: the OpenTelemetry GenAI semantic conventions (v1.41) and tracepond's own.

Every module that writes or reads a span attribute takes its name from here, so the autologgers,
the exporters and the store agree on one spelling.
"""

from __future__ import annotations

# --- OpenTelemetry GenAI semantic conventions ------------------------------------------------
GEN_AI_OPERATION_NAME = "gen_ai.operation.name"
GEN_AI_PROVIDER_NAME = "gen_ai.provider.name"
GEN_AI_SYSTEM = "gen_ai.system"  # the older name of gen_ai.provider.name; read, never written
GEN_AI_REQUEST_MODEL = "gen_ai.request.model"
GEN_AI_REQUEST_MAX_TOKENS = "gen_ai.request.max_tokens"
GEN_AI_REQUEST_TEMPERATURE = "gen_ai.request.temperature"
GEN_AI_REQUEST_TOP_P = "gen_ai.request.top_p"
GEN_AI_REQUEST_TOP_K = "gen_ai.request.top_k"
GEN_AI_REQUEST_STOP_SEQUENCES = "gen_ai.request.stop_sequences"
GEN_AI_REQUEST_FREQUENCY_PENALTY = "gen_ai.request.frequency_penalty"
GEN_AI_REQUEST_PRESENCE_PENALTY = "gen_ai.request.presence_penalty"
GEN_AI_REQUEST_SEED = "gen_ai.request.seed"
GEN_AI_REQUEST_CHOICE_COUNT = "gen_ai.request.choice.count"
GEN_AI_REQUEST_ENCODING_FORMATS = "gen_ai.request.encoding_formats"
GEN_AI_REQUEST_STREAM = "gen_ai.request.stream"
GEN_AI_OUTPUT_TYPE = "gen_ai.output.type"
GEN_AI_RESPONSE_MODEL = "gen_ai.response.model"
GEN_AI_RESPONSE_ID = "gen_ai.response.id"
GEN_AI_RESPONSE_FINISH_REASONS = "gen_ai.response.finish_reasons"
GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK = "gen_ai.response.time_to_first_chunk"
GEN_AI_USAGE_INPUT_TOKENS = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
GEN_AI_USAGE_CACHE_READ_INPUT_TOKENS = "gen_ai.usage.cache_read.input_tokens"
GEN_AI_USAGE_CACHE_CREATION_INPUT_TOKENS = "gen_ai.usage.cache_creation.input_tokens"
GEN_AI_USAGE_REASONING_OUTPUT_TOKENS = "gen_ai.usage.reasoning.output_tokens"
GEN_AI_INPUT_MESSAGES = "gen_ai.input.messages"
GEN_AI_OUTPUT_MESSAGES = "gen_ai.output.messages"
GEN_AI_SYSTEM_INSTRUCTIONS = "gen_ai.system_instructions"
GEN_AI_TOOL_DEFINITIONS = "gen_ai.tool.definitions"
GEN_AI_CONVERSATION_ID = "gen_ai.conversation.id"
GEN_AI_EMBEDDINGS_DIMENSION_COUNT = "gen_ai.embeddings.dimension.count"
# Agent and tool spans (invoke_agent, execute_tool), as agent frameworks report them.
GEN_AI_AGENT_NAME = "gen_ai.agent.name"
GEN_AI_TOOL_NAME = "gen_ai.tool.name"
GEN_AI_TOOL_TYPE = "gen_ai.tool.type"  # 'function' | 'extension' | 'datastore'
GEN_AI_TOOL_DESCRIPTION = "gen_ai.tool.description"
GEN_AI_TOOL_CALL_ID = "gen_ai.tool.call.id"
GEN_AI_TOOL_CALL_ARGUMENTS = "gen_ai.tool.call.arguments"  # content
GEN_AI_TOOL_CALL_RESULT = "gen_ai.tool.call.result"  # content
SERVER_ADDRESS = "server.address"
SERVER_PORT = "server.port"
ERROR_TYPE = "error.type"
HTTP_RESPONSE_STATUS_CODE = "http.response.status_code"
GEN_AI_TOKEN_TYPE = "gen_ai.token.type"  # metric attribute: 'input' | 'output'
AWS_BEDROCK_GUARDRAIL_ID = (
    "aws.bedrock.guardrail.id"  # the guardrailIdentifier a Bedrock call ran under
)

# Attributes that carry message content: exported over OTLP only when the user opts in.
GEN_AI_CONTENT_ATTRIBUTES = frozenset(
    {
        GEN_AI_INPUT_MESSAGES,
        GEN_AI_OUTPUT_MESSAGES,
        GEN_AI_SYSTEM_INSTRUCTIONS,
        GEN_AI_TOOL_CALL_ARGUMENTS,
        GEN_AI_TOOL_CALL_RESULT,
    }
)

# --- tracepond's own -------------------------------------------------------------------------
# 'CHAT_MODEL', 'LLM', 'EMBEDDING', 'TOOL', ... (SpanType). Absent means: the type mapped from
# gen_ai.operation.name (span_types.OPERATION_SPAN_TYPES), else 'UNKNOWN'; @trace leaves it out
# for UNKNOWN because every start attribute costs the SDK microseconds per span.
SPAN_TYPE = "tracepond.span_type"
INPUTS = "tracepond.inputs"  # JSON text, already serialized, capped and redacted
OUTPUTS = "tracepond.outputs"  # JSON text, already serialized, capped and redacted
RUN_ID = "tracepond.run_id"
EXPERIMENT_ID = "tracepond.experiment_id"
MODEL_ID = "tracepond.model_id"
SESSION_ID = "tracepond.session_id"
USER_ID = "tracepond.user_id"
TAGS = "tracepond.tags"  # JSON object text, merged across a trace's spans (later wins)
METADATA = "tracepond.metadata"  # JSON object text, merged like tags
COST_USD = "tracepond.cost.usd"  # float, dollars
COST_SOURCE = "tracepond.cost.source"  # where the price came from: 'builtin:openai@2026-11', 'user'
USAGE_SOURCE = "tracepond.usage.source"  # 'provider', 'stream_options', 'x_groq', 'headers'
STREAM_OUTCOME = (
    "tracepond.stream.outcome"  # how a stream ended: complete|stopped|closed|abandoned|error
)
CONTENT_DROPPED = "tracepond.content.dropped"  # True when the redaction hook dropped content
TRUNCATED = "tracepond.truncated"  # True when an input or output hit the size cap
# The prompt a span loaded (tracepond.load_prompt inside a trace): the last one's name and
# version, and every one it loaded as "name/version" strings; the store links them to the trace.
PROMPT_NAME = "tracepond.prompt.name"
PROMPT_VERSION = "tracepond.prompt.version"  # int
PROMPTS = "tracepond.prompts"  # sequence of "name/version"

# Content attributes of tracepond's own (inputs/outputs), treated like GEN_AI_CONTENT_ATTRIBUTES.
CONTENT_ATTRIBUTES = GEN_AI_CONTENT_ATTRIBUTES | {INPUTS, OUTPUTS}

# Trace-level attributes: update_current_trace writes them; the store folds them into `traces`.
TRACE_LEVEL_ATTRIBUTES = frozenset({SESSION_ID, USER_ID, TAGS, METADATA})
