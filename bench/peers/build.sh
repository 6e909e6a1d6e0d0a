#!/usr/bin/env bash
# Builds the peer CLIs that `npm run bench:check` compares virtguard with, from Go modules, once.
#
#   bench/peers/build.sh gator       build (or reuse) gator; prints GATOR=/abs/path
#   bench/peers/build.sh kyverno     build (or reuse) the Kyverno CLI; prints KYVERNO=/abs/path
#   bench/peers/build.sh --regen T   re-resolve go.sum of tool T first
#
# Binaries land in ${VIRTGUARD_BENCH_CACHE:-$HOME/.cache/virtguard-bench}/<tool>-<version>/.
# The last line on stdout is machine-readable (NAME=/abs/path); progress goes to stderr.
# Exit 3: go is not installed.
set -euo pipefail

# One function, so bash parses the whole file before running it (safe against edits mid-build).
main() {
  local regen=0 tool=""
  for arg in "$@"; do
    case "$arg" in
      --regen) regen=1 ;;
      gator|kyverno) tool="$arg" ;;
      -h|--help) sed -n '2,10p' "${BASH_SOURCE[0]}"; exit 0 ;;
      *) echo "build.sh: unknown argument: $arg" >&2; exit 2 ;;
    esac
  done
  [[ -n "$tool" ]] || { echo "build.sh: name a tool: gator or kyverno" >&2; exit 2; }

  local here pkg module var
  here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$tool"
  case "$tool" in
    gator) module=github.com/open-policy-agent/gatekeeper/v3; pkg=$module/cmd/gator; var=GATOR ;;
    kyverno) module=github.com/kyverno/kyverno; pkg=$module/cmd/cli/kubectl-kyverno; var=KYVERNO ;;
  esac
  command -v go >/dev/null 2>&1 || { echo "build.sh: go not found on PATH" >&2; exit 3; }

  export GOTOOLCHAIN=local CGO_ENABLED=0
  export GOFLAGS="-trimpath -buildvcs=false -mod=mod"

  local version
  version="$(sed -n "s#^[[:space:]]*\(require \)\{0,1\}$module \(v[^ ]*\).*#\2#p" "$here/go.mod" | head -1)"
  local cache_root="${VIRTGUARD_BENCH_CACHE:-${HOME:-/tmp}/.cache/virtguard-bench}"
  local out="$cache_root/$tool-$version"
  local bin="$out/$tool"
  local stamp
  stamp="$(printf '%s %s %s' "$version" "$(go env GOVERSION)" "$(sha256sum <"$here/go.sum" | cut -c1-16)")"

  if [[ $regen -eq 0 && -x "$bin" && "$(cat "$out/.stamp" 2>/dev/null)" == "$stamp" ]]; then
    echo "$var=$bin"; return 0
  fi
  mkdir -p "$out"
  exec 9>"$out/.lock"
  command -v flock >/dev/null 2>&1 && flock 9
  if [[ $regen -eq 0 && -x "$bin" && "$(cat "$out/.stamp" 2>/dev/null)" == "$stamp" ]]; then
    echo "$var=$bin"; return 0
  fi
  if [[ $regen -eq 1 ]]; then
    (cd "$here" && go mod tidy)
    stamp="$(printf '%s %s %s' "$version" "$(go env GOVERSION)" "$(sha256sum <"$here/go.sum" | cut -c1-16)")"
  fi

  local start=$SECONDS
  echo "build.sh: building $pkg@$version -> $bin (minutes on the first run)" >&2
  (cd "$here" && nice go build -p 2 -ldflags "-s -w" -o "$bin.tmp" "$pkg")
  mv -f "$bin.tmp" "$bin"
  echo "$stamp" >"$out/.stamp"
  echo "build.sh: $tool built in $((SECONDS - start))s" >&2
  echo "$var=$bin"
}

main "$@"
exit $?
