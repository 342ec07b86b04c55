/**
 * `npx tsx bench/profile.ts <file.cpuprofile> [top] [--from=S] [--to=S]`: where a child's CPU went
 * (from BENCH_CPU_PROF runs): self time by function and by package, and each package's or source
 * file's inclusive share (on the stack at all), so a MISS in the table can be traced to code.
 * A child's profile spans its whole life, i.e. every phase of its scenario: --from/--to keep the
 * samples between S seconds after the profile started (≈ the child's start; the bench log prints
 * each phase's start in seconds since the bench started) and, for --to, until S.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface Node { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }
interface Profile { nodes: Node[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number }

/** This checkout's root (a worktree or the main one), cut from paths so rows read `server/…`. */
const ROOT = fileURLToPath(new URL('../', import.meta.url));
const local = (url: string) => url.replace(/^file:\/\//, '').replace(ROOT, '');
const pkgOf = (url: string) => (url.includes('/node_modules/') ? `nm:${/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1]}` : '');

function summarizeProfile(file: string, top = 25, window: { fromS?: number; toS?: number } = {}): string {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map<number, Node>();
  const parent = new Map<number, number>();
  for (const n of p.nodes) { byId.set(n.id, n); for (const c of n.children ?? []) parent.set(c, n.id); }
  const from = p.startTime + (window.fromS ?? 0) * 1e6;
  const to = window.toS === undefined ? Infinity : p.startTime + window.toS * 1e6;

  const add = (m: Map<string, number>, k: string, us: number) => m.set(k, (m.get(k) ?? 0) + us);
  const [byFn, byPkg, attributed, inclusive] = [new Map<string, number>(), new Map<string, number>(), new Map<string, number>(), new Map<string, number>()];
  let total = 0;
  let busy = 0;
  let at = p.startTime;
  for (let i = 0; i < p.samples.length; i++) {
    const us = p.timeDeltas[i] ?? 0;
    at += us;
    if (at < from || at > to) continue;
    const leaf = byId.get(p.samples[i]!)!;
    const { functionName, url, lineNumber } = leaf.callFrame;
    total += us;
    if (functionName !== '(idle)') busy += us;
    add(byFn, `${functionName || '(anonymous)'} ${pkgOf(url) ? local(url).replace(/^.*\/node_modules\//, 'nm:') : local(url)}:${lineNumber + 1}`, us);
    add(byPkg, pkgOf(url) || (url.startsWith('node:') ? 'node internals' : url ? local(url).split('/').slice(0, 2).join('/') : `(${functionName || 'native'})`), us);
    // Attributed: to the innermost frame that is not Node itself, so a socket write or a hash lands on
    // the package that asked for it. Inclusive: every package or source file on the stack, once.
    let who = '';
    const seen = new Set<string>();
    for (let cur: number | undefined = leaf.id; cur !== undefined; cur = parent.get(cur)) {
      const u = byId.get(cur)!.callFrame.url;
      if (!u || u.startsWith('node:')) continue;
      const owner = pkgOf(u) || local(u);
      if (!who) who = pkgOf(u) || owner.split('/').slice(0, 2).join('/');
      if (!seen.has(owner)) { seen.add(owner); add(inclusive, owner, us); }
    }
    add(attributed, who || (functionName === '(idle)' ? '(idle)' : functionName === '(garbage collector)' ? '(gc)' : '(node, no JS caller)'), us);
  }
  const pct = (us: number, of = total) => `${((100 * us) / Math.max(1, of)).toFixed(1).padStart(5)}%`;
  const list = (m: Map<string, number>, of = total) => [...m].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, us]) => `${pct(us, of)} ${(us / 1000).toFixed(0).padStart(7)} ms  ${k}`).join('\n');
  return `${file}: ${(total / 1000).toFixed(0)} ms sampled, ${(busy / 1000).toFixed(0)} ms busy\n`
    + `-- attributed to the innermost non-Node caller --\n${list(attributed)}\n-- by package --\n${list(byPkg)}\n`
    + `-- on the stack (inclusive, % of busy time) --\n${list(inclusive, busy)}\n-- by function (self) --\n${list(byFn)}\n`;
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const args = process.argv.slice(2);
  const flag = (name: string) => { const a = args.find((x) => x.startsWith(`--${name}=`)); return a === undefined ? undefined : Number(a.split('=')[1]); };
  const [file, top] = args.filter((a) => !a.startsWith('--'));
  process.stdout.write(summarizeProfile(file!, Number(top ?? 25), { fromS: flag('from'), toS: flag('to') }));
}
