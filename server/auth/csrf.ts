/**
 * CSRF defence for cookie-authenticated writes: the request must come from the server's own origin
 * (`Origin`, or `Sec-Fetch-Site: same-origin` from browsers that send no Origin). The session cookie is
 * SameSite=Lax besides. Bull Board's UI sends its own fetch requests, so a token header is no option;
 * an Origin check is what OWASP names for this case.
 */
import type { FastifyRequest } from 'fastify';
import { NightjarError } from '../../core/errors.js';

export function csrfCheck(publicUrl: string): (request: FastifyRequest) => void {
  const origin = new URL(publicUrl).origin;
  return (request) => {
    const sent = request.headers.origin;
    if (sent !== undefined) {
      if (sent === origin) return;
      throw new NightjarError('FORBIDDEN', `cross-site request refused (Origin ${sent} is not ${origin})`);
    }
    if (request.headers['sec-fetch-site'] === 'same-origin') return;
    throw new NightjarError(
      'FORBIDDEN',
      'cross-site request refused (no Origin header on a cookie-authenticated write)',
    );
  };
}
