# syntax=docker/dockerfile:1
# virtguard: the admission webhook image. `docker build -t virtguard:0.1.0 .`
#
# Two stages: "build" compiles TypeScript with the dev dependencies; "runtime" holds only
# production dependencies, the compiled dist/, the shipped policies and the kustomize base.
# No secrets are baked in: the TLS certificate and key come from a mounted Secret at run time.

# Pinned: the Node.js 20 release the project is developed and tested with, slim Debian.
# (Pin by digest too in a registry mirror: node:20.20.2-bookworm-slim@sha256:...)
ARG NODE_IMAGE=node:20.20.2-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: "prepare" would compile before the sources are here.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY policies ./policies
RUN npx tsc -p tsconfig.json

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /src/dist ./dist
COPY policies ./policies
COPY manifests ./manifests
# `virtguard` on PATH (the package's bin), without npm at run time.
RUN chmod 0755 /app/dist/src/cli/main.js && ln -s /app/dist/src/cli/main.js /usr/local/bin/virtguard \
 && virtguard --version
# Numeric, so that Kubernetes' runAsNonRoot can verify it; matches the Deployment's runAsUser.
USER 65532:65532
EXPOSE 8443
ENTRYPOINT ["virtguard", "serve"]
