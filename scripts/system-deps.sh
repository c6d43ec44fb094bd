#!/usr/bin/env bash
# Installs the Debian packages fecflow needs to build and test, when any is missing.
# As root it uses apt-get non-interactively; otherwise it prints the exact command and fails.
set -euo pipefail

packages=(clang llvm libbpf-dev libelf-dev zlib1g-dev pkg-config make g++ iproute2 tcpdump bpftool
  iputils-ping python3-scapy prometheus frr tshark
  freeradius freeradius-utils  # an ISP's AAA server and radclient, in the sessions tests
  nftables traceroute iputils-tracepath  # the bench's nftables baseline; ICMP error tests in the lab
  nats-server  # the fleet tests (a JetStream server 2.9)
  openssl  # the TLS tests make their own CA
  dpkg-dev lintian man-db systemd  # these four: ./run package and its tests
  chromium  # the portal's browser tests (driven by playwright-core)
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
  echo "fecflow: missing system packages: ${missing[*]}" >&2
  echo "fecflow: run as root:  $cmd" >&2
  exit 1
fi
echo "fecflow: installing system packages: ${missing[*]}" >&2
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
