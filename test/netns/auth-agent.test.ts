// The agent (`evpn-ha run`) with authenticated sessions to the design brief's FRR
// reflectors, dynamic neighbours through `bgp listen range`:
//   net1: `neighbor CLIENTS password` + `ttl-security hops 1`; the agent has
//         uplinks[].password and ttlSecurity: true → Established, and `show
//         neighbors` says auth md5 and ttl-security 1 hop (never the password);
//   net2: FRR has a password, the agent a wrong one → the session never comes up,
//         nothing crashes, and `show neighbors` explains "no answer ...; check
//         authentication" once the connect attempt times out; then the right
//         password by `evpn-ha reload` restarts the session and it comes up.
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { agentTail, setupE2e, showNeighbors, skipReason, startAgent, stopAgents, type E2e } from '../lib/e2e.js';
import { waitFor } from '../lib/netns.js';
import type { AgentTuning } from '../../src/lab/twonet.js';

const NET1 = 'evpn-ha.net1';
const NET2 = 'evpn-ha.net2';

const reason = skipReason();
if (reason) {
  t.plan(0, reason);
} else {
  let e: E2e | undefined;
  t.teardown(() => stopAgents(e));

  t.test('agent: TCP-MD5 + GTSM with FRR listen ranges; a wrong password explained, then fixed by reload', async (t) => {
    e = await setupE2e('aa', t, { clientLines: { net1: [`password ${NET1}`, 'ttl-security hops 1'], net2: [`password ${NET2}`] } });
    const tuning = (net2: string): AgentTuning => ({
      bfd: false, vtepProbe: false, connectRetry: 1,
      uplinkExtra: { net1: [`password: "${NET1}"`, 'ttlSecurity: true'], net2: [`password: "${net2}"`] },
    });
    const a = startAgent(e, 'l', tuning('not.the.password'));
    const neighbor = (uplink: string): Record<string, unknown> | undefined => {
      try {
        return showNeighbors(e!, 'l').find((n) => n['uplink'] === uplink);
      } catch {
        return undefined; // control socket not up yet
      }
    };
    try {
      const n1 = await waitFor(() => {
        const n = neighbor('net1');
        return n?.['state'] === 'Established' ? n : undefined;
      }, 30000, 'net1 Established');
      t.equal(n1['auth'], 'md5');
      t.equal(n1['ttlSecurity'], 1);

      // The connect timeout is 30 s: after it the wrong password is explained.
      const n2 = await waitFor(() => {
        const n = neighbor('net2');
        return /no answer/.test(String((n?.['lastError'] as { text?: string } | null)?.text)) ? n : undefined;
      }, 50000, 'net2 explained');
      t.not(n2['state'], 'Established');
      t.match((n2['lastError'] as { text: string }).text,
        /^no answer from 192\.168\.2\.2 within 30 s; check authentication \(TCP-MD5 password/);
      const text = e.net.evpnHaCli('l', ['show', 'neighbors', '--socket', e.net.socketPath('l')]);
      t.match(text, /net1: .*auth: md5; ttl-security: 1 hop/);
      t.match(text, /net2: .*auth: md5; .*last error: no answer from 192\.168\.2\.2/);
      t.notMatch(text + a.output(), /evpn-ha\.net[12]|not\.the\.password/, 'no password in show output or logs');
      t.equal(a.child.exitCode, null, 'the agent is still running');

      // The right password, applied by reload: the session restarts and comes up.
      writeFileSync(a.configPath, e.net.agentConfig('l', tuning(NET2)));
      const r = e.net.evpnHaCli('l', ['reload', '--socket', e.net.socketPath('l')]);
      t.match(r, /uplinks\.net2/, 'reload restarts the net2 session');
      await waitFor(() => neighbor('net2')?.['state'] === 'Established' || undefined, 30000, 'net2 Established after reload');
      t.equal(neighbor('net1')?.['state'], 'Established', 'net1 untouched');
    } catch (err) {
      t.comment(agentTail(e, 'l', 40));
      t.comment(e.rr.net2.logTail(20));
      throw err;
    }
  });
}
