#!/usr/bin/env bash
# Install the Debian packages named on the command line that are not installed yet, as root or
# through sudo, without questions; nothing at all (not even apt-get update) when none is missing.
#   scripts/apt_install.sh fonts-noto-cjk chromium ...
set -euo pipefail

# A package counts as present only when dpkg says "install ok installed": after `apt-get remove`
# dpkg -s still succeeds for the leftover config files.
is_installed() {
  dpkg -s "$1" 2>/dev/null | grep -q '^Status: install ok installed'
}

missing=()
for p in "$@"; do
  is_installed "$p" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "apt_install: present: $*"
  exit 0
fi
# `env` carries DEBIAN_FRONTEND through sudo, which resets the environment.
as_root=()
if [ "$(id -u)" != 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "apt_install: missing Debian packages: ${missing[*]}; run as root or install sudo, or:" >&2
    echo "  apt-get install -y ${missing[*]}" >&2
    exit 1
  fi
  as_root=(sudo)
fi
echo "apt_install: installing ${missing[*]}"
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
