/**
 * A TCP proxy (node `net`) in front of a store, for fault scenarios: it counts what clients send, can
 * cut every live connection on demand, and can run a hook when a client sends a given byte pattern
 * (e.g. the publish's `COMMIT` after a `COPY` on the same connection) — before or after forwarding it.
 */
import { once } from 'node:events';
import net from 'node:net';

export interface ProxyConnection {
  readonly id: number;
  readonly client: net.Socket;
  readonly server: net.Socket;
  /** Bytes the client sent so far. */
  sent: number;
  /** Everything the client sent on this connection is scanned here (as latin1) for triggers. */
  sawCopy: boolean;
  /** Drop what the server answers from now on (the client never sees the reply). */
  blackhole: boolean;
}

export interface Trigger {
  /** Fires on the first client chunk that matches, on a connection where `COPY` was seen if `afterCopy`. */
  readonly match: RegExp;
  readonly afterCopy?: boolean;
  /** `before`: the chunk is held until the action resolves, then forwarded unless the socket is gone. */
  readonly when: 'before' | 'after';
  readonly action: (conn: ProxyConnection) => Promise<void> | void;
}

export interface CuttingProxy {
  readonly port: number;
  readonly connections: ReadonlySet<ProxyConnection>;
  /** Total bytes clients sent through the proxy. */
  readonly bytesSent: number;
  /** Destroys both sides of every live connection (or of the given one). Returns how many were cut. */
  cut(conn?: ProxyConnection): number;
  /** Arms a one-shot trigger; resolves when it fired. */
  arm(trigger: Trigger): Promise<ProxyConnection>;
  close(): Promise<void>;
}

export async function startProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<CuttingProxy> {
  const connections = new Set<ProxyConnection>();
  let bytesSent = 0;
  let nextId = 1;
  const triggers: { t: Trigger; resolve: (c: ProxyConnection) => void }[] = [];

  const server = net.createServer((client) => {
    client.pause();
    const upstream = net.connect(targetPort, targetHost);
    const conn: ProxyConnection = {
      id: nextId++,
      client,
      server: upstream,
      sent: 0,
      sawCopy: false,
      blackhole: false,
    };
    connections.add(conn);
    const drop = (): void => {
      connections.delete(conn);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop);
    upstream.on('error', drop);
    client.on('close', drop);
    upstream.on('close', drop);
    upstream.on('connect', () => client.resume());
    upstream.on('data', (d: Buffer) => {
      if (!conn.blackhole && !client.destroyed) client.write(d);
    });
    // Client → server goes through a sequential chain, so a held chunk keeps the order of the rest.
    let chain = Promise.resolve();
    client.on('data', (d: Buffer) => {
      chain = chain.then(() => forward(conn, d)).catch(() => drop());
    });
  });

  async function forward(conn: ProxyConnection, d: Buffer): Promise<void> {
    if (conn.client.destroyed || conn.server.destroyed) return;
    conn.sent += d.length;
    bytesSent += d.length;
    const text = d.toString('latin1');
    if (!conn.sawCopy && /COPY /.test(text)) conn.sawCopy = true;
    const fired = triggers.findIndex(({ t }) => t.match.test(text) && (!t.afterCopy || conn.sawCopy));
    const hit = fired === -1 ? undefined : triggers.splice(fired, 1)[0];
    if (hit?.t.when === 'before') {
      await hit.t.action(conn);
      hit.resolve(conn);
    }
    if (!conn.server.destroyed) conn.server.write(d);
    if (hit?.t.when === 'after') {
      await hit.t.action(conn);
      hit.resolve(conn);
    }
  }

  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  return {
    port,
    connections,
    get bytesSent() {
      return bytesSent;
    },
    cut(conn) {
      const victims = conn ? [conn] : [...connections];
      for (const c of victims) {
        connections.delete(c);
        c.client.destroy();
        c.server.destroy();
      }
      return victims.length;
    },
    arm(t) {
      return new Promise((resolve) => triggers.push({ t, resolve }));
    },
    async close() {
      for (const c of connections) {
        c.client.destroy();
        c.server.destroy();
      }
      connections.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
