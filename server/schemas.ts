/**
 * JSON Schemas of what the API answers. They are the OpenAPI document's components, Fastify serializes
 * responses through them (a property not listed is never sent: no paths or secrets slip out), and the
 * contract tests validate every response against them.
 */
const str = { type: 'string' } as const;
const int = { type: 'integer' } as const;
const nstr = { type: ['string', 'null'] } as const;
const time = { type: 'string', format: 'date-time' } as const;
const ntime = { type: ['string', 'null'], format: 'date-time' } as const;

export const BATCH_STATUSES = ['running', 'published', 'failed', 'dead', 'skipped', 'superseded'] as const;

export const Batch = {
  $id: 'Batch',
  type: 'object',
  required: [
    'batchId',
    'job',
    'status',
    'rowsRead',
    'rowsLoaded',
    'rowsRejected',
    'rowsFiltered',
    'attempts',
  ],
  properties: {
    batchId: str,
    job: str,
    status: { type: 'string', enum: BATCH_STATUSES },
    sourceName: nstr,
    fileSize: { type: ['integer', 'null'] },
    fileSha256: nstr,
    businessDate: nstr,
    mappingName: nstr,
    mappingVersion: nstr,
    targetTable: nstr,
    rowsRead: int,
    rowsLoaded: int,
    rowsRejected: int,
    rowsFiltered: int,
    attempts: int,
    errorCode: nstr,
    error: nstr,
    forced: { type: 'boolean' },
    supersededBy: nstr,
    createdAt: time,
    startedAt: ntime,
    finishedAt: ntime,
    store: { type: 'string', description: 'The target store (password redacted).' },
  },
} as const;

export const Run = {
  $id: 'Run',
  type: 'object',
  required: ['runId', 'job', 'slot', 'businessDate', 'trigger', 'status'],
  properties: {
    runId: str,
    job: str,
    slot: str,
    businessDate: str,
    trigger: { type: 'string', enum: ['schedule', 'manual', 'backfill', 'catch-up'] },
    requestedBy: str,
    status: { type: 'string', enum: ['running', 'succeeded', 'failed', 'missing', 'partial'] },
    batchesTotal: int,
    batchesSucceeded: int,
    batchesFailed: int,
    rowsLoaded: int,
    error: nstr,
    batchIds: { type: 'array', items: str },
    createdAt: time,
    finishedAt: ntime,
  },
} as const;

export const RunStarted = {
  $id: 'RunStarted',
  type: 'object',
  required: ['runId', 'job', 'slot', 'businessDate', 'status'],
  properties: {
    runId: str,
    job: str,
    slot: str,
    businessDate: str,
    status: { type: 'string', enum: ['started', 'exists'] },
    arrivalBy: str,
  },
} as const;

export const Job = {
  $id: 'Job',
  type: 'object',
  required: ['name', 'source', 'mapping', 'target'],
  properties: {
    name: str,
    description: nstr,
    source: str,
    format: nstr,
    mapping: str,
    target: {
      type: 'object',
      required: ['store', 'table', 'mode'],
      properties: { store: str, table: str, mode: str },
    },
    schedule: {
      type: ['object', 'null'],
      properties: { cron: str, timezone: str, next: nstr },
    },
    system: nstr,
  },
} as const;

const fieldError = {
  type: 'object',
  properties: { field: str, rule: str, message: str, value: {} },
} as const;

export const Reject = {
  $id: 'Reject',
  type: 'object',
  required: ['line', 'raw', 'errors'],
  properties: { line: int, raw: str, errors: { type: 'array', items: fieldError } },
} as const;

export const DeadLetter = {
  $id: 'DeadLetter',
  type: 'object',
  required: ['id', 'kind', 'job', 'errorCode', 'error', 'attempts', 'failedAt'],
  properties: {
    id: str,
    kind: { type: 'string', enum: ['batch', 'run'] },
    job: str,
    batchId: nstr,
    runId: nstr,
    input: str,
    errorCode: str,
    error: str,
    attempts: int,
    failedAt: str,
    audit: {
      type: 'array',
      items: {
        type: 'object',
        properties: { at: time, actor: str, action: str, batchId: nstr, runId: nstr, detail: nstr },
      },
    },
  },
} as const;

export const Preview = {
  $id: 'Preview',
  type: 'object',
  required: ['mapping', 'rows', 'summary'],
  properties: {
    mapping: { type: 'object', properties: { name: str, version: str } },
    rows: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          line: int,
          raw: str,
          status: { type: 'string', enum: ['loaded', 'rejected', 'filtered', 'unparseable'] },
          record: { type: 'object', additionalProperties: nstr },
          values: { type: 'object', additionalProperties: true },
          errors: { type: 'array', items: fieldError },
        },
      },
    },
    summary: {
      type: 'object',
      properties: { rows: int, loaded: int, rejected: int, filtered: int, unparseable: int },
    },
  },
} as const;

export const SHARED_SCHEMAS = [Batch, Run, RunStarted, Job, Reject, DeadLetter, Preview] as const;

export const ref = (id: (typeof SHARED_SCHEMAS)[number]['$id'] | 'Problem') => ({ $ref: `${id}#` }) as const;
