/**
 * `npx tsx bench/profile.ts <file.cpuprofile> [top]`: where a child's CPU went (from BENCH_CPU_PROF runs):
 * self time by function and by package, so a MISS in the table can be traced to code.
 */
import { readFileSync } from 'node:fs';

interface Node { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }
interface Profile { nodes: Node[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number }

export function summarizeProfile(file: string, top = 25): string {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) self.set(p.samples[i]!, (self.get(p.samples[i]!) ?? 0) + (p.timeDeltas[i] ?? 0));
  const byFn = new Map<string, number>();
  const byPkg = new Map<string, number>();
  let total = 0;
  for (const n of p.nodes) {
    const us = self.get(n.id) ?? 0;
    if (!us) continue;
    total += us;
    const { functionName, url, lineNumber } = n.callFrame;
    const where = url.replace(/^file:\/\//, '').replace(/^.*\/node_modules\//, 'nm:').replace(/^.*\/work\/main\//, '');
    const key = `${functionName || '(anonymous)'} ${where}:${lineNumber + 1}`;
    byFn.set(key, (byFn.get(key) ?? 0) + us);
    const pkg = url.includes('/node_modules/') ? `nm:${/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1]}` : url.startsWith('node:') ? 'node internals' : url ? where.split('/').slice(0, 2).join('/') : `(${functionName || 'native'})`;
    byPkg.set(pkg, (byPkg.get(pkg) ?? 0) + us);
  }
  // Attributed: each sample goes to the innermost frame that is not Node itself, so the cost of a socket
  // write or a hash lands on the package that asked for it.
  const parent = new Map<number, number>();
  const byId = new Map<number, Node>();
  for (const n of p.nodes) { byId.set(n.id, n); for (const c of n.children ?? []) parent.set(c, n.id); }
  const owner = (url: string) => (url.includes('/node_modules/') ? `nm:${/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1]}` : url.replace(/^file:\/\//, '').replace(/^.*\/work\/main\//, '').split('/').slice(0, 2).join('/'));
  const attributed = new Map<string, number>();
  for (const [id, us] of self) {
    let cur: number | undefined = id;
    let who = '';
    while (cur !== undefined) {
      const url = byId.get(cur)!.callFrame.url;
      if (url && !url.startsWith('node:')) { who = owner(url); break; }
      cur = parent.get(cur);
    }
    const name = byId.get(id)!.callFrame.functionName;
    if (!who) who = name === '(idle)' ? '(idle)' : name === '(garbage collector)' ? '(gc)' : '(node, no JS caller)';
    attributed.set(who, (attributed.get(who) ?? 0) + us);
  }
  const pct = (us: number) => `${((100 * us) / total).toFixed(1).padStart(5)}%`;
  const list = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, us]) => `${pct(us)} ${(us / 1000).toFixed(0).padStart(7)} ms  ${k}`).join('\n');
  return `${file}: ${(total / 1000).toFixed(0)} ms sampled\n-- attributed to the innermost non-Node caller --\n${list(attributed)}\n-- by package --\n${list(byPkg)}\n-- by function (self) --\n${list(byFn)}\n`;
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  process.stdout.write(summarizeProfile(process.argv[2]!, Number(process.argv[3] ?? 25)));
}
