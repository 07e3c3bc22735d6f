// Scenario replays: every folder under test/scenarios/ with an events.jsonl is played
// by test/lib/scenario.ts and its outputs compared, line by line, with the folder's
// expected/*.jsonl. SCENARIO_UPDATE=1 rewrites the expected files instead (review
// them with git diff before committing). docs/testing.md: "Writing a scenario".
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { OUTPUTS, expectedFile, runScenario, scenarioDirs } from '../lib/scenario.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', 'scenarios');
const UPDATE = process.env['SCENARIO_UPDATE'] === '1';
const ONLY = process.env['SCENARIO'];

const names = scenarioDirs(ROOT).filter((n) => !ONLY || n === ONLY);
t.ok(names.length >= 6 || ONLY !== undefined, `scenarios found: ${names.join(', ')}`);

for (const name of names) {
  t.test(name, async (t) => {
    const dir = join(ROOT, name);
    const out = await runScenario(dir);
    for (const file of OUTPUTS) {
      const path = expectedFile(dir, file);
      const got = out[file];
      if (UPDATE) {
        mkdirSync(dirname(path), { recursive: true });
        writeFileSync(path, got.length ? got.join('\n') + '\n' : '');
        continue;
      }
      t.ok(existsSync(path), `${name}/expected/${file}.jsonl exists (SCENARIO_UPDATE=1 writes it)`);
      if (!existsSync(path)) continue;
      const want = readFileSync(path, 'utf8').split('\n').filter((l) => l !== '');
      // Compare parsed lines so that a reviewer may reformat a line; report the first difference plainly.
      const i = want.findIndex((w, k) => got[k] === undefined || JSON.stringify(JSON.parse(w)) !== got[k]);
      const first = i >= 0 ? i : want.length < got.length ? want.length : -1;
      t.equal(first, -1, `${name}/expected/${file}.jsonl: first difference at line ${first + 1}\n  want: ${want[first] ?? '(nothing)'}\n  got:  ${got[first] ?? '(nothing)'}`);
      t.equal(got.length, want.length, `${name}/expected/${file}.jsonl: ${want.length} lines expected`);
    }
  });
}
