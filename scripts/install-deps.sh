#!/usr/bin/env bash
# Installs the Debian packages the namespace tests, the benchmarks and the demo use, when missing.
# Every program that src/, test/, bench/ or scripts/ runs is either in a fresh Debian image
# (iproute2, procps, util-linux, binutils, python3) or named here.
set -euo pipefail
need=()
command -v ip >/dev/null || need+=(iproute2)
command -v bridge >/dev/null || need+=(iproute2)
command -v sysctl >/dev/null || need+=(procps)
command -v ping >/dev/null || need+=(iputils-ping)
command -v iptables >/dev/null || need+=(iptables)
command -v tcpdump >/dev/null || need+=(tcpdump)
command -v nft >/dev/null || need+=(nftables)   # test/netns/probe.test.ts blackholes VXLAN with bridge-family rules
command -v tshark >/dev/null || need+=(tshark) # scripts/capture-golden.sh dissects fixtures with it
[ -x /usr/lib/frr/bgpd ] || need+=(frr)     # bgpd, zebra, bfdd, vtysh (test/lib/frr.ts)
command -v gobgpd >/dev/null || need+=(gobgpd) # gobgpd and the gobgp CLI (test/lib/gobgp.ts)
if [ "$(id -u)" = 0 ] && [ ${#need[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
