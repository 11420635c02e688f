#!/usr/bin/env bash
# The image of the compose example: build-image.sh VERSION
# Builds go-server as a static binary, wraps it in an image FROM scratch with a REVISION file
# naming VERSION (what /health reports), tags it <registry>/go-server:VERSION and pushes it.
# The registry is the one the release pulls from: REGISTRY in compose/.env.
set -euo pipefail

if (($# != 1)); then
  echo 'usage: build-image.sh VERSION' >&2
  exit 2
fi
version=$1
# A Docker tag allows letters, digits, '_', '.' and '-' (no '+'), 128 characters at most.
if [[ ! $version =~ ^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$ ]]; then
  printf "version '%q' is not allowed: a Docker tag uses letters, digits, '_', '.' and '-'\n" "$version" >&2
  exit 2
fi
here=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
registry=$(sed -n 's/^REGISTRY=//p' "$here/compose/.env")
if [[ ! $registry =~ ^[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[a-z0-9._/-]+)?$ ]]; then
  printf "REGISTRY '%q' in compose/.env is not allowed: use host[:port][/path]\n" "$registry" >&2
  exit 2
fi

context=$(mktemp -d)
trap 'rm -rf -- "$context"' EXIT
(cd -- "$here" && CGO_ENABLED=0 go build -trimpath -o "$context/server" ./cmd/server)
printf 'version=%s\n' "$version" >"$context/REVISION"
cp -- "$here/Dockerfile" "$context/Dockerfile"

image=$registry/go-server:$version
docker build --quiet --tag "$image" "$context"
docker push "$image"
