// The otel/ kit stays consistent with itself and with the code: YAML and JSON
// parse, pipelines reference defined components, compose mounts files that
// exist at the paths the services read, the dashboard queries every metric,
// and otel/README.md documents every span, event, attribute and metric name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ATTR, EVENT, SPAN } from '../src/telemetry/attributes.js';
import { METRIC } from '../src/telemetry/metrics.js';

const OTEL = fileURLToPath(new URL('../otel/', import.meta.url));
const read = (p: string): string => readFileSync(join(OTEL, p), 'utf8');
const yaml = (p: string): Record<string, unknown> => parse(read(p)) as Record<string, unknown>;

type Collector = {
  receivers: Record<string, { protocols?: Record<string, { endpoint?: string }> }>;
  processors: Record<string, unknown>;
  exporters: Record<string, { endpoint?: string }>;
  extensions?: Record<string, unknown>;
  service: { extensions?: string[]; pipelines: Record<string, { receivers: string[]; processors: string[]; exporters: string[] }> };
};

test('collector.yaml: OTLP in over gRPC and HTTP; traces to Jaeger, metrics to Prometheus; every pipeline component defined', () => {
  const c = yaml('collector.yaml') as unknown as Collector;
  assert.deepEqual(Object.keys(c.receivers.otlp?.protocols ?? {}).sort(), ['grpc', 'http']);
  assert.equal(c.receivers.otlp?.protocols?.http?.endpoint, '0.0.0.0:4318');
  for (const [name, p] of Object.entries(c.service.pipelines)) {
    for (const r of p.receivers) assert.ok(r in c.receivers, `${name}: receiver ${r}`);
    for (const x of p.processors) assert.ok(x in c.processors, `${name}: processor ${x}`);
    for (const e of p.exporters) assert.ok(e in c.exporters, `${name}: exporter ${e}`);
    assert.equal(p.processors[0], 'memory_limiter', `${name}: memory_limiter goes first`);
    assert.equal(p.processors[p.processors.length - 1], 'batch', `${name}: batch goes last`);
  }
  for (const e of c.service.extensions ?? []) assert.ok(c.extensions && e in c.extensions);
  const traceExporters = c.service.pipelines.traces?.exporters ?? [];
  assert.ok(traceExporters.some((e) => /jaeger|tempo/.test(c.exporters[e]?.endpoint ?? '')), 'traces go to Jaeger or Tempo');
  assert.ok(c.service.pipelines.metrics?.exporters.includes('prometheus'));
});

test('compose.yaml: bridge from the Dockerfile, collector, Jaeger, Prometheus, Grafana; mounts exist and match what services read', () => {
  const compose = yaml('compose.yaml') as {
    services: Record<string, { build?: { context: string; dockerfile: string }; image?: string; command?: string[]; volumes?: string[]; environment?: Record<string, string>; ports?: string[] }>;
  };
  const s = compose.services;
  assert.deepEqual(Object.keys(s).sort(), ['bridge', 'collector', 'grafana', 'jaeger', 'prometheus']);
  assert.ok(s.bridge?.build && existsSync(join(OTEL, s.bridge.build.context, s.bridge.build.dockerfile)), 'bridge builds from the repo Dockerfile');
  assert.equal(s.bridge?.environment?.OTEL_EXPORTER_OTLP_ENDPOINT, 'http://collector:4318');
  assert.ok(s.bridge?.ports?.includes('8080:8080'));
  for (const [name, svc] of Object.entries(s)) {
    if (name !== 'bridge') assert.match(svc.image ?? '', /:[\w.]+$/, `${name} image is pinned to a tag`);
    for (const v of svc.volumes ?? []) {
      const [host] = v.split(':');
      assert.ok(existsSync(join(OTEL, host as string)), `${name}: ${host} exists`);
    }
  }
  const collectorMount = s.collector?.volumes?.[0]?.split(':')[1];
  assert.ok(s.collector?.command?.includes(`--config=${collectorMount}`), 'the collector reads the mounted config');
  const promMount = s.prometheus?.volumes?.[0]?.split(':')[1];
  assert.ok(s.prometheus?.command?.includes(`--config.file=${promMount}`));

  const c = yaml('collector.yaml') as unknown as Collector;
  const promPort = c.exporters.prometheus?.endpoint?.split(':')[1];
  const prom = yaml('prometheus.yml') as { scrape_configs: Array<{ static_configs: Array<{ targets: string[] }> }> };
  assert.ok(prom.scrape_configs.some((sc) => sc.static_configs.some((st) => st.targets.includes(`collector:${promPort}`))), 'Prometheus scrapes the collector exporter port');

  const providers = yaml('grafana/provisioning/dashboards/dashboards.yaml') as { providers: Array<{ options: { path: string } }> };
  const dashMount = s.grafana?.volumes?.find((v) => v.startsWith('./grafana/dashboards'))?.split(':')[1];
  assert.equal(providers.providers[0]?.options.path, dashMount);
  const sources = yaml('grafana/provisioning/datasources/datasources.yaml') as { datasources: Array<{ uid: string; url: string }> };
  assert.deepEqual(sources.datasources.map((d) => d.uid).sort(), ['jaeger', 'prometheus']);
});

test('dashboard.json covers every bridge metric', () => {
  const dash = JSON.parse(read('grafana/dashboards/bridge.json')) as { uid: string; panels: Array<{ title: string; targets: Array<{ expr: string }> }> };
  assert.equal(dash.uid, 'twilio-realtime-bridge');
  const exprs = dash.panels.flatMap((p) => p.targets.map((t) => t.expr)).join('\n');
  for (const name of Object.values(METRIC)) {
    const prom = name.replace(/\./g, '_');
    assert.ok(exprs.includes(prom), `no panel queries ${name} (${prom})`);
  }
  for (const p of dash.panels) assert.ok(p.targets.length > 0 && p.title !== '', 'every panel has a title and a query');
});

test('otel/README.md documents every span, event, attribute and metric name', () => {
  const readme = read('README.md');
  const names = [...Object.values(SPAN), ...Object.values(EVENT), ...Object.values(ATTR), ...Object.values(METRIC)];
  const missing = names.filter((n) => !readme.includes(`\`${n}\``));
  assert.deepEqual(missing, []);
});
