// autocannon 9 ships no types: the part of its programmatic API the bench uses.
declare module 'autocannon' {
  export interface Histogram {
    average: number; mean: number; stddev: number; min: number; max: number; total: number;
    p2_5: number; p50: number; p75: number; p90: number; p97_5: number; p99: number; p99_9: number;
  }
  export interface AutocannonClient {
    setHeaders(headers: Record<string, string>): void;
  }
  export interface AutocannonOptions {
    url: string;
    connections?: number;
    duration?: number;
    amount?: number;
    pipelining?: number;
    timeout?: number;
    method?: string;
    body?: string;
    headers?: Record<string, string>;
    setupClient?: (client: AutocannonClient) => void;
  }
  export interface AutocannonResult {
    requests: Histogram;
    latency: Histogram;
    throughput: Histogram;
    duration: number;
    errors: number;
    timeouts: number;
    non2xx: number;
    '2xx': number;
  }
  function autocannon(opts: AutocannonOptions): Promise<AutocannonResult>;
  export default autocannon;
}
