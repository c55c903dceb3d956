/**
 * JSON Schema of a job definition file (`jobs/*.json`). Published as `schemas/job.schema.json`
 * (`npm run schemas`) so editors complete job files through their `$schema`.
 * Connector-specific options (`source`, `format`) are checked by each connector's own schema.
 */
export const ENV_REF = '^\\$\\{[A-Z_][A-Z0-9_]*(:-[^}]*)?\\}$';

export const jobSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  $id: 'https://nightjar.dev/schemas/job.schema.json',
  title: 'nightjar job',
  description:
    'One nightly feed: where files (or database extracts) come from, how to read and map them, and where they load.',
  type: 'object',
  additionalProperties: false,
  required: ['name', 'source', 'mapping', 'target'],
  properties: {
    $schema: { type: 'string' },
    name: {
      type: 'string',
      pattern: '^[a-z][a-z0-9_-]{0,62}$',
      description: 'Unique job name (lower case, digits, `-`, `_`). Used in queues, logs and the ledger.',
    },
    description: { type: 'string' },
    schedule: {
      type: 'object',
      additionalProperties: false,
      required: ['cron'],
      description: 'When the scheduler fires a run: it looks for new inputs and makes one batch per input.',
      properties: {
        cron: { type: 'string', description: 'Cron expression (5 or 6 fields), e.g. `30 2 * * *`.' },
        timezone: { type: 'string', default: 'UTC', description: 'IANA time zone, e.g. `Europe/Berlin`.' },
        arrivalBy: {
          type: 'string',
          pattern: '^(([01][0-9]|2[0-3]):[0-5][0-9]|[0-9]+(s|m|h|d))$',
          description:
            'Arrival deadline: a wall time in `timezone` (`"02:00"`, the first one at or after the slot) or a ' +
            'duration after the slot (`"90m"`). A run waits for its input until then and ends `missing` without it.',
        },
        businessDayOffset: {
          type: 'integer',
          minimum: -31,
          maximum: 31,
          description:
            "A run's business date is its slot's date in `timezone` plus this many days (`-1`: the day before). Default 0.",
        },
      },
    },
    source: {
      type: 'object',
      required: ['connector'],
      description: 'Where inputs come from. Other properties are the connector’s options.',
      properties: {
        connector: {
          type: 'string',
          description:
            'Registered source connector: `local` (files), or a database extract (`postgres`, `mysql`, `oracle`, `mssql`).',
        },
      },
    },
    format: {
      type: 'object',
      required: ['parser'],
      description:
        'How the bytes are read (file sources only; required there). Other properties are the parser’s options.',
      properties: {
        parser: { type: 'string', description: 'Registered parser, e.g. `csv`, `fixed-width`.' },
      },
    },
    mapping: {
      description: 'Mapping file (relative to this job file), optionally pinned to a version.',
      oneOf: [
        { type: 'string', minLength: 1 },
        {
          type: 'object',
          additionalProperties: false,
          required: ['file'],
          properties: {
            file: { type: 'string', minLength: 1 },
            version: { type: 'string', description: 'Refuse to run unless the mapping has this version.' },
          },
        },
      ],
    },
    businessDate: {
      type: 'object',
      additionalProperties: false,
      minProperties: 1,
      maxProperties: 1,
      description:
        'Where `$meta.businessDate` comes from: a regular expression whose first group is applied to the input ' +
        'name, or a header field of the file. Default: the UTC date the batch started, as YYYYMMDD.',
      properties: {
        fileName: { type: 'string', format: 'regex', description: 'e.g. `_(\\d{8})\\.csv$`' },
        header: { type: 'string', minLength: 1, description: 'Header field name, e.g. `BUSINESS_DATE`.' },
      },
    },
    target: {
      type: 'object',
      additionalProperties: false,
      required: ['connection', 'table'],
      properties: {
        connection: {
          type: 'string',
          pattern: ENV_REF,
          description:
            'Environment reference to the connection URL, e.g. `${WAREHOUSE_URL}` or ' +
            '`${WAREHOUSE_URL:-sqlite:data/warehouse.db}`. URLs are never written in job files.',
        },
        table: {
          type: 'string',
          pattern: '^([a-z_][a-z0-9_]{0,62}\\.)?[a-z_][a-z0-9_]{0,62}$',
          description: 'Target table, optionally schema-qualified (`staging.customers`).',
        },
        mode: {
          enum: ['append', 'replace', 'upsert'],
          default: 'append',
          description:
            '`append`: add the batch’s rows; `replace`: the batch becomes the whole table, atomically; ' +
            '`upsert`: insert or update on the mapping’s key.',
        },
      },
    },
    events: {
      type: 'object',
      additionalProperties: false,
      description: 'Where this job’s outcome events go besides the deployment’s broker.',
      properties: {
        webhooks: {
          type: 'array',
          maxItems: 10,
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['url', 'secretEnv'],
            properties: {
              url: { type: 'string', pattern: '^https?://', description: 'Receives a POST per event.' },
              secretEnv: {
                type: 'string',
                pattern: '^[A-Z_][A-Z0-9_]*$',
                description:
                  'Environment variable holding the signing secret (Standard Webhooks, HMAC-SHA256).',
              },
              types: {
                type: 'array',
                items: {
                  enum: [
                    'batch.published',
                    'batch.dead',
                    'batch.skipped',
                    'run.succeeded',
                    'run.partial',
                    'run.failed',
                    'run.missing',
                  ],
                },
                description: 'Only these event types (default: all).',
              },
            },
          },
        },
      },
    },
    system: {
      type: 'object',
      additionalProperties: false,
      required: ['name'],
      description:
        'The legacy system this job reads from. Batches of every job naming the same system share its limits ' +
        '(across all workers on one Redis); a batch over a limit waits without spending an attempt.',
      properties: {
        name: { type: 'string', pattern: '^[a-z][a-z0-9_-]{0,62}$', description: 'System name, e.g. `crm`.' },
        maxConcurrent: {
          type: 'integer',
          minimum: 1,
          description: 'Most batches running against the system at once. Default: no limit.',
        },
        rate: {
          type: 'object',
          additionalProperties: false,
          required: ['max', 'durationMs'],
          description: 'Most batches started per `durationMs`. Default: no limit.',
          properties: {
            max: { type: 'integer', minimum: 1 },
            durationMs: { type: 'integer', minimum: 1 },
          },
        },
      },
    },
    policy: {
      type: 'object',
      additionalProperties: false,
      default: {},
      properties: {
        attempts: { type: 'integer', minimum: 1, maximum: 100, default: 5 },
        backoff: {
          type: 'object',
          additionalProperties: false,
          default: {},
          properties: {
            type: { enum: ['exponential', 'fixed'], default: 'exponential' },
            delayMs: { type: 'integer', minimum: 0, default: 5000 },
          },
        },
        rejectLimit: {
          type: 'object',
          additionalProperties: false,
          default: {},
          description: 'The batch fails (nothing published) when rejects exceed either limit.',
          properties: {
            count: { type: 'integer', minimum: 0 },
            percent: { type: 'number', minimum: 0, maximum: 100 },
          },
        },
        redelivery: {
          enum: ['replace', 'append'],
          default: 'replace',
          description:
            'An input whose name and business date match a published batch but whose content differs is a ' +
            "re-delivery. `replace`: it is a correction; its publish removes the earlier delivery's rows " +
            '(marked superseded in the ledger). `append`: it loads beside them. The same content is always skipped.',
        },
        limits: {
          type: 'object',
          additionalProperties: false,
          default: {},
          description:
            'What one input may hold. Passing maxBytes, maxRecords or maxLineLength fails the batch at once ' +
            '(INPUT_TOO_LARGE, no retry); a field over maxFieldLength rejects its record (rule maxLength).',
          properties: {
            maxBytes: {
              type: 'integer',
              minimum: 1,
              default: 2147483648,
              description: 'Most bytes after decompression (a compression bomb stops here). Default 2 GiB.',
            },
            maxRecords: {
              type: 'integer',
              minimum: 1,
              default: 100000000,
              description: 'Most records (loaded, rejected and filtered together). Default 100 million.',
            },
            maxLineLength: {
              type: 'integer',
              minimum: 1,
              default: 1048576,
              description:
                'Longest physical line: characters for CSV, bytes for fixed-width without recordLength. Default 1 Mi.',
            },
            maxFieldLength: {
              type: 'integer',
              minimum: 1,
              default: 65536,
              description:
                'Longest field value in characters; a longer one rejects its record. Default 64 Ki.',
            },
          },
        },
      },
    },
  },
} as const;
