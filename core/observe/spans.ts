/**
 * nightjar's spans. A run is a span; each batch is a trace of its own (a batch may be retried hours
 * later) whose root span links to the span of the run that queued it, and that run's span links to
 * what triggered it (an API request or a schedule slot). Only a W3C `traceparent` crosses Redis.
 *
 * The phases of a batch stream through one another (a chunk is parsed, mapped and validated and sent to
 * the store while the next one is read), so the batch has one span for all of that, `read, parse, map,
 * load`, with the counts as attributes, between `claim` and `publish` (and `settle`, the input moved).
 */
import {
  context,
  propagation,
  trace,
  SpanStatusCode,
  type Attributes,
  type Link,
  type Span,
  type SpanContext,
} from '@opentelemetry/api';

export const tracer = () => trace.getTracer('nightjar');

/** The `traceparent` of the active span, if any (and if tracing is on). */
export function currentTraceparent(): string | undefined {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent;
}

/** A link to the span a `traceparent` names. */
export function linkTo(traceparent: string | undefined): Link[] {
  if (!traceparent) return [];
  const sc: SpanContext | undefined = trace.getSpanContext(
    propagation.extract(context.active(), { traceparent }),
  );
  return sc && trace.isSpanContextValid(sc) ? [{ context: sc }] : [];
}

/** Runs `fn` in a new span (a new trace when `root`), ending it with the outcome. */
export async function inSpan<T>(
  name: string,
  options: { root?: boolean; links?: Link[]; attributes?: Attributes },
  fn: (span: Span) => Promise<T>,
): Promise<T> {
  return tracer().startActiveSpan(
    name,
    {
      ...(options.root ? { root: true } : {}),
      links: options.links ?? [],
      attributes: options.attributes ?? {},
    },
    async (span) => {
      try {
        const out = await fn(span);
        span.setStatus({ code: SpanStatusCode.OK });
        return out;
      } catch (err) {
        span.recordException(err as Error);
        span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
        throw err;
      } finally {
        span.end();
      }
    },
  );
}

/**
 * Phase spans of a batch, opened and closed as the pipeline reports its stages (`onStage`): `claim`
 * until the input is open, then `read, parse, map, load` until the counts reconcile, `publish`, `settle`.
 */
export function batchPhases(parent: Span): {
  stage(name: string, detail: Record<string, unknown>): void;
  end(error?: unknown): void;
} {
  const ctx = trace.setSpan(context.active(), parent);
  const open = (name: string) => tracer().startSpan(name, {}, ctx);
  let current: Span | undefined = open('claim');
  const next = (name: string | undefined, attrs: Attributes = {}) => {
    current?.setAttributes(attrs);
    current?.end();
    current = name ? open(name) : undefined;
  };
  const numbers = (d: Record<string, unknown>): Attributes =>
    Object.fromEntries(
      Object.entries(d)
        .filter(([, v]) => typeof v === 'number' || typeof v === 'string')
        .map(([k, v]) => [`nightjar.${k}`, v as number | string]),
    );
  return {
    stage(name, detail) {
      if (name === 'started')
        next('read, parse, map, load', { 'nightjar.attempt': Number(detail.attempt ?? 0) });
      else if (name === 'reconciled') next('publish', numbers(detail));
      else if (name === 'published') next('settle', numbers(detail));
      else if (name === 'settled') next(undefined);
    },
    end(error) {
      if (error && current)
        current.setStatus({ code: SpanStatusCode.ERROR, message: (error as Error).message });
      next(undefined);
    },
  };
}
