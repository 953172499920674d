# ensure_venv DIR REQUIREMENTS: creates (or reuses) a venv at DIR with exactly the pinned
# requirements installed; re-installs only when the requirements file changed. Sourced by the
# tools/ entry points.
ensure_venv() {
  local venv=$1 req=$2 stamp="$1/.requirements"
  if [[ ! -x "$venv/bin/python" ]]; then
    if ! python3 -m venv "$venv" 2>/dev/null; then
      echo "venv: python3 -m venv failed; installing python3-venv" >&2
      source "$(dirname "${BASH_SOURCE[0]}")/apt.sh"
      ensure_debian_packages python3-venv
      rm -rf "$venv"; python3 -m venv "$venv"
    fi
  fi
  if ! cmp -s "$req" "$stamp"; then
    echo "venv: installing pinned packages from $req into $venv" >&2
    "$venv/bin/python" -m pip install -q --disable-pip-version-check -r "$req"
    cp "$req" "$stamp"
  fi
}
