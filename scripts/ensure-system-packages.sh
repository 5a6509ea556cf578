#!/usr/bin/env bash
# Makes sure the server programs the test suite starts are present: PostgreSQL, Redis, Chromium.
# As root on Debian/Ubuntu it installs the missing packages with apt-get; otherwise it says
# exactly what to install and fails.
set -euo pipefail

missing=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null 2>&1 || missing+=(postgresql)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "Installing system packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  # Debian starts a default cluster on install; the suite runs its own, so stop it to free resources.
  if command -v pg_ctlcluster >/dev/null 2>&1; then
    for cluster in $(pg_lsclusters -h 2>/dev/null | awk '{print $1"/"$2}'); do
      pg_ctlcluster "${cluster%/*}" "${cluster#*/}" stop >/dev/null 2>&1 || true
    done
  fi
  exit 0
fi

echo "The test suite needs these system packages, which are missing: ${missing[*]}" >&2
echo "Install them, for example: sudo apt-get install ${missing[*]}" >&2
exit 1
