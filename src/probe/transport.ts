// The one seam between VtepProber and the network. The prober builds whole VXLAN
// datagrams (packet.ts) and receives decapsulated inner UDP payloads; how they get
// on and off the wire is the transport's business (udp.ts: kernel sockets; unit
// tests: an in-memory fake).

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
   * source address. One handler; a second call replaces the first.
   */
  onReceive(handler: (payload: Uint8Array, from: string) => void): void;
  close(): void;
}
