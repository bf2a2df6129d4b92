/**
 * Copies the last run's tables into the docs: `node --import tsx test/bench/publish-results.ts`
 * after `npm run bench -- --peers`. RESULTS.md gets the whole of results/latest.md between its
 * `bench:run` markers; README.md's Performance section gets the run's command and machine lines
 * and the targets table between its `bench:targets` markers. Nothing is typed in: what was
 * measured is what is shown.
 */
import fs from 'node:fs';
import path from 'node:path';
import { BENCH_DIR } from './lib/procs.js';
import { ROOT } from '../integration/harness.js';

const latest = fs.readFileSync(path.join(BENCH_DIR, 'results', 'latest.md'), 'utf8').trim();
const json = JSON.parse(fs.readFileSync(path.join(BENCH_DIR, 'results', 'latest.json'), 'utf8')) as { date: string };

function between(file: string, name: string, text: string): void {
  const s = fs.readFileSync(file, 'utf8');
  const begin = `<!-- bench:${name} begin (test/bench/publish-results.ts) -->`;
  const end = `<!-- bench:${name} end -->`;
  const i = s.indexOf(begin);
  const j = s.indexOf(end);
  if (i < 0 || j < i) throw new Error(`${file} has no ${begin} … ${end} markers`);
  fs.writeFileSync(file, `${s.slice(0, i + begin.length)}\n${text}\n${s.slice(j)}`);
}

const day = json.date.slice(0, 16).replace('T', ' ');
between(path.join(BENCH_DIR, 'RESULTS.md'), 'run', `Run finished ${day} UTC.\n\n${latest}`);
const head = latest.split('\n').filter((l) => /^(Command|Machine):/.test(l));
const t0 = latest.indexOf('| target (issue 14)');
const t1 = latest.indexOf('\n\n', t0);
if (t0 < 0) throw new Error('results/latest.md has no targets table');
between(path.join(ROOT, 'README.md'), 'targets', [`Run finished ${day} UTC. ${head.join(' ')}`, '', latest.slice(t0, t1 < 0 ? undefined : t1)].join('\n'));
process.stdout.write('README.md and test/bench/RESULTS.md updated from test/bench/results/latest.md\n');
