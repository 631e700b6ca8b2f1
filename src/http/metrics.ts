/** @module Prometheus metrics: request counts and latency histograms by route, plus gauges supplied by callbacks. */

const BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

interface Histogram {
  counts: number[];
  sum: number;
  count: number;
}

export interface Gauge {
  name: string;
  help: string;
  collect(): Array<{ labels: Record<string, string>; value: number }>;
}

export class Metrics {
  private readonly requests = new Map<string, number>();
  private readonly latency = new Map<string, Histogram>();
  private readonly gauges: Gauge[] = [];

  observe(method: string, route: string, status: number, seconds: number): void {
    const key = `${method}\u0000${route}\u0000${status}`;
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
    const hkey = `${method}\u0000${route}`;
    let h = this.latency.get(hkey);
    if (!h) {
      h = { counts: BUCKETS.map(() => 0), sum: 0, count: 0 };
      this.latency.set(hkey, h);
    }
    for (let i = 0; i < BUCKETS.length; i++) if (seconds <= BUCKETS[i]!) h.counts[i]!++;
    h.sum += seconds;
    h.count++;
  }

  addGauge(g: Gauge): void {
    this.gauges.push(g);
  }

  render(): string {
    const out: string[] = [
      "# HELP heimdall_http_requests_total HTTP requests by method, route and status.",
      "# TYPE heimdall_http_requests_total counter",
    ];
    for (const [key, n] of this.requests) {
      const [method, route, status] = key.split("\u0000");
      out.push(`heimdall_http_requests_total{method="${method}",route="${esc(route!)}",status="${status}"} ${n}`);
    }
    out.push(
      "# HELP heimdall_http_request_duration_seconds Request latency by method and route.",
      "# TYPE heimdall_http_request_duration_seconds histogram",
    );
    for (const [key, h] of this.latency) {
      const [method, route] = key.split("\u0000");
      const l = `method="${method}",route="${esc(route!)}"`;
      BUCKETS.forEach((b, i) => {
        out.push(`heimdall_http_request_duration_seconds_bucket{${l},le="${b}"} ${h.counts[i]}`);
      });
      out.push(`heimdall_http_request_duration_seconds_bucket{${l},le="+Inf"} ${h.count}`);
      out.push(`heimdall_http_request_duration_seconds_sum{${l}} ${h.sum}`);
      out.push(`heimdall_http_request_duration_seconds_count{${l}} ${h.count}`);
    }
    for (const g of this.gauges) {
      out.push(`# HELP ${g.name} ${g.help}`, `# TYPE ${g.name} gauge`);
      for (const { labels, value } of g.collect()) {
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
