#!/usr/bin/env bash
# Install the host packages the test harness needs (Debian 12), idempotently:
#   podman + runc      rootful containers for molecule (runc: crun fails on the
#                      lab machines' hybrid cgroup layout, see molecule/containers.conf)
#   debootstrap        the image base (no container registry is reachable)
#   qemu-utils         qemu-img, to make small test images
#   iproute2           ss, for the harness' host-port check
#   chromium           headless, opens glance-verify's HTML report in the unit tests
#                      (tests/unit/test_verify_html.py); Debian 12 and 13 ship it
#   iptables           netavark (podman's network backend) sets up container networks with it;
#                      a fresh machine may lack it ("netavark: No such file or directory")
# When everything is installed already it touches nothing (no apt-get update).
# apt may be held by a converge running on this host: wait up to 10 minutes for it.
set -euo pipefail

packages=(
  podman runc conmon netavark aardvark-dns iptables golang-github-containers-common
  debootstrap debian-archive-keyring
  qemu-utils iproute2 ca-certificates
  chromium
)
# The install itself: scripts/apt-ensure.sh (shared with bootstrap.sh).
exec "$(dirname "$0")/apt-ensure.sh" "${packages[@]}"
