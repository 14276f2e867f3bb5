#!/bin/sh
# Installs the Debian packages bitnet-c builds and runs with, when missing.
#   ci/install-deps.sh          install (as root) what is missing
#   ci/install-deps.sh --print  print the apt-get line and exit
set -eu
PKGS="build-essential pkg-config git libhwloc-dev hwloc libpapi-dev papi-tools
libsqlite3-dev sqlite3 libcurl4-openssl-dev libcjson-dev libcriterion-dev
libopenblas-dev liblapacke-dev libmimalloc2.0 libjemalloc2 clang-format
libmicrohttpd-dev"
PKGS=$(echo $PKGS)
if [ "${1:-}" = "--print" ]; then
  echo "apt-get update && apt-get install -y $PKGS"
  exit 0
fi
missing=""
for p in $PKGS; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -z "$missing" ]; then
  echo "install-deps: all packages present"
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "install-deps: missing:$missing" >&2
  echo "install-deps: run as root: apt-get update && apt-get install -y$missing" >&2
  exit 2
fi
echo "install-deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
