/**
 * Every error the server answers is an RFC 9457 problem (`application/problem+json`) carrying
 * nightjar's error code, whether it came from a use case, request validation, auth or a rate limit.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ERROR_CODES, NightjarError, errorText, isNightjarError, type ErrorCode } from '../core/errors.js';

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  instance: string;
  retryable: boolean;
}

const STATUS: Partial<Record<ErrorCode, number>> = {
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  RATE_LIMITED: 429,
  REQUEST_INVALID: 400,
  CONFIG_INVALID: 400,
  MAPPING_INVALID: 400,
  INPUT_TOO_LARGE: 413,
  INPUT_NOT_FOUND: 404,
  INPUT_CONFLICT: 409,
  TARGET_UNAVAILABLE: 503,
  TARGET_BUSY: 503,
  SOURCE_UNAVAILABLE: 503,
};

export const PROBLEM_SCHEMA = {
  $id: 'Problem',
  type: 'object',
  description: 'An RFC 9457 problem with the nightjar error code.',
  required: ['type', 'title', 'status', 'detail', 'code'],
  properties: {
    type: { type: 'string', description: 'urn:nightjar:error:<code>' },
    title: { type: 'string' },
    status: { type: 'integer' },
    detail: { type: 'string' },
    code: { type: 'string', description: 'nightjar error code (README "Errors")' },
    instance: { type: 'string' },
    retryable: { type: 'boolean' },
  },
} as const;

export function problemOf(err: NightjarError, instance: string): Problem {
  return {
    type: `urn:nightjar:error:${err.code}`,
    title: ERROR_CODES[err.code].summary,
    status: STATUS[err.code] ?? 500,
    detail: errorText(err.message),
    code: err.code,
    instance,
    retryable: err.retryable,
  };
}

/** Maps Fastify's own errors (validation, body size, content type, 404) onto nightjar codes. */
function asNightjarError(err: FastifyError | Error): NightjarError {
  if (isNightjarError(err)) return err;
  const f = err as FastifyError;
  if (f.validation) return new NightjarError('REQUEST_INVALID', f.message);
  if (f.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return new NightjarError('INPUT_TOO_LARGE', f.message);
  if (f.statusCode === 429) return new NightjarError('RATE_LIMITED', f.message);
  if (f.statusCode === 404) return new NightjarError('NOT_FOUND', f.message);
  if (f.statusCode !== undefined && f.statusCode >= 400 && f.statusCode < 500)
    return new NightjarError('REQUEST_INVALID', f.message);
  return new NightjarError('INTERNAL', 'internal error (see the server log)', { cause: err });
}

export function sendProblem(reply: FastifyReply, request: FastifyRequest, err: NightjarError): FastifyReply {
  const problem = problemOf(err, request.url.split('?')[0] ?? request.url);
  if (problem.status === 401 && !reply.hasHeader('www-authenticate'))
    reply.header('www-authenticate', 'Bearer realm="nightjar"');
  return reply.code(problem.status).type('application/problem+json').send(problem);
}

export function errorHandler(err: FastifyError | Error, request: FastifyRequest, reply: FastifyReply): void {
  const e = asNightjarError(err);
  if (e.code === 'INTERNAL') request.log.error({ err }, 'request failed');
  void sendProblem(reply, request, e);
}

export function notFoundHandler(request: FastifyRequest, reply: FastifyReply): void {
  void sendProblem(
    reply,
    request,
    new NightjarError('NOT_FOUND', `no route ${request.method} ${request.url.split('?')[0]}`),
  );
}
