/** How mapping problems are reported: one `MAPPING_INVALID` error naming the file and a JSON pointer. */
import path from 'node:path';
import { NightjarError } from '../errors.js';

/** A file name for messages: relative to the working directory when it lies inside it. */
export function displayPath(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel.split(path.sep).join('/') : file;
}

export function mappingInvalid(file: string, pointer: string, message: string): NightjarError {
  const shown = displayPath(file);
  return new NightjarError('MAPPING_INVALID', `${shown}: ${pointer === '' ? '/' : pointer}: ${message}`, {
    details: { file: shown, pointer, reason: message },
  });
}

/** Appends reference tokens to a JSON pointer (RFC 6901 escaping). */
export function pointerJoin(base: string, ...tokens: (string | number)[]): string {
  let out = base;
  for (const t of tokens) out += '/' + String(t).replace(/~/g, '~0').replace(/\//g, '~1');
  return out;
}

function distance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0] ?? 0;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = prev[j] ?? 0;
      const cost = a[i - 1]?.toLowerCase() === b[j - 1]?.toLowerCase() ? 0 : 1;
      prev[j] = Math.min(above + 1, (prev[j - 1] ?? 0) + 1, diag + cost);
      diag = above;
    }
  }
  return prev[b.length] ?? 0;
}

/** ` (did you mean "x"?)` for the closest candidate, or `''` when nothing is close. */
export function didYouMean(name: string, candidates: Iterable<string>): string {
  let best = '';
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = distance(name, c);
    if (d < bestDistance && d < Math.min(name.length, c.length)) {
      best = c;
      bestDistance = d;
    }
  }
  return bestDistance <= Math.max(2, Math.floor(name.length / 3))
    ? ` (did you mean ${JSON.stringify(best)}?)`
    : '';
}
