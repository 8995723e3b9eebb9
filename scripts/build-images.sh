#!/usr/bin/env bash
# Build the disposable Debian controller images the tests run on, for Debian 12
# (bookworm) and Debian 13 (trixie). No container registry is reachable here,
# so everything starts from debootstrap:
#
#   localhost/glance-lab/debianN-base             debootstrap --variant=minbase, imported
#   localhost/glance-lab/debianN-systemd          + systemd as PID 1      (molecule/images/Containerfile.systemd)
#   localhost/glance-lab/debianN-nosystemd        + tini as PID 1, policy-rc.d 101 (Containerfile.nosystemd)
#   localhost/glance-lab/debianN-fresh-systemd    a fresh box: python3 git make ca-certificates, systemd
#   localhost/glance-lab/debianN-fresh-nosystemd  a fresh box: python3 git make ca-certificates, tini
#
# The molecule images (systemd, nosystemd) carry the .debs of every package the
# roles install in apt's cache, downloaded at build time (molecule/images/preload-packages),
# but no package lists: a scenario's converge finds no list, as on a box built
# the common way ("update, install, remove the lists"), and must refresh them
# itself; it then installs from the cache instead of the network. The fresh
# images carry nothing beyond what a freshly installed minimal box has.
#
# Cached: every image carries the label org.glance-lab.recipe, a hash of what
# built it (the section of this script that builds it, the mirror, the
# Containerfile and the files beside it, the base image's ID). An image whose
# label matches is left alone, so a second run takes a second or two. --force
# rebuilds them.
#
#   scripts/build-images.sh [--force] [12|13 ...]   (default: both releases)
#
# Environment:
#   GLANCE_LAB_CACHE    where the debootstrap rootfs tarballs are kept (default: .cache/images)
#   GLANCE_LAB_MIRROR   Debian mirror (default: the first bookworm URI in /etc/apt)
#   GLANCE_LAB_SECURITY_MIRROR   security mirror (default: from /etc/apt, else deb.debian.org)
#   GLANCE_LAB_FLAVOURS which derived images (default: systemd nosystemd fresh-systemd fresh-nosystemd)
#   CONTAINERS_CONF     podman settings (default: molecule/containers.conf)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
script=$root/scripts/build-images.sh
images_dir=$root/molecule/images
cache=${GLANCE_LAB_CACHE:-$root/.cache/images}
declare -A suites=([12]=bookworm [13]=trixie)
prefix=localhost/glance-lab
label=org.glance-lab.recipe
export CONTAINERS_CONF=${CONTAINERS_CONF:-$root/molecule/containers.conf}

force=false releases=()
for arg in "$@"; do
  case $arg in
    --force) force=true ;;
    12 | 13) releases+=("$arg") ;;
    *) echo "usage: scripts/build-images.sh [--force] [12|13 ...]" >&2; exit 2 ;;
  esac
done
((${#releases[@]})) || releases=(12 13)
read -r -a flavours <<<"${GLANCE_LAB_FLAVOURS:-systemd nosystemd fresh-systemd fresh-nosystemd}"

log() { printf 'build-images: %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ $(id -u) == 0 ]] || die "needs root (rootful podman and debootstrap); run it with sudo"
for tool in podman debootstrap sha256sum; do
  command -v "$tool" >/dev/null || die "$tool not found: run scripts/install-test-deps.sh first"
done

# The mirror this machine's apt uses is the one that is reachable: read it from
# deb822 .sources files first, then classic .list files.
apt_uris() {  # $1 = suite to match, prints matching URIs
  local want=$1 f
  for f in /etc/apt/sources.list.d/*.sources; do
    [[ -f $f ]] || continue
    awk -v want="$want" '
      function flush() { if (types ~ /(^| )deb( |$)/ && (" " suites " ") ~ (" " want " ")) print uris; types = uris = suites = "" }
      /^[[:space:]]*$/ { flush(); next }
      /^Types:/  { sub(/^Types:[[:space:]]*/, "");  types = $0 }
      /^URIs:/   { sub(/^URIs:[[:space:]]*/, "");   uris = $1 }
      /^Suites:/ { sub(/^Suites:[[:space:]]*/, ""); suites = $0 }
      END { flush() }' "$f"
  done
  { cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null || true; } \
    | awk -v want="$want" '$1 == "deb" { i = 2; if ($2 ~ /^\[/) { while ($i !~ /\]$/) i++; i++ } if ($(i+1) == want) print $i }'
}
# Both releases come from the mirror this host uses for bookworm.
mirror=${GLANCE_LAB_MIRROR:-$(apt_uris bookworm | head -n1)}
security=${GLANCE_LAB_SECURITY_MIRROR:-$(apt_uris bookworm-security | head -n1)}
mirror=${mirror:-http://deb.debian.org/debian}
security=${security:-http://deb.debian.org/debian-security}
mirror=${mirror%/} security=${security%/}

recipe_of() {  # image -> its recipe label, empty when absent
  podman image inspect --format "{{ index .Labels \"$label\" }}" "$1" 2>/dev/null || true
}
id_of() { podman image inspect --format '{{ .Id }}' "$1" 2>/dev/null || true; }
drop_old() {  # remove the image a rebuild replaced, unless something still uses it
  local old=$1 name=$2
  [[ -n $old && $old != "$(id_of "$name")" ]] || return 0
  podman rmi "$old" >/dev/null 2>&1 || log "kept old image ${old:0:12} (still in use)"
}

mkdir -p "$cache"
# One build at a time per cache (two developers' `make test` on one machine).
exec 9>"$cache/.lock"
flock 9

section() { sed -n "/^  # --- $1/,/^  # --- /p" "$script"; }  # this script's recipe for one stage

build_release() {  # release number: its base image, then the derived images
  local release=$1 suite=${suites[$1]} base base_recipe tarball start old rootfs keyring base_id
  local flavour name file recipe
  # --- base: debootstrap minbase, imported --------------------------------------------
  base=$prefix/debian$release-base
  base_recipe=$( { section base; echo "$suite $mirror $security"; } | sha256sum | cut -c1-16)
  tarball=$cache/debian$release-base-$base_recipe.tar
  if ! $force && [[ $(recipe_of "$base") == "$base_recipe" ]]; then
    log "$base is up to date (recipe $base_recipe)"
  else
    start=$SECONDS
    old=$(id_of "$base")
    if $force || [[ ! -s $tarball ]]; then
      rootfs=$cache/rootfs-$suite
      rm -rf "$rootfs" "$cache"/debian$release-base-*.tar
      log "debootstrap --variant=minbase $suite from $mirror"
      debootstrap --variant=minbase "$suite" "$rootfs" "$mirror" >"$cache/debootstrap-$suite.log" 2>&1 \
        || { tail -n 30 "$cache/debootstrap-$suite.log" >&2; die "debootstrap failed (log: $cache/debootstrap-$suite.log)"; }
      # The release's suites: SUITE, SUITE-updates, SUITE-security.
      rm -f "$rootfs/etc/apt/sources.list"
      keyring=/usr/share/keyrings/debian-archive-keyring.gpg
      [[ -e $rootfs$keyring ]] || keyring=/usr/share/keyrings/debian-archive-keyring.pgp
      cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: $suite $suite-updates
Components: main
Signed-By: $keyring

Types: deb
URIs: $security
Suites: $suite-security
Components: main
Signed-By: $keyring
EOF
      rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/*.log
      tar --numeric-owner --xattrs -C "$rootfs" -cf "$tarball.tmp" .
      mv "$tarball.tmp" "$tarball"
      rm -rf "$rootfs"
    else
      log "re-importing cached rootfs $tarball"
    fi
    podman import --quiet --change "LABEL $label=$base_recipe" --change 'CMD ["/bin/bash"]' \
      "$tarball" "$base" >/dev/null
    drop_old "$old" "$base"
    log "built $base in $((SECONDS - start)) s (recipe $base_recipe)"
  fi
  base_id=$(id_of "$base")

  # --- derived images from molecule/images/Containerfile.<flavour> ---------------------
  for flavour in "${flavours[@]}"; do
    name=$prefix/debian$release-$flavour
    file=$images_dir/Containerfile.$flavour
    recipe=$( { section derived; cat "$file" "$images_dir"/policy-rc.d "$images_dir"/preload-packages; echo "$base_id"; } \
      | sha256sum | cut -c1-16)
    if ! $force && [[ $(recipe_of "$name") == "$recipe" ]]; then
      log "$name is up to date (recipe $recipe)"
      continue
    fi
    start=$SECONDS
    old=$(id_of "$name")
    log "building $name"
    podman build --pull=never --layers=false --label "$label=$recipe" --build-arg "BASE=$base" \
      -f "$file" -t "$name" "$images_dir" >"$cache/build-$release-$flavour.log" 2>&1 \
      || { tail -n 30 "$cache/build-$release-$flavour.log" >&2; die "podman build $name failed (log: $cache/build-$release-$flavour.log)"; }
    drop_old "$old" "$name"
    log "built $name in $((SECONDS - start)) s (recipe $recipe)"
  done
  # --- end of a release -----------------------------------------------------------
}

for release in "${releases[@]}"; do
  build_release "$release"
done

# --- end ---------------------------------------------------------------------------
podman images --filter "reference=$prefix/*" --format '{{.Repository}}:{{.Tag}} {{.ID}} {{.Size}}' >&2
