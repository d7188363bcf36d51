"""The ramdisk's ``/init`` and its DHCP hook, as text the builder writes into the image.

Kept as Python strings (not package data files) so the builder is one importable package.
``/init`` is PID 1: it mounts the kernel file systems, loads the modules listed in
``/etc/ingot/modules.load`` (dependency order, computed at build time), brings up the NIC
named by ``BOOTIF`` with DHCP (busybox udhcpc), and runs ``ingot-agent``, which reads the
kernel command line itself. If the agent exits, it is restarted: PID 1 must never exit.
"""

from __future__ import annotations

INIT = r"""#!/bin/sh
# Ingot deploy ramdisk /init (PID 1). Written by ingot.ramdisk; see docs/real-machines.md.
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C.UTF-8 PYTHONDONTWRITEBYTECODE=1
mkdir -p /proc /sys /dev /run /tmp
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
log() { echo "ingot-ramdisk: $* (uptime $(cut -d' ' -f1 /proc/uptime))" > /dev/console; }
log "started, kernel $(uname -r)"
KVER=$(uname -r)
while read -r module; do
  [ -n "$module" ] && busybox insmod "/lib/modules/$KVER/$module" 2>/dev/null
done < /etc/ingot/modules.load
log "modules loaded"
busybox hostname ingot-ramdisk
busybox ip link set lo up
BOOTIF=
for word in $(cat /proc/cmdline); do
  case "$word" in
    BOOTIF=*) BOOTIF=${word#BOOTIF=} ;;
    ingot.shell=1) SHELL_ON_FAIL=1 ;;
  esac
done
# BOOTIF=01-aa-bb-cc-dd-ee-ff (ARP type 01, then the MAC) names the NIC that PXE-booted.
MAC=$(echo "${BOOTIF#01-}" | tr 'A-F-' 'a-f:')
find_nics() {
  for dev in /sys/class/net/*; do
    [ -e "$dev/device" ] || continue
    if [ -z "$BOOTIF" ] || [ "$(cat "$dev/address")" = "$MAC" ]; then basename "$dev"; fi
  done
}
NICS=
tries=0
# NIC drivers probe asynchronously; wait up to 30 s for the boot NIC to appear.
while [ -z "$NICS" ] && [ $tries -lt 60 ]; do
  NICS=$(find_nics); [ -n "$NICS" ] || sleep 0.5; tries=$((tries + 1))
done
UP=
while [ -z "$UP" ]; do
  for nic in $NICS; do
    busybox ip link set "$nic" up
    if busybox udhcpc -i "$nic" -q -n -t 10 -T 2 -s /etc/ingot/udhcpc.script >/dev/null 2>&1; then
      UP=$nic; break
    fi
  done
  if [ -z "$UP" ]; then
    log "no DHCP answer on: ${NICS:-no NIC found}; retrying"; sleep 5; NICS=$(find_nics)
  fi
done
log "network up on $UP: $(busybox ip -4 -o addr show dev "$UP" | awk '{print $4}')"
while true; do
  log "starting ingot-agent"
  /usr/local/bin/ingot-agent > /dev/console 2>&1
  log "ingot-agent exited with $?; restarting in 5 s"
  [ -n "$SHELL_ON_FAIL" ] && setsid sh -c 'exec sh </dev/console >/dev/console 2>&1'
  sleep 5
done
"""

UDHCPC_SCRIPT = r"""#!/bin/sh
# busybox udhcpc hook: apply the lease (address, default route, DNS).
case "$1" in
  bound|renew)
    busybox ip addr flush dev "$interface"
    busybox ip addr add "$ip/${mask:-24}" dev "$interface"
    if [ -n "$router" ]; then
      busybox ip route replace default via "${router%% *}" dev "$interface"
    fi
    : > /etc/resolv.conf
    for server in $dns; do echo "nameserver $server" >> /etc/resolv.conf; done
    [ -n "$domain" ] && echo "search $domain" >> /etc/resolv.conf
    ;;
  deconfig)
    busybox ip addr flush dev "$interface"
    ;;
esac
exit 0
"""

AGENT_LAUNCHER = """#!/usr/bin/python3
# ingot-agent launcher, written by ingot.ramdisk (the wheel is unpacked into dist-packages).
import sys

from ingot_agent.cli import main

sys.exit(main())
"""

# busybox applets the agent and /init call by name when the Debian root lacks them.
APPLETS = ("poweroff", "reboot", "udhcpc", "ip", "insmod", "modprobe", "blkid", "awk", "setsid")
