// The folders of src/ form layers (docs/architecture.md, "Layers"): a folder
// imports only folders of lower layers, never a folder of its own layer or above.
// This test reads the imports of every src/**/*.ts and fails on an upward or
// sideways import, and on a folder missing from the declared order.
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative, resolve, dirname, sep } from 'node:path';
import t from 'tap';

/** Lowest first. Folders of one layer must not import each other. */
export const LAYERS: readonly (readonly string[])[] = [
  ['util', 'wire'], // clock; byte Reader/Writer and addresses
  ['net'], // socket options (TCP-MD5/AO, GTSM)
  ['bgp', 'bfd', 'probe', 'kernel'], // protocols and the kernel port; bgp knows no address family's routes
  ['evpn', 'config'], // EVPN registers its NLRI with bgp; the shared configuration helpers
  ['agent', 'reflector'], // the VTEP agent; the route reflector
  ['control'], // the control API over the agent
  ['metrics'], // Prometheus over the control provider
  ['lab'], // namespace topologies, the demo
  ['cli'], // commands and the daemon assembly
];

const SRC = resolve(import.meta.dirname, '..', '..', 'src');

function tsFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...tsFiles(p));
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

/** Every relative module specifier of static imports, re-exports and dynamic imports. */
export function importsOf(text: string): string[] {
  const specs: string[] = [];
  const re = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)['"](\.{1,2}\/[^'"]+)['"]/gm;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) specs.push(m[1]!);
  return specs;
}

function folderOf(file: string): string {
  const rel = relative(SRC, file);
  return rel.includes(sep) ? rel.split(sep)[0]! : '.';
}

const rank = new Map<string, number>();
LAYERS.forEach((folders, i) => { for (const f of folders) rank.set(f, i); });

t.test('the import parser sees static, type-only, re-export, side-effect and dynamic imports', async (t) => {
  const text = [
    "import { a } from '../x/a.js';",
    "import type { B } from '../y/b.js';",
    "export { c } from './c.js';",
    "import '../z/side.js';",
    "const d = await import('../w/d.js');",
    "import {\n  e,\n  f,\n} from '../v/e.js';",
  ].join('\n');
  t.same(importsOf(text), ['../x/a.js', '../y/b.js', './c.js', '../z/side.js', '../w/d.js', '../v/e.js']);
});

t.test('every src folder has a layer', async (t) => {
  const folders = readdirSync(SRC, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
  for (const f of folders) t.ok(rank.has(f), `src/${f} is in LAYERS`);
});

t.test('imports point down only', async (t) => {
  const bad: string[] = [];
  let edges = 0;
  for (const file of tsFiles(SRC)) {
    const from = folderOf(file);
    for (const spec of importsOf(readFileSync(file, 'utf8'))) {
      const to = folderOf(resolve(dirname(file), spec));
      if (to === from) continue;
      edges++;
      const rf = rank.get(from);
      const rt = rank.get(to);
      if (rf === undefined || rt === undefined || rt >= rf) {
        bad.push(`src/${relative(SRC, file)} imports ${spec} (${from} -> ${to})`);
      }
    }
  }
  t.ok(edges > 100, `found the cross-folder imports (${edges})`);
  t.same(bad, [], 'no import from a folder of the same or a higher layer');
});
