#!/usr/bin/env bash
# System packages the tests use for real components (LAB.md): dnsmasq, busybox's udhcpc,
# qemu-img, PostgreSQL, cloud-init's config-drive reader, ipmitool for cross-checks.
set -euo pipefail
PKGS="dnsmasq-base busybox-static ipxe qemu-utils postgresql cloud-init ipmitool gdisk fdisk iproute2"
missing=""
for p in $PKGS; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ]; then
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends $missing >/dev/null
  else
    echo "test-deps: not root; tests needing:$missing will skip" >&2
  fi
fi
