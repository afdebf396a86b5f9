#!/usr/bin/env bash
# fresh.sh -- the fresh-machine check: the README's two commands on a bare
# Debian 12 root, as a newcomer would run them.
#
# The development machines and CI already have every package this project
# needs, so a broken install step cannot show there. This script builds a
# Debian 12 (bookworm) `minbase` root with debootstrap, adds only what the
# README's quick start says a bare machine needs (`make` and `git`) plus the
# host's CA trust (so apt and npm work behind a TLS-inspecting proxy), clones
# this repository's committed HEAD into it, and runs `make demo` and then
# `make check` there as root, timing each. Nothing is installed on the host
# except debootstrap itself.
#
#   tests/fresh/fresh.sh               make demo, then make check
#   tests/fresh/fresh.sh --demo-only   make demo only (what .ci/run does)
#   --keep        leave the root (and its logs) in place, print where
#   --no-cache    download every package again (by default .deb files are
#                 kept in $FRESH_CACHE, /var/cache/avesa-fresh, between runs:
#                 the same bytes apt would fetch, so no install step is
#                 skipped; only the download is)
#   --workdir D   build the root under D (default: a new /var/tmp/bf-fresh.*)
#
# The mirror is the one the host's apt sources name for bookworm (or
# $FRESH_MIRROR); it is written only into the scratch root, never into the
# repository. Ends with "N passed, N failed" (one per command run). Needs
# root: debootstrap, chroot and mount.
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
suite=bookworm
demo_only=0 keep=0 cache=1 workdir=""
while [ $# -gt 0 ]; do
  case "$1" in
    --demo-only) demo_only=1 ;;
    --keep) keep=1 ;;
    --no-cache) cache=0 ;;
    --workdir) workdir=$2; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "fresh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

say() { echo "fresh: $*"; }
die() { echo "fresh: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "needs root (debootstrap, chroot, mount)"

# The first bookworm URI in the host's apt sources, deb822 or one-line form.
host_mirror() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -e "$f" ] || continue
    awk -v s="$suite" '
      /^[ \t]*$/ { if (ok && uri != "") { print uri; exit } ok = 0; uri = ""; next }
      tolower($1) == "uris:" { uri = $2 }
      tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i == s) ok = 1 }
      END { if (ok && uri != "") print uri }' "$f" | head -n1
  done
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -e "$f" ] || continue
    awk -v s="$suite" '$1 == "deb" {
      n = 2; if ($n ~ /^\[/) { while ($n !~ /\]$/) n++; n++ }
      if ($(n + 1) == s) { print $n; exit } }' "$f"
  done
}

mirror=${FRESH_MIRROR:-$(host_mirror | head -n1)}
[ -n "$mirror" ] || die "no $suite mirror in /etc/apt/sources.list{,.d}; set FRESH_MIRROR"

if ! command -v debootstrap >/dev/null 2>&1; then
  say "installing debootstrap on the host"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
fi

work=${workdir:-$(mktemp -d /var/tmp/bf-fresh.XXXXXX)}
mkdir -p "$work"
root=$work/root
cachedir=${FRESH_CACHE:-/var/cache/avesa-fresh}
mounts=()

# Processes a test left running inside the root would keep its mounts busy.
kill_inside() {
  local p
  for p in /proc/[0-9]*; do
    [ "$(readlink "$p/root" 2>/dev/null)" = "$root" ] && kill -9 "${p#/proc/}" 2>/dev/null
  done
  return 0
}

# The EXIT trap keeps the script's own status: under `set -e` and pipefail
# any probe below that finds nothing (grep with no match) would otherwise
# turn a passing run into exit 1.
cleanup() {
  local rc=$? i
  set +e
  kill_inside
  for ((i = ${#mounts[@]} - 1; i >= 0; i--)); do
    umount -l "${mounts[$i]}" 2>/dev/null || true
  done
  # Anything a test mounted inside (a tmpfs, say) goes too.
  grep -o " $root/[^ ]*" /proc/mounts | sort -r | while read -r m; do umount -l "$m" 2>/dev/null; done
  if [ "$keep" -eq 1 ]; then
    say "kept $work"
  else
    rm -rf --one-file-system "$work"
  fi
  exit "$rc"
}
trap cleanup EXIT

mount_in() { # mount_in TARGET ARGS...
  mkdir -p "$root$1"
  mount "${@:2}" "$root$1"
  mounts+=("$root$1")
}

t0=$SECONDS
say "debootstrap --variant=minbase $suite from the host's mirror into $root"
dbs=(--variant=minbase)
if [ "$cache" -eq 1 ]; then mkdir -p "$cachedir/debootstrap"; dbs+=("--cache-dir=$cachedir/debootstrap"); fi
debootstrap "${dbs[@]}" "$suite" "$root" "$mirror" >"$work/debootstrap.log" 2>&1 ||
  { tail -20 "$work/debootstrap.log" >&2; die "debootstrap failed (log: $work/debootstrap.log)"; }

# The host's CA trust: its local anchors (a TLS-inspecting proxy's, say)
# where update-ca-certificates picks them up when `make deps` installs
# ca-certificates. Not the host's bundle: /etc/ssl/certs/ca-certificates.crt
# is what install-deps.sh probes for, and a copy would hide that install.
mkdir -p "$root/usr/local/share/ca-certificates"
cp -a /usr/local/share/ca-certificates/. "$root/usr/local/share/ca-certificates/" 2>/dev/null || true
cp -L /etc/resolv.conf "$root/etc/resolv.conf"

mount_in /proc -t proc proc
mount_in /sys -t sysfs sysfs
mount_in /dev --bind /dev
mount_in /dev/pts --bind /dev/pts
if [ "$cache" -eq 1 ]; then
  mkdir -p "$cachedir/apt"
  mount_in /var/cache/apt/archives --bind "$cachedir/apt"
fi

# A newcomer's shell: root, a clean environment, nothing of this host's.
inside() {
  chroot "$root" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
    PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    /bin/bash -c "$1"
}

# Exactly what the README's quick start tells a bare machine to install.
# shellcheck disable=SC2016 # the backquotes are literal Markdown
prereq=$(awk '/^## Quick start/ { q = 1; next } /^## / { q = 0 } q' "$top/README.md" |
  tr '\n' ' ' | grep -o '`apt-get update && apt-get install [^`]*`' | head -n1 | tr -d '`')
[ -n "$prereq" ] || die "the README's quick start names no \`apt-get update && apt-get install ...\`"
say "the README's prerequisites: $prereq"
inside "export DEBIAN_FRONTEND=noninteractive; $prereq" >"$work/base.log" 2>&1 ||
  { tail -20 "$work/base.log" >&2; die "the README's prerequisite command failed"; }
say "root ready in $((SECONDS - t0)) s"

rev=$(git -C "$top" rev-parse --short HEAD)
git clone -q --no-hardlinks "$top" "$root/root/avesa-backfill"
say "cloned $rev (committed HEAD; uncommitted changes are not in the clone)"

passed=0 failed=0 report=()
run_step() { # run_step "make demo"
  local s=$SECONDS rc=0
  say "$1 (log: $work/${1// /-}.log)"
  inside "cd /root/avesa-backfill && $1" 2>&1 | tee "$work/${1// /-}.log" | sed 's/^/  | /' || rc=$?
  local took=$((SECONDS - s))
  if [ "$rc" -eq 0 ]; then
    passed=$((passed + 1)); report+=("PASS $1 in $took s")
  else
    failed=$((failed + 1)); report+=("FAIL $1 (exit $rc) after $took s")
  fi
  return "$rc"
}

# make check runs even after a red demo: both results are worth having.
run_step "make demo" || true
[ "$demo_only" -eq 1 ] || run_step "make check" || true

for l in "${report[@]}"; do say "$l"; done
say "commit $rev, Debian $(cat "$root/etc/debian_version"), total $((SECONDS - t0)) s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
