/**
 * What `deploy/` ships is checked: the Kubernetes manifests against the API schemas of Kubernetes 1.27
 * (kubernetes-models 4.5.1), the Prometheus alert rules with promtool and, like the Grafana dashboard,
 * for naming only metrics nightjar exports, and the commands the manifests run.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { Service } from 'kubernetes-models/v1/Service';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Secret } from 'kubernetes-models/v1/Secret';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments, parse } from 'yaml';
import { createMetrics } from '../../core/observe/metrics.js';
import { binFlags } from '../../bench/worker.js';

const REPO = path.resolve(import.meta.dirname, '../..');
const read = (f: string) => readFileSync(path.join(REPO, f), 'utf8');
const MODELS: Record<string, new (data: never) => { validate(): void }> = {
  Deployment: Deployment,
  Service: Service,
  ConfigMap: ConfigMap,
  Secret: Secret,
};

interface Doc {
  kind: string;
  metadata: { name: string };
  spec?: {
    template?: {
      spec: {
        terminationGracePeriodSeconds?: number;
        containers: {
          args: string[];
          readinessProbe?: { httpGet: { path: string } };
          livenessProbe?: { httpGet: { path: string } };
        }[];
      };
    };
  };
}

function manifests(): Doc[] {
  return readdirSync(path.join(REPO, 'deploy/k8s'))
    .filter((f) => f.endsWith('.yaml'))
    .flatMap((f) => parseAllDocuments(read(`deploy/k8s/${f}`)).map((d) => d.toJS() as Doc));
}

/** Metric names a PromQL expression mentions (identifiers followed by `{`, `[` or a space). */
function metricNames(expr: string): string[] {
  return [...expr.matchAll(/\b(nightjar_[a-z0-9_]+)/g)].map((m) => m[1]!);
}

async function exported(): Promise<Set<string>> {
  const m = createMetrics();
  const text = (await m.render()).body;
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    const t = /^# TYPE (\S+) (\S+)/.exec(line);
    if (!t) continue;
    names.add(t[1]!);
    if (t[2] === 'histogram') for (const s of ['_bucket', '_sum', '_count']) names.add(`${t[1]}${s}`);
  }
  return names;
}

describe('deploy/', () => {
  it('every Kubernetes manifest is valid against the Kubernetes 1.27 schemas', () => {
    const docs = manifests();
    expect(docs.map((d) => `${d.kind}/${d.metadata.name}`).sort()).toEqual(
      [
        'ConfigMap/nightjar-env',
        'ConfigMap/nightjar-jobs',
        'ConfigMap/nightjar-mappings',
        'Deployment/nightjar-relay',
        'Deployment/nightjar-scheduler',
        'Deployment/nightjar-server',
        'Deployment/nightjar-worker',
        'Secret/nightjar-secrets',
        'Service/nightjar-server',
      ].sort(),
    );
    for (const d of docs) {
      const Model = MODELS[d.kind];
      expect(Model, d.kind).toBeDefined();
      expect(() => new Model!(d as never).validate(), `${d.kind}/${d.metadata.name}`).not.toThrow();
    }
  });

  it('the manifests run real commands: worker grace below its termination period, server probes on /healthz and /readyz', () => {
    const byName = new Map(manifests().map((d) => [`${d.kind}/${d.metadata.name}`, d]));
    const worker = byName.get('Deployment/nightjar-worker')!.spec!.template!.spec;
    const args = worker.containers[0]!.args;
    const grace = Number(args[args.indexOf('--grace') + 1]);
    expect(worker.terminationGracePeriodSeconds! * 1000).toBeGreaterThan(grace);
    const server = byName.get('Deployment/nightjar-server')!.spec!.template!.spec.containers[0]!;
    expect(server.args[0]).toBe('serve');
    expect(server.livenessProbe?.httpGet.path).toBe('/healthz');
    expect(server.readinessProbe?.httpGet.path).toBe('/readyz');
    expect(byName.get('Deployment/nightjar-scheduler')!.spec!.template!.spec.containers[0]!.args[0]).toBe(
      'scheduler',
    );
    expect(byName.get('Deployment/nightjar-relay')!.spec!.template!.spec.containers[0]!.args[0]).toBe(
      'relay',
    );
  });

  it('the image runs node with the flags of bin/nightjar.js, which runs as a command', () => {
    const flags = binFlags(); // what the bench starts workers with, too
    expect(flags).toContain('--max-semi-space-size=8');
    const entry = /^ENTRYPOINT (.+)$/m.exec(read('Dockerfile'))![1]!;
    expect(JSON.parse(entry)).toEqual(['node', ...flags, 'bin/nightjar.js']);
    // the shebang works as written (env -S), e.g. through node_modules/.bin/nightjar
    const version = execFileSync(path.join(REPO, 'bin/nightjar.js'), ['--version'], { encoding: 'utf8' });
    expect(version.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('promtool accepts the alert rules', () => {
    const out = execFileSync(
      'promtool',
      ['check', 'rules', path.join(REPO, 'deploy/prometheus/alerts.yml')],
      {
        encoding: 'utf8',
      },
    );
    expect(out).toMatch(/SUCCESS: \d+ rules found/);
  });

  it('alert rules are well formed and name only exported metrics', async () => {
    const names = await exported();
    const doc = parse(read('deploy/prometheus/alerts.yml')) as {
      groups: {
        name: string;
        rules: { alert: string; expr: string; labels?: object; annotations: object }[];
      }[];
    };
    const rules = doc.groups.flatMap((g) => g.rules);
    expect(rules.map((r) => r.alert)).toEqual(
      expect.arrayContaining([
        'NightjarBatchDead',
        'NightjarArrivalSlaMissed',
        'NightjarQueueBacklog',
        'NightjarNoPublish',
      ]),
    );
    for (const r of rules) {
      expect(r.expr, r.alert).toBeTruthy();
      expect(r.annotations, r.alert).toHaveProperty('summary');
      for (const n of metricNames(r.expr)) expect(names, `${r.alert}: ${n}`).toContain(n);
    }
  });

  it('the Grafana dashboard parses and its panels query only exported metrics', async () => {
    const names = await exported();
    const dash = JSON.parse(read('deploy/grafana/nightjar-dashboard.json')) as {
      uid: string;
      panels: { title: string; targets: { expr: string }[] }[];
    };
    expect(dash.uid).toBe('nightjar');
    expect(dash.panels.length).toBeGreaterThanOrEqual(6);
    for (const p of dash.panels)
      for (const t of p.targets)
        for (const n of metricNames(t.expr)) expect(names, `${p.title}: ${n}`).toContain(n);
  });
});
