// The netlink sockets' receive buffer beyond net.core.rmem_max (src/kernel/netlink-fd.ts):
// the size the kernel reports back (SO_RCVBUF, doubled by the kernel) for a socket
// asked for twice rmem_max. Needs root (CAP_NET_ADMIN); skipped otherwise.
import { readFileSync } from 'node:fs';
import t from 'tap';
import { RawNetlinkSocket } from 'netlink';
import { socketFds, withForcedRecvBuffer } from '../../src/kernel/netlink-fd.js';
import { openRouteSocket } from '../../src/kernel/rtnl-requests.js';

const root = process.getuid?.() === 0;
const rmemMax = Number(readFileSync('/proc/sys/net/core/rmem_max', 'utf8'));

const small = { recvBufferSize: 65536, sendBufferSize: 65536 };

t.test('socketFds lists this process\'s sockets', (t) => {
  const before = socketFds();
  const s = new RawNetlinkSocket(0, small);
  const fresh = [...socketFds()].filter(([fd, inode]) => before.get(fd) !== inode);
  t.ok(fresh.length >= 1, 'the new socket is listed');
  s.close();
  t.end();
});

t.test('an fd that cannot be told apart is left alone', (t) => {
  const none = withForcedRecvBuffer(1 << 20, () => null);
  t.match(none.result, { forced: false, why: /found 0 new NETLINK_ROUTE sockets/ }, 'no new socket');
  const two = withForcedRecvBuffer(1 << 20, () => [new RawNetlinkSocket(0, small), new RawNetlinkSocket(0, small)]);
  t.match(two.result, { forced: false, why: /found 2 new NETLINK_ROUTE sockets/ }, 'two new sockets: which is which is not known');
  for (const s of two.socket) s.close();
  t.end();
});

t.test('a NETLINK_ROUTE socket gets the receive buffer asked for, beyond rmem_max', { skip: root ? false : 'needs CAP_NET_ADMIN (root)' }, (t) => {
  const want = 2 * rmemMax;
  const capped = new RawNetlinkSocket(0, { recvBufferSize: want, sendBufferSize: 65536 });
  t.equal(capped.getRecvBufferSize(), 2 * rmemMax, `the addon alone: capped at rmem_max (${rmemMax}), doubled by the kernel`);
  capped.close();
  const { socket, result } = withForcedRecvBuffer(want, () => new RawNetlinkSocket(0, { recvBufferSize: want, sendBufferSize: 65536 }));
  t.match(result, { forced: true }, 'forced');
  t.equal(socket.getRecvBufferSize(), 2 * want, 'the size asked for (doubled by the kernel)');
  socket.close();
  let seen: unknown = null;
  const s = openRouteSocket(want, undefined, (r) => { seen = r; });
  t.match(seen, { forced: true });
  t.equal(s.getRecvBufferSize(), 2 * want, 'openRouteSocket does it too');
  s.close();
  t.end();
});
