// Codec benchmark: UPDATEs full of EVPN type-2 routes (MAC + IPv4, VNI in the
// label), decode and encode rates on one core. Ends with exactly two lines:
//   decode type-2: <N> NLRI/s
//   encode type-2: <N> NLRI/s
import { Framer } from '../src/bgp/framer.js';
import { decodeMessage, encodeMessage } from '../src/bgp/message.js';
import { packUpdates } from '../src/bgp/pack.js';
import type { CodecContext, PathAttributes, UpdateMessage } from '../src/bgp/types.js';
import { ZERO_ESI, type MacIpRoute } from '../src/evpn/types.js';
import '../src/evpn/nlri.js'; // registers the L2VPN/EVPN NLRI codec with bgp/ (RFC 7432 §7)

const ROUTES = Number(process.env.BENCH_ROUTES ?? 200_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const ctx: CodecContext = { fourOctetAs: true };

function hex2(n: number): string {
  return (n & 0xff).toString(16).padStart(2, '0');
}

function route(i: number): MacIpRoute {
  return {
    type: 'mac-ip',
    rd: { type: 1, ip: '192.168.1.87', assigned: 100 + (i % 8) },
    esi: ZERO_ESI,
    ethernetTag: 0,
    mac: `52:54:00:${hex2(i >> 16)}:${hex2(i >> 8)}:${hex2(i)}`,
    ip: `10.${(i >> 16) & 0xff}.${(i >> 8) & 0xff}.${i & 0xff}`,
    label1: 100 + (i % 8), // VNI, raw 24 bits (RFC 8365 §5.1.3)
    label2: null,
  };
}

const attributes: PathAttributes = {
  origin: 0,
  asPath: [],
  localPref: 100,
  extCommunities: [
    { kind: 'route-target', form: 'as2', asn: 65001, local: 100 },
    { kind: 'encapsulation', tunnelType: 8 },
  ],
};

/** Best (fastest) of ROUNDS timed runs, in ms. */
function best(run: () => void): number {
  let min = Infinity;
  for (let i = 0; i < ROUNDS; i++) {
    const t0 = performance.now();
    run();
    const ms = performance.now() - t0;
    if (ms < min) min = ms;
  }
  return min;
}

const routes = Array.from({ length: ROUTES }, (_, i) => route(i));
const updates: UpdateMessage[] = packUpdates({ announce: [{ attributes, nextHop: '192.168.1.87', routes }] }, ctx);
const wire = updates.map((u) => encodeMessage(u, ctx));
const bytes = wire.reduce((n, w) => n + w.length, 0);
const stream = new Uint8Array(bytes);
{
  let o = 0;
  for (const w of wire) {
    stream.set(w, o);
    o += w.length;
  }
}

let sink = 0;
const decodeAll = () => {
  for (const w of wire) {
    const m = decodeMessage(w, ctx);
    if (m.type === 'update' && m.attributes.mpReach?.nlri.kind === 'evpn') sink += m.attributes.mpReach.nlri.routes.length;
  }
};
const encodeAll = () => {
  for (const u of updates) sink += encodeMessage(u, ctx).length;
};
const frameAndDecode = () => {
  const f = new Framer();
  for (let o = 0; o < stream.length; o += 65536) {
    for (const m of f.push(stream.subarray(o, o + 65536))) sink += decodeMessage(m, ctx).type.length;
  }
};

// Warm up the JIT.
decodeAll();
encodeAll();
frameAndDecode();

const decMs = best(decodeAll);
const encMs = best(encodeAll);
const frameMs = best(frameAndDecode);
const rate = (ms: number) => Math.round(ROUTES / (ms / 1000));

console.log(`node ${process.version}, ${ROUTES} type-2 routes (MAC + IPv4, VNI label) in ${updates.length} UPDATEs`);
console.log(`  ${(bytes / updates.length).toFixed(0)} bytes/UPDATE, ${(ROUTES / updates.length).toFixed(1)} routes/UPDATE, ${(bytes / 1e6).toFixed(1)} MB total`);
console.log(`  decode: best of ${ROUNDS}: ${decMs.toFixed(1)} ms, ${((bytes / 1e6) / (decMs / 1000)).toFixed(0)} MB/s`);
console.log(`  encode: best of ${ROUNDS}: ${encMs.toFixed(1)} ms`);
console.log(`  framer + decode (64 KiB chunks): ${frameMs.toFixed(1)} ms, ${rate(frameMs)} NLRI/s`);
if (sink === 0) console.log('(nothing decoded)');
console.log(`decode type-2: ${rate(decMs)} NLRI/s`);
console.log(`encode type-2: ${rate(encMs)} NLRI/s`);
