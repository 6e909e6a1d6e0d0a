# syntax=docker/dockerfile:1
# virtguard: the admission webhook image. `docker build -t virtguard:0.1.0 .`
#
# Two stages: "build" runs the full `npm run build` (TypeScript, the precompiled CEL cache and
# schema validators, the CLI bundle; the CEL cache is
# dist/src/policy-files/cel-cache.json) with the dev dependencies; "runtime" holds only production
# dependencies, the compiled dist/, the shipped policies with their vendored DVP CRDs
# (policies/crds/) and the kustomize base. No secrets are baked in: the TLS certificate and key
# come from a mounted Secret at run time.

# The base of both stages: Node.js 24 LTS on slim Debian, pinned to the release the project is
# tested with (pin it by digest too in a registry mirror: node:24.22.3-bookworm-slim@sha256:...).
# Any image with node and npm on PATH will do: `npm run test:image` passes a local one, built
# from a Debian rootfs and the same Node.js binary, because no registry image can be pulled there.
ARG NODE_IMAGE=node:24.22.3-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: "prepare" would compile before the sources are here. The npm cache is a build
# cache mount, so rebuilds reuse downloads and no layer keeps them.
RUN --mount=type=cache,target=/root/.npm npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY scripts/prune-dist.ts scripts/precompile-cel.ts scripts/precompile-validators.ts scripts/bundle.ts ./scripts/
COPY policies ./policies
RUN npm run build

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --ignore-scripts --no-audit --no-fund
# Only what the package ships (package.json "files"): the compiled sources with the CEL cache, and
# the policy schema the engine imports.
COPY --from=build /src/dist/src ./dist/src
COPY --from=build /src/dist/policies/policy.schema.json ./dist/policies/policy.schema.json
COPY policies ./policies
COPY manifests ./manifests
# `virtguard` on PATH (the package's bin), without npm at run time. The build fails here when the
# CEL cache or the vendored CRDs are missing.
RUN chmod 0755 /app/dist/src/cli/main.js && ln -s /app/dist/src/cli/main.js /usr/local/bin/virtguard \
 && test -s /app/dist/src/policy-files/cel-cache.json && test -s /app/policies/crds/virtualmachines.yaml \
 && find /app/dist -name '*.map' -delete \
 && virtguard --version
# Numeric, so that Kubernetes' runAsNonRoot can verify it; matches the Deployment's runAsUser.
USER 65532:65532
EXPOSE 8443
ENTRYPOINT ["virtguard", "serve"]
