#!/usr/bin/env bash
# build-curl.sh -- build the static, HTTP(S)-only libcurl that backfill-worker links.
#
#   deploy/scripts/build-curl.sh OUTDIR
#
# The Makefile runs this when OUTDIR/lib/libcurl.a is missing or older than
# this script (CURL=static, the default; CURL=system links Debian's shared
# libcurl instead). Why: Debian's libcurl4 is built for every protocol and
# pulls in 33 shared libraries (GnuTLS and p11-kit through librtmp, LDAP,
# Kerberos, libssh2, ...) whose pages a process maps and whose constructors
# run at start-up: about 10 MB of RSS before the worker does anything
# (tests/bench/idle_floor.c measures it). The worker speaks HTTP and HTTPS
# only, so this libcurl has nothing else compiled in (a smaller attack
# surface too) and links OpenSSL, which the worker uses anyway.
#
# Source: Debian's own curl source package for this release, fetched with
# apt (so the Release signature and the file hashes are checked) into a
# private apt state (the system's apt configuration is not touched), with
# Debian's patches, security fixes included, applied by dpkg-source. A
# rebuild picks up a newer Debian revision; rebuild the image when Debian
# ships a curl security update, as with any statically linked library.
# Needs: apt-get, dpkg-source (dpkg-dev), a C toolchain, libssl-dev.
# OUTDIR gets lib/libcurl.a, include/curl/*.h and BUILDINFO.
set -euo pipefail

out=${1:?usage: build-curl.sh OUTDIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)

for tool in apt-get dpkg-source cc make; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "build-curl: $tool is missing: run 'make deps' (as root), or build with" \
         "'make CURL=system' to link Debian's shared libcurl" >&2
    exit 1
  fi
done

# One build at a time per OUTDIR (parallel make trees share it).
exec 9>"$out/.lock"
flock 9
if [ -f "$out/lib/libcurl.a" ] && [ "$out/lib/libcurl.a" -nt "$0" ]; then
  exit 0
fi

# shellcheck source=/dev/null
codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
if [ -z "$codename" ]; then
  echo "build-curl: not a Debian release (no VERSION_CODENAME); use 'make CURL=system'" >&2
  exit 1
fi
mirror=${CURL_SRC_MIRROR:-http://deb.debian.org/debian}
security=${CURL_SRC_SECURITY_MIRROR:-http://deb.debian.org/debian-security}

work="$out/work"
rm -rf "$work"
mkdir -p "$work/lists/partial" "$work/cache/archives/partial"
cat >"$work/sources.list" <<EOF
deb-src $mirror $codename main
deb-src $mirror $codename-updates main
deb-src $security $codename-security main
EOF
apt_opts=(-o "Dir::Etc::SourceList=$work/sources.list" -o "Dir::Etc::SourceParts=/dev/null"
          -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache"
          -o "APT::Sandbox::User=$(id -un)" -o "Debug::NoLocking=1")

echo "build-curl: fetching Debian's curl source for $codename"
apt-get "${apt_opts[@]}" -qq update
(cd "$work" && apt-get "${apt_opts[@]}" -qq source --download-only curl >/dev/null)
dsc=$(ls "$work"/curl_*.dsc)
dpkg-source --no-check -x "$dsc" "$work/curl" >/dev/null
version=$(sed -n 's/^Version: //p' "$dsc")

# HTTP and HTTPS over OpenSSL, proxies, the threaded resolver (the worker
# sets CURLOPT_NOSIGNAL and needs timeouts that cover DNS) and zlib (linked
# anyway) for Content-Encoding; every other protocol and feature off.
flags=(--disable-shared --enable-static --with-openssl --enable-threaded-resolver
       --with-ca-bundle=/etc/ssl/certs/ca-certificates.crt --with-ca-path=/etc/ssl/certs
       --disable-ftp --disable-file --disable-ldap --disable-ldaps --disable-rtsp
       --disable-dict --disable-telnet --disable-tftp --disable-pop3 --disable-imap
       --disable-smb --disable-smtp --disable-gopher --disable-mqtt --disable-manual
       --disable-ntlm --disable-ntlm-wb --disable-alt-svc --disable-hsts
       --disable-cookies --disable-netrc --disable-doh --disable-unix-sockets
       --without-libpsl --without-brotli --without-zstd --without-libidn2
       --without-nghttp2 --without-librtmp --without-libssh2 --without-libssh
       --without-gssapi --with-zlib)
echo "build-curl: building libcurl $version (HTTP/HTTPS, OpenSSL, static)"
(cd "$work/curl" && CFLAGS="-O2 -g -fPIC" ./configure --quiet "${flags[@]}" >"$work/configure.log" 2>&1) || {
  tail -20 "$work/configure.log" >&2
  exit 1
}
(cd "$work/curl" && make -s -j"$(nproc)" -C lib >"$work/make.log" 2>&1) || {
  tail -20 "$work/make.log" >&2
  exit 1
}

rm -rf "${out:?}/lib" "${out:?}/include"
mkdir -p "$out/lib" "$out/include/curl"
cp "$work/curl/include/curl/"*.h "$out/include/curl/"
{
  echo "source: Debian curl $version ($codename)"
  echo "configure: ${flags[*]}"
} >"$out/BUILDINFO"
cp "$work/curl/lib/.libs/libcurl.a" "$out/lib/libcurl.a.tmp"
mv "$out/lib/libcurl.a.tmp" "$out/lib/libcurl.a"
rm -rf "$work"
echo "build-curl: $out/lib/libcurl.a ($version)"
