// Every span attribute name llmroute writes, in one place. The GenAI names follow the OpenTelemetry
// semantic conventions, which the published package marks experimental (they may be renamed in a
// minor release), so they are pinned here as plain strings rather than imported.

/** GenAI semantic conventions (gen_ai.*), as of semantic-conventions 1.38. */
export const GEN_AI = {
  OPERATION_NAME: 'gen_ai.operation.name',
  PROVIDER_NAME: 'gen_ai.provider.name',
  REQUEST_MODEL: 'gen_ai.request.model',
  REQUEST_STREAM: 'gen_ai.request.stream',
  REQUEST_MAX_TOKENS: 'gen_ai.request.max_tokens',
  REQUEST_TEMPERATURE: 'gen_ai.request.temperature',
  REQUEST_TOP_P: 'gen_ai.request.top_p',
  REQUEST_STOP_SEQUENCES: 'gen_ai.request.stop_sequences',
  REQUEST_FREQUENCY_PENALTY: 'gen_ai.request.frequency_penalty',
  REQUEST_PRESENCE_PENALTY: 'gen_ai.request.presence_penalty',
  REQUEST_CHOICE_COUNT: 'gen_ai.request.choice.count',
  REQUEST_SEED: 'gen_ai.request.seed',
  OUTPUT_TYPE: 'gen_ai.output.type',
  RESPONSE_ID: 'gen_ai.response.id',
  RESPONSE_MODEL: 'gen_ai.response.model',
  RESPONSE_FINISH_REASONS: 'gen_ai.response.finish_reasons',
  USAGE_INPUT_TOKENS: 'gen_ai.usage.input_tokens',
  USAGE_OUTPUT_TOKENS: 'gen_ai.usage.output_tokens',
  USAGE_CACHE_READ_INPUT_TOKENS: 'gen_ai.usage.cache_read.input_tokens',
  USAGE_CACHE_CREATION_INPUT_TOKENS: 'gen_ai.usage.cache_creation.input_tokens',
  USAGE_REASONING_OUTPUT_TOKENS: 'gen_ai.usage.reasoning.output_tokens',
  /** Seconds from the attempt's start to its first streamed chunk. */
  RESPONSE_TIME_TO_FIRST_CHUNK: 'gen_ai.response.time_to_first_chunk',
  /** Opt-in content attributes: written only when the namespace policy allows prompt logging and capture is opted into. */
  INPUT_MESSAGES: 'gen_ai.input.messages',
  OUTPUT_MESSAGES: 'gen_ai.output.messages',
} as const;

/** Stable general and HTTP conventions. */
export const SEMCONV = {
  SERVER_ADDRESS: 'server.address',
  SERVER_PORT: 'server.port',
  ERROR_TYPE: 'error.type',
  HTTP_REQUEST_METHOD: 'http.request.method',
  HTTP_ROUTE: 'http.route',
  HTTP_RESPONSE_STATUS_CODE: 'http.response.status_code',
  SERVICE_NAME: 'service.name',
  SERVICE_VERSION: 'service.version',
  K8S_NAMESPACE_NAME: 'k8s.namespace.name',
  K8S_POD_NAME: 'k8s.pod.name',
} as const;

/** llmroute's own attributes. */
export const LLMROUTE = {
  REQUEST_ID: 'llmroute.request_id',
  ROUTE: 'llmroute.route',
  BACKEND: 'llmroute.backend',
  ATTEMPT: 'llmroute.attempt',
  ATTEMPT_REASON: 'llmroute.attempt.reason',
  ATTEMPTS: 'llmroute.attempts',
  STREAM: 'llmroute.stream',
  COST_USD: 'llmroute.cost_usd',
  COST_KNOWN: 'llmroute.cost_known',
  PARTIAL: 'llmroute.response.partial',
  POLICY_DECISION: 'llmroute.policy.decision',
  POLICY_DENIED_BACKENDS: 'llmroute.policy.denied_backends',
  ERROR_CODE: 'llmroute.error_code',
} as const;
