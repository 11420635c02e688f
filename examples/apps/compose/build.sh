#!/usr/bin/env bash
# Runner side of the compose example: build.sh VERSION REGISTRY PACKAGE_DIR
# Builds go-server as a static binary, wraps it in an image FROM scratch tagged with the
# version, pushes it to REGISTRY (host[:port]), and writes the release into PACKAGE_DIR:
# the compose file (deploy/docker-compose.yml.in, named so that the repository's workflow
# checks skip it) and a .env that pins that image. APP_PORT (default 8080) is the port the
# container serves on the host's loopback.
set -euo pipefail

if (($# != 3)); then
  echo 'usage: build.sh VERSION REGISTRY PACKAGE_DIR' >&2
  exit 2
fi
version=$1 registry=$2 package_dir=$3 port=${APP_PORT:-8080}
# A Docker tag allows letters, digits, '_', '.' and '-' (no '+'), 128 characters at most.
if [[ ! $version =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]]; then
  printf "version '%q' is not allowed: a Docker tag uses letters, digits, '_', '.' and '-'\n" "$version" >&2
  exit 2
fi
if [[ ! $registry =~ ^[A-Za-z0-9.-]+(:[0-9]{1,5})?$ ]]; then
  printf "registry '%q' is not allowed: use host or host:port\n" "$registry" >&2
  exit 2
fi
if [[ ! $port =~ ^[0-9]{1,5}$ ]]; then
  printf "APP_PORT '%q' is not allowed: use a port number\n" "$port" >&2
  exit 2
fi

here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
context=$(mktemp -d)
trap 'rm -rf -- "$context"' EXIT

(cd -- "$here/../go-server" && CGO_ENABLED=0 go build -trimpath -o "$context/server" ./cmd/server)
printf 'version=%s\n' "$version" >"$context/REVISION"
cp -- "$here/Dockerfile" "$context/Dockerfile"

image=$registry/go-server:$version
docker build --quiet --tag "$image" "$context"
docker push "$image"

mkdir -p -- "$package_dir"
cp -- "$here/deploy/docker-compose.yml.in" "$package_dir/docker-compose.yml"
printf 'COMPOSE_PROJECT_NAME=stack\nIMAGE=%s\nAPP_PORT=%s\n' "$image" "$port" >"$package_dir/.env"
