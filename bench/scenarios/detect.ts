import { detectStack, loadTemplates, type RepoFiles } from '../../server/stacks/detect.js';
import { ADVERSARIAL_CASES } from '../../test/stacks/adversarial.js';
import { round } from '../lib/stats.js';
import { fmt, verdict, type Row } from '../lib/rows.js';

export interface DetectCaseResult { name: string; cpuMsMedian: number; wallMsMedian: number }
export interface DetectResult { files: number; runs: number; worst: DetectCaseResult; cases: DetectCaseResult[] }

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

/**
 * Stack detection over each hostile repository of test/stacks/adversarial.ts (files at the 256 KiB
 * read limit: long lines, blank lines, nested brackets, huge TOML/JSON/YAML, YAML alias bombs), files
 * already in memory so only detection itself is timed. Per file: the median of `runs` after two
 * warm-up runs, as CPU time of this thread (what a stall costs the event loop; wall time is also kept,
 * but other load on the machine inflates it). The row reports the worst file.
 */
export async function runDetect(o: { runs: number }): Promise<DetectResult> {
  const templates = await loadTemplates();
  const cases: DetectCaseResult[] = [];
  for (const c of ADVERSARIAL_CASES) {
    const list = Object.keys(c.files);
    const files: RepoFiles = { list, dirs: [], read: async (p) => c.files[p] ?? null };
    const cpu: number[] = [];
    const wall: number[] = [];
    for (let i = 0; i < o.runs + 2; i++) {
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      await detectStack(files, { templates }).catch(() => null); // some cases end in a clear StackDetectionError
      const used = process.cpuUsage(c0);
      if (i < 2) continue;
      cpu.push((used.user + used.system) / 1000);
      wall.push(performance.now() - t0);
    }
    cases.push({ name: c.name, cpuMsMedian: round(median(cpu), 2), wallMsMedian: round(median(wall), 2) });
  }
  const worst = cases.reduce((a, b) => (b.cpuMsMedian > a.cpuMsMedian ? b : a));
  return { files: cases.length, runs: o.runs, worst, cases: [...cases].sort((a, b) => b.cpuMsMedian - a.cpuMsMedian) };
}

export function detectRows(d: DetectResult): Row[] {
  return [{
    metric: 'stack detection, worst adversarial 256 KiB file',
    value: `${fmt(d.worst.cpuMsMedian, 2)} ms CPU (wall ${fmt(d.worst.wallMsMedian, 2)} ms), median of ${d.runs}: ${d.worst.name}; ${d.files} files`,
    target: '< 50 ms', verdict: verdict(d.worst.cpuMsMedian < 50),
  }];
}
