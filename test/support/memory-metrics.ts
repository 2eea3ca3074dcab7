// BridgeMetrics over a real SDK MeterProvider with an in-memory reader, for
// tests that assert what the bridge recorded.
import assert from 'node:assert/strict';
import { MeterProvider, MetricReader, type MetricData } from '@opentelemetry/sdk-metrics';
import { BridgeMetrics } from '../../src/telemetry/metrics.js';

class MemoryReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

export interface MemoryMetrics {
  readonly bridge: BridgeMetrics;
  /** Everything recorded so far, by metric name. */
  collect(): Promise<Map<string, MetricData>>;
  done(): Promise<void>;
}

export function memoryMetrics(): MemoryMetrics {
  const reader = new MemoryReader();
  const provider = new MeterProvider({ readers: [reader] });
  const bridge = new BridgeMetrics(provider.getMeter('test'));
  return {
    bridge,
    collect: async () => {
      const { resourceMetrics, errors } = await reader.collect();
      assert.deepEqual(errors, []);
      const out = new Map<string, MetricData>();
      for (const scope of resourceMetrics.scopeMetrics) for (const m of scope.metrics) out.set(m.descriptor.name, m);
      return out;
    },
    done: async () => {
      bridge.close();
      await provider.shutdown();
    },
  };
}

export function points(m: MetricData | undefined): Array<{ attributes: Record<string, unknown>; value: unknown }> {
  assert.ok(m, 'metric missing');
  return m.dataPoints.map((p) => ({ attributes: { ...p.attributes }, value: p.value }));
}
