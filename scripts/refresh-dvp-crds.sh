#!/usr/bin/env bash
# Refreshes the vendored DVP schemas in policies/crds/ from their public upstream repositories.
#
# Usage: scripts/refresh-dvp-crds.sh [VIRTUALIZATION_REF] [DECKHOUSE_REF]
#   VIRTUALIZATION_REF  branch, tag or commit of github.com/deckhouse/virtualization (default: main)
#   DECKHOUSE_REF       branch, tag or commit of github.com/deckhouse/deckhouse      (default: main)
#
# Needs git and curl with access to github.com, so it cannot run on the project's build machine
# (whose network reaches only the package registries); run it on a workstation. It resolves each ref
# to a commit, downloads the files at that commit, and prints the rows for policies/crds/SOURCES.md,
# which you paste over the old ones. Then run `npm test`: the fixtures and policy suites are checked
# against the new schemas.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=policies/crds
virt_ref="${1:-main}"
dh_ref="${2:-main}"

# A full commit id stays as it is; anything else is resolved with ls-remote. An annotated tag is
# listed twice, as the tag object and peeled (`^{}`) as its commit: the peeled line wins.
resolve() {
  local repo="$1" ref="$2" refs sha
  if [[ "$ref" =~ ^[0-9a-f]{40}$ ]]; then echo "$ref"; return; fi
  refs="$(git ls-remote "https://github.com/$repo.git" "refs/heads/$ref" "refs/tags/$ref" "refs/tags/$ref^{}")"
  sha="$( (grep -F '^{}' <<<"$refs" || true; cat <<<"$refs") | head -n1 | cut -f1)"
  [ -n "$sha" ] || { echo "refresh-dvp-crds: $repo has no ref '$ref'" >&2; exit 1; }
  echo "$sha"
}

# "local file|upstream repository|upstream path"
files=(
  "virtualmachines.yaml|deckhouse/virtualization|crds/virtualmachines.yaml"
  "virtualmachineclasses.yaml|deckhouse/virtualization|crds/virtualmachineclasses.yaml"
  "virtualmachineipaddresses.yaml|deckhouse/virtualization|crds/virtualmachineipaddresses.yaml"
  "virtualmachineipaddressleases.yaml|deckhouse/virtualization|crds/virtualmachineipaddressleases.yaml"
  "virtualmachinepools.yaml|deckhouse/virtualization|crds/virtualmachinepools.yaml"
  "config-values.yaml|deckhouse/virtualization|openapi/config-values.yaml"
  "module-config.yaml|deckhouse/deckhouse|deckhouse-controller/crds/module-config.yaml"
)

virt_sha="$(resolve deckhouse/virtualization "$virt_ref")"
dh_sha="$(resolve deckhouse/deckhouse "$dh_ref")"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

# Download everything first, so a failure leaves the vendored set untouched.
for entry in "${files[@]}"; do
  IFS='|' read -r name repo path <<<"$entry"
  sha="$virt_sha"; [ "$repo" = deckhouse/deckhouse ] && sha="$dh_sha"
  curl -fsSL --retry 3 -o "$tmp/$name" "https://raw.githubusercontent.com/$repo/$sha/$path"
done
cp "$tmp"/*.yaml "$dest/"

echo "Rows for $dest/SOURCES.md:"
for entry in "${files[@]}"; do
  IFS='|' read -r name repo path <<<"$entry"
  sha="$virt_sha"; [ "$repo" = deckhouse/deckhouse ] && sha="$dh_sha"
  echo "| \`$name\` | $repo | \`$path\` | $sha (blob $(git hash-object "$dest/$name")) |"
done
git status --short -- "$dest"
