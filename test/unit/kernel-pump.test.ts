import t from 'tap';
import { PUMP_LOST, PumpDecoder } from '../../src/kernel/event-pump.js';

function frame(len: number, fill = 0xab): Buffer {
  const b = Buffer.alloc(4 + (len === PUMP_LOST ? 0 : len), fill);
  b.writeUInt32LE(len, 0);
  return b;
}

t.test('frames survive any split of the byte stream', async (t) => {
  const stream = Buffer.concat([frame(0), frame(20, 1), frame(PUMP_LOST), frame(3, 2), frame(100, 3)]);
  const want = ['ready', 'frame 20 1', 'lost', 'frame 3 2', 'frame 100 3'];
  for (let cut1 = 0; cut1 <= stream.length; cut1++) {
    for (const cut2 of [cut1, Math.min(stream.length, cut1 + 1), Math.min(stream.length, cut1 + 7)]) {
      const got: string[] = [];
      const d = new PumpDecoder();
      const on = {
        frame: (b: Buffer) => got.push(`frame ${b.length} ${b[0]}`),
        lost: () => got.push('lost'),
        ready: () => got.push('ready'),
      };
      d.push(stream.subarray(0, cut1), on);
      d.push(stream.subarray(cut1, cut2), on);
      d.push(stream.subarray(cut2), on);
      if (JSON.stringify(got) !== JSON.stringify(want)) {
        t.same(got, want, `split at ${cut1}/${cut2}`);
        return;
      }
    }
  }
  t.pass('all splits decode the same');
});
