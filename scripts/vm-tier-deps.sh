#!/usr/bin/env bash
# Debian packages for real machines and the QEMU VM tier (docs/real-machines.md):
#   ramdisk builder: debootstrap, kmod (depmod), busybox-static
#   test image:      syslinux + syslinux-common (BIOS, installed through mtools: no loop
#                    devices or mounts needed), mtools + dosfstools (FAT), grub-efi-amd64-bin
#                    + grub-common (grub-mkstandalone for the UEFI loader), fdisk (sfdisk)
#   VM tier:         qemu-system-x86 (TCG), qemu-utils, ipxe (iPXE ROMs, undionly.kpxe,
#                    ipxe.efi), ovmf (UEFI firmware), dnsmasq-base (no system service), iproute2
# Idempotent: installs only what is missing; as non-root it only reports what is missing.
set -euo pipefail
PKGS="qemu-system-x86 qemu-utils ipxe ovmf debootstrap busybox-static kmod
      syslinux syslinux-common extlinux mtools dosfstools grub-efi-amd64-bin grub-common
      fdisk e2fsprogs dnsmasq-base iproute2 python3-venv"
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -z "$missing" ]; then
  echo "vm-tier-deps: all installed"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "vm-tier-deps: not root; missing:$missing (the VM tier tests will skip)" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >/dev/null
# shellcheck disable=SC2086  # word splitting of the package list is intended
apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "vm-tier-deps: installed$missing"
