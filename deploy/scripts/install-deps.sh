#!/usr/bin/env bash
# install-deps.sh -- install what building and testing avesa-backfill needs.
#
# `make deps` (and so `make check` and `make demo`) runs this first. On a
# Debian machine as root it installs whatever is missing with apt-get and
# the pinned npm test tooling with `npm ci`; otherwise it prints the exact
# command to run and stops. It does nothing when everything is present, so
# it is cheap to run every time.
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)

# The file probes below look under $INSTALL_DEPS_ROOT (default: /), so that
# tests/deps can point them at a scratch tree; command probes follow PATH.
root=${INSTALL_DEPS_ROOT:-}

# Debian package -> a file or command that proves it is installed.
declare -A probe=(
  [build-essential]=/usr/bin/cc
  [make]=/usr/bin/make
  [pkg-config]=/usr/bin/pkg-config
  [libcurl4-openssl-dev]=/usr/include/x86_64-linux-gnu/curl/curl.h
  [libcjson-dev]=/usr/include/cjson/cJSON.h
  [libssl-dev]=/usr/include/openssl/ssl.h
  [zlib1g-dev]=/usr/include/zlib.h
  [libdeflate-dev]=/usr/include/libdeflate.h
  [check]=/usr/include/check.h
  [nodejs]=node
  [npm]=npm
  [shellcheck]=shellcheck
  [procps]=ps
  # deploy/scripts/build-curl.sh: Debian's curl source package (CURL=static)
  [dpkg-dev]=/usr/bin/dpkg-source
  [xz-utils]=/usr/bin/xz
  [ca-certificates]=/etc/ssl/certs/ca-certificates.crt
  # tests/fuzz (libFuzzer needs clang and its runtime) and tests/lint
  [clang]=clang
  [cppcheck]=cppcheck
  [clang-tidy]=clang-tidy
)

present() {
  case "$1" in
    /*) [ -e "$root$1" ] ;;
    *) command -v "$1" >/dev/null 2>&1 ;;
  esac
}

# curl.h lives under a multiarch directory on non-amd64 machines.
curl_present() {
  compgen -G "$root/usr/include/*/curl/curl.h" >/dev/null || [ -e "$root/usr/include/curl/curl.h" ]
}

# The libFuzzer runtime ships apart from clang (libclang-rt-NN-dev; the
# unversioned libclang-rt-dev depends on Debian's default one).
fuzzer_present() {
  compgen -G "$root/usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-*.a" >/dev/null
}

missing=()
for pkg in "${!probe[@]}"; do
  if [ "$pkg" = libcurl4-openssl-dev ]; then
    curl_present || missing+=("$pkg")
  elif ! present "${probe[$pkg]}"; then
    missing+=("$pkg")
  fi
done
fuzzer_present || missing+=(libclang-rt-dev)

if [ ${#missing[@]} -gt 0 ]; then
  # One name per line into sort: apt-get must get each package as its own
  # argument ("${missing[*]}" would join them into one line, one name).
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort)
  cmd="apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}"
  if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    echo "install-deps: missing: ${missing[*]}" >&2
    echo "install-deps: run as root: $cmd" >&2
    exit 1
  fi
  echo "install-deps: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Test tooling from npm, pinned by tests/package-lock.json. Reinstall only
# when the lock file changed since the last install.
stamp="$top/tests/node_modules/.installed-lock"
if [ ! -f "$stamp" ] || ! cmp -s "$top/tests/package-lock.json" "$stamp"; then
  echo "install-deps: npm ci (tests/)"
  (cd "$top/tests" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  cp "$top/tests/package-lock.json" "$stamp"
fi
