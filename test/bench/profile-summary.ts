/**
 * Summarizes gate CPU profiles: `node --import tsx test/bench/profile-summary.ts
 * results/profiles/<scenario>-r1 [...]` prints the top self-time functions per folder
 * (busy main-thread time only: idle samples are left out).
 */
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from '../integration/harness.js';
import { profileMarkdown } from './lib/cpu-profile.js';

for (const dir of process.argv.slice(2)) {
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).map((f) => path.join(dir, f));
  process.stdout.write(`${profileMarkdown(path.basename(dir), files, ROOT, 20)}\n`);
}
