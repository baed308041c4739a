// Every error the simulator returns, in the envelope vLLM's OpenAI server uses:
// {"error": {"message", "type", "param", "code"}} with `code` the HTTP status
// (vllm/entrypoints/openai/engine/serving.py create_error_response).

const TYPE_BY_STATUS: Readonly<Record<number, string>> = {
  400: 'BadRequestError',
  401: 'AuthenticationError',
  403: 'PermissionDeniedError',
  404: 'NotFoundError',
  408: 'TimeoutError',
  409: 'ConflictError',
  413: 'BadRequestError',
  415: 'BadRequestError',
  422: 'UnprocessableEntityError',
  429: 'RateLimitError',
  500: 'InternalServerError',
  502: 'BadGatewayError',
  503: 'ServiceUnavailableError',
  504: 'GatewayTimeoutError',
};

export class SimulatorError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly param: string | null = null,
    readonly type: string = TYPE_BY_STATUS[status] ?? (status >= 500 ? 'InternalServerError' : 'BadRequestError'),
  ) {
    super(message);
  }

  toJSON(): { error: { message: string; type: string; param: string | null; code: number } } {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.status } };
  }
}

export function badRequest(param: string | null, message: string): SimulatorError {
  return new SimulatorError(400, message, param);
}

/** vLLM's answer to a model it does not serve. */
export function unknownModel(model: string): SimulatorError {
  return new SimulatorError(404, `The model \`${model}\` does not exist.`, 'model');
}
