#!/usr/bin/env bash
# The official `openai` Python client (PyPI, pinned) against a real slm-server on the tiny
# model: completions and chat completions, streaming and not, with logprobs, checked as the
# client parses them (scripts/openai_client_check.py). Part of scripts/test.sh.
#
# Environment:
#   OPENAI_CLIENT_VENV     venv holding the client (default ~/.cache/slm/openai-venv; created
#                          and filled from PyPI when missing)
#   OPENAI_CLIENT_VERSION  default 3.57.0
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${OPENAI_CLIENT_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/slm/openai-venv}
# shellcheck source=scripts/lib/venv.sh
. scripts/lib/venv.sh
ensure_venv "$VENV" openai "${OPENAI_CLIENT_VERSION:-3.57.0}"

cargo build -q -p slm-server
WORK=$(mktemp -d)
# shellcheck source=scripts/lib/server.sh
. scripts/lib/server.sh
trap 'stop_server; rm -rf "$WORK"' EXIT
start_server "${CARGO_TARGET_DIR:-target}/debug/slm-server" "$WORK/server.log" \
  --model models/tiny-random --default-max-tokens 8
"$VENV/bin/python" scripts/openai_client_check.py "$BASE/v1"
