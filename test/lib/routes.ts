// One flat view of an EVPN path as FRR or GoBGP report it (vtysh / gobgp JSON), so
// that end-to-end tests can assert on either daemon the same way.

export interface EvpnPathView {
  routeType: number;
  /** "192.168.1.87:100" */
  rd: string;
  mac?: string;
  /** Absent for MAC-only type-2; the originating router's IP for type-3. */
  ip?: string;
  /** Raw label values when the daemon reports them (GoBGP does; FRR's JSON does not). */
  labels?: number[];
  nextHop?: string;
  localPref?: number;
  originatorId?: string;
  clusterList?: string[];
  routeTargets: string[];
  /** AS_PATH as text, "" for iBGP. */
  asPath?: string;
  best: boolean;
  valid: boolean;
  /** The peer the path was learned from (undefined for local paths where unknown). */
  from?: string;
}

/** Paths matching every given field (e.g. { mac, ip }, { routeType: 3 }). */
export function findPaths(paths: EvpnPathView[], want: Partial<EvpnPathView>): EvpnPathView[] {
  return paths.filter((p) => Object.entries(want).every(([k, v]) => JSON.stringify(p[k as keyof EvpnPathView]) === JSON.stringify(v)));
}
