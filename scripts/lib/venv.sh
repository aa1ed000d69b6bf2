# Sourced by scripts that need a Python tool from PyPI, kept in its own venv outside the repository.
#
#   ensure_venv VENV PACKAGE VERSION   creates VENV (installing Debian's python3-venv if the
#                                      system Python lacks venv support) and installs
#                                      PACKAGE==VERSION unless that version is already there

ensure_venv() {
  local venv=$1 package=$2 version=$3 installed
  installed=$("$venv/bin/python" -c "import importlib.metadata as m; print(m.version('$package'))" 2>/dev/null || true)
  [ "$installed" = "$version" ] && return 0
  if [ ! -x "$venv/bin/python" ] && ! python3 -m venv "$venv"; then
    echo "==> installing python3-venv" >&2
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
    $sudo apt-get update -qq
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv
    rm -rf "$venv"
    python3 -m venv "$venv"
  fi
  "$venv/bin/pip" install --quiet --disable-pip-version-check "$package==$version"
}
