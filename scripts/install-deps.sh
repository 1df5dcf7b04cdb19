#!/usr/bin/env bash
# Installs the Debian packages sdnkit and its tests use, only those missing (idempotent).
# Daemons are started by sdnkit and its tests with private configs, never as system services,
# so any service the packages enable is stopped and disabled again.
set -euo pipefail
PACKAGES=(
  iproute2 nftables iptables conntrack iputils-ping busybox isc-dhcp-client psmisc procps
  frr frr-pythontools dnsmasq-base pdns-server pdns-backend-sqlite3 sqlite3 dnsutils
  etcd-server etcd-client user-mode-linux kmod python3 python3-venv python3-pip openssl curl
  tcpdump gcc libc6-dev
  chromium
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "installing: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
  if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
    for svc in pdns frr etcd dnsmasq; do
      systemctl disable --now "$svc" >/dev/null 2>&1 || true
    done
  fi
fi
# Debian's ifupdown2, unpacked for the cross-check tests only (never installed: it would own
# /etc/network); cached, so this is a no-op after the first time
"$(dirname "$0")/ifupdown2.sh" prepare >/dev/null
