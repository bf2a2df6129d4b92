/**
 * Self time by function from V8 .cpuprofile files (node --cpu-prof): each sample's time delta
 * is charged to the node it landed in; nodes are grouped by function name and file:line.
 */
import fs from 'node:fs';
import path from 'node:path';

interface CpuNode { id: number; callFrame: { functionName: string; url: string; lineNumber: number } }
interface CpuProfile { nodes: CpuNode[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number }

export interface SelfTime { fn: string; where: string; ms: number; share: number }

/** Self time per function over the busy (non-idle) samples; share is of busy time. */
export function selfTimes(files: string[], root: string): { total: number; top: SelfTime[] } {
  const acc = new Map<string, { fn: string; where: string; us: number }>();
  let total = 0;
  for (const f of files) {
    const p = JSON.parse(fs.readFileSync(f, 'utf8')) as CpuProfile;
    const byId = new Map(p.nodes.map((n) => [n.id, n]));
    p.samples.forEach((id, i) => {
      const n = byId.get(id);
      const dt = p.timeDeltas[i] ?? 0;
      if (!n || n.callFrame.functionName === '(idle)') return;
      total += dt;
      const cf = n.callFrame;
      let url = cf.url.replace(/^file:\/\//, '');
      if (url.startsWith(root)) url = path.relative(root, url);
      const where = url ? `${url}:${cf.lineNumber + 1}` : '';
      const fn = cf.functionName || (url ? '(anonymous)' : `(${cf.functionName || 'native'})`);
      const key = `${fn}|${where}`;
      const e = acc.get(key) ?? { fn: cf.functionName || fn, where, us: 0 };
      e.us += dt;
      acc.set(key, e);
    });
  }
  const top = [...acc.values()].sort((a, b) => b.us - a.us).map((e) => ({ fn: e.fn, where: e.where, ms: e.us / 1000, share: total ? e.us / total : 0 }));
  return { total: total / 1000, top };
}

/** Self time grouped by file (or by category for Node internals, V8 and GC). */
export function byFile(files: string[], root: string): { where: string; share: number }[] {
  const { top } = selfTimes(files, root);
  const acc = new Map<string, number>();
  for (const t of top) {
    const file = t.where ? t.where.replace(/:\d+$/, '') : t.fn;
    const key = file.startsWith('node:') ? file : file.includes('node_modules/') ? `node_modules/${file.split('node_modules/')[1]!.split('/')[0]}` : file;
    acc.set(key, (acc.get(key) ?? 0) + t.share);
  }
  return [...acc.entries()].map(([where, share]) => ({ where, share })).sort((a, b) => b.share - a.share);
}

/** V8 names profiles CPU.<date>.<time>.<pid>.<thread id>.<seq>.cpuprofile; thread 0 is the main thread. */
export function threadOf(file: string): number {
  const m = /\.(\d+)\.\d+\.cpuprofile$/.exec(path.basename(file));
  return m ? Number(m[1]) : 0;
}

function tables(title: string, files: string[], root: string, n: number): string[] {
  const { total, top } = selfTimes(files, root);
  const lines = [`#### ${title} (${files.length} profile(s), ${(total / 1000).toFixed(1)} s busy; % of busy time)`, '', '| self % | self ms | function | where |', '|---:|---:|---|---|'];
  for (const t of top.slice(0, n)) lines.push(`| ${(t.share * 100).toFixed(1)} | ${t.ms.toFixed(0)} | ${t.fn || '(anonymous)'} | ${t.where} |`);
  lines.push('', '| self % | file / module |', '|---:|---|');
  for (const f of byFile(files, root).slice(0, 15)) lines.push(`| ${(f.share * 100).toFixed(1)} | ${f.where} |`);
  return lines;
}

/**
 * Top self time of a scenario's profiles, the main thread and the receipt writer thread
 * apart. "Busy" is every sample not idle in the event loop: a thread blocked in a system
 * call (the writer's fdatasync) or preempted by another thread counts as busy in the
 * function it was in, so on two oversubscribed cores read shares of wall time, not CPU.
 */
export function profileMarkdown(id: string, files: string[], root: string, n = 25): string {
  const main = files.filter((f) => threadOf(f) === 0);
  const others = files.filter((f) => threadOf(f) !== 0);
  const lines = [`### ${id}`, ''];
  if (main.length) lines.push(...tables('main thread', main, root, n), '');
  if (others.length) lines.push(...tables('receipt writer thread', others, root, Math.min(n, 12)), '');
  return `${lines.join('\n')}\n`;
}
