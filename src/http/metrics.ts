/** @module Prometheus metrics: request counts and latency histograms by route, plus gauges supplied by callbacks. */

const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

interface Histogram {
  counts: number[];
  sum: number;
  count: number;
}

type Samples = Array<{ labels: Record<string, string>; value: number }>;

export interface Gauge {
  name: string;
  help: string;
  collect(): Samples | Promise<Samples>;
}

export class Metrics {
  /** `method\0route\0status` → a mutable counter cell, so hot paths increment without map writes. */
  private readonly requests = new Map<string, { n: number }>();
  private readonly latency = new Map<string, Histogram>();
  private readonly gauges: Gauge[] = [];
  private readonly recorders = new Map<string, (status: number, seconds: number) => void>();

  observe(method: string, route: string, status: number, seconds: number): void {
    this.series(method, route)(status, seconds);
  }

  /**
   * A recorder bound to one method and route, for hot paths that should not rebuild map keys on
   * every request. Counters per status live in a small array scanned linearly (few statuses per route).
   */
  series(method: string, route: string): (status: number, seconds: number) => void {
    const hkey = `${method}\u0000${route}`;
    const cached = this.recorders.get(hkey);
    if (cached) return cached;
    const h: Histogram = { counts: BUCKETS.map(() => 0), sum: 0, count: 0 };
    this.latency.set(hkey, h);
    const statuses: Array<{ status: number; cell: { n: number } }> = [];
    const record = (status: number, seconds: number) => {
      let entry = statuses.find((s) => s.status === status);
      if (!entry) {
        entry = { status, cell: { n: 0 } };
        this.requests.set(`${hkey}\u0000${status}`, entry.cell);
        statuses.push(entry);
      }
      entry.cell.n++;
      // Buckets are cumulative; only the first bucket that fits is counted here, render() sums them.
      let i = 0;
      while (i < BUCKETS.length && seconds > BUCKETS[i]!) i++;
      if (i < BUCKETS.length) h.counts[i]!++;
      h.sum += seconds;
      h.count++;
    };
    this.recorders.set(hkey, record);
    return record;
  }

  addGauge(g: Gauge): void {
    this.gauges.push(g);
  }

  async render(): Promise<string> {
    const out: string[] = [
      "# HELP heimdall_http_requests_total HTTP requests by method, route and status.",
      "# TYPE heimdall_http_requests_total counter",
    ];
    for (const [key, { n }] of this.requests) {
      const [method, route, status] = key.split("\u0000");
      out.push(
        `heimdall_http_requests_total{method="${method}",route="${esc(route!)}",status="${status}"} ${n}`,
      );
    }
    out.push(
      "# HELP heimdall_http_request_duration_seconds Request latency by method and route.",
      "# TYPE heimdall_http_request_duration_seconds histogram",
    );
    for (const [key, h] of this.latency) {
      const [method, route] = key.split("\u0000");
      const l = `method="${method}",route="${esc(route!)}"`;
      let cumulative = 0;
      BUCKETS.forEach((b, i) => {
        cumulative += h.counts[i]!;
        out.push(`heimdall_http_request_duration_seconds_bucket{${l},le="${b}"} ${cumulative}`);
      });
      out.push(`heimdall_http_request_duration_seconds_bucket{${l},le="+Inf"} ${h.count}`);
      out.push(`heimdall_http_request_duration_seconds_sum{${l}} ${h.sum}`);
      out.push(`heimdall_http_request_duration_seconds_count{${l}} ${h.count}`);
    }
    for (const g of this.gauges) {
      out.push(`# HELP ${g.name} ${g.help}`, `# TYPE ${g.name} gauge`);
      for (const { labels, value } of await g.collect()) {
        const l = Object.entries(labels)
          .map(([k, v]) => `${k}="${esc(v)}"`)
          .join(",");
        out.push(`${g.name}{${l}} ${value}`);
      }
    }
    return `${out.join("\n")}\n`;
  }
}

function esc(v: string): string {
  return v.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}
