// The one seam between VtepProber and the network. The prober builds whole VXLAN
// datagrams (packet.ts) and receives decapsulated inner UDP payloads; how they get
// on and off the wire is the transport's business (mmsg.ts: kernel sockets with
// batched system calls; udp.ts: node:dgram, the fallback; unit tests: an in-memory
// fake).

export interface ProbeTransport {
  /**
   * Send `datagram` (bytes from the VXLAN header on) as the payload of a UDP
   * datagram from `localVtep` (any source port) to `remoteVtep`, VXLAN port.
   * Must not throw for network errors (those are the prober's "no reply").
   */
  send(localVtep: string, remoteVtep: string, datagram: Uint8Array): void;
  /**
   * Install the receiver of inner UDP payloads that reached the probe port
   * (after the kernel decapsulated and bridged them); `from` is the inner IPv4
   * source address. One handler; a second call replaces the first. `payload` is
   * valid during the call only (a transport may reuse its memory).
   */
  onReceive(handler: (payload: Uint8Array, from: string) => void): void;
  /**
   * A transport with no wake-up of its own for received datagrams (mmsg.ts) reads
   * what has arrived when poll() is called, calling the handler for each; the
   * prober then polls it at the start of every tick (ticks.ts). Absent: the
   * transport calls the handler as datagrams arrive.
   */
  poll?(): void;
  close(): void;
}
