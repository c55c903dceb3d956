import { ref } from '../schemas.js';

/** The problem answers every protected route may give. */
export const PROBLEMS = {
  400: ref('Problem'),
  401: ref('Problem'),
  403: ref('Problem'),
  404: ref('Problem'),
  429: ref('Problem'),
  500: ref('Problem'),
} as const;

export const limitQuery = { type: 'integer', minimum: 1, maximum: 500, default: 50 } as const;
