#!/usr/bin/env bash
# Validates deploy/ and docker-compose.yml without a cluster or a Docker engine (part of
# scripts/test.sh, a few seconds once the tools are installed):
#   - the Kubernetes manifests against the schemas of Kubernetes 1.30 and 1.37, strictly
#     (unknown fields are errors), with kubernetes-validate from PyPI, which ships the
#     schemas (pinned, in a venv outside the repository: K8S_VALIDATE_VENV);
#   - the HAProxy configuration with `haproxy -c` (Debian's package, installed if missing);
#   - the Compose file with `docker compose config` where a Compose tool is installed.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${K8S_VALIDATE_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/slm/kubernetes-validate-venv}
# shellcheck source=scripts/lib/venv.sh
. scripts/lib/venv.sh
ensure_venv "$VENV" kubernetes-validate 1.37.0
for version in 1.30.0 1.37.0; do
  "$VENV/bin/kubernetes-validate" --strict --quiet -k "$version" deploy/k8s/*.yaml
done
echo "deploy/k8s: $(ls deploy/k8s/*.yaml | wc -l) manifests valid against Kubernetes 1.30 and 1.37 (strict)"

if ! command -v haproxy >/dev/null 2>&1; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -q
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends haproxy
fi
SLM_REPLICA_1=10.0.0.11:8080 SLM_REPLICA_2=10.0.0.12:8080 \
  haproxy -c -q -f deploy/haproxy/haproxy.cfg -f deploy/haproxy/backend-static.cfg
haproxy -c -q -f deploy/haproxy/haproxy.cfg -f deploy/haproxy/backend-compose.cfg
echo "deploy/haproxy: valid for $(haproxy -v | head -1 | cut -d' ' -f1-3)"

if docker compose version >/dev/null 2>&1; then
  docker compose config -q && echo "docker-compose.yml: valid (docker compose config)"
elif command -v docker-compose >/dev/null 2>&1; then
  docker-compose config -q && echo "docker-compose.yml: valid (docker-compose config)"
else
  echo "docker-compose.yml: not checked (no Compose tool installed)"
fi
