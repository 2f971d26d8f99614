#!/usr/bin/env bash
# Installs, when missing, the Python packages that `make test` uses beside the Swift tests (make python-deps runs
# it): h5py, numpy and safetensors for the cross-checks of our HDF5 and safetensors files, nbconvert, nbformat,
# ipykernel and matplotlib for scripts/test-notebook.sh. The toolkit itself never needs Python.
#
# Installing twice is a quick no-op. Where the package registry cannot be reached, it says so and exits 0: the tests
# that need the packages are then skipped, visibly. Any other failure is an error.
set -uo pipefail
packages=(h5py numpy safetensors nbconvert nbformat ipykernel matplotlib)
sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo

missing=()
for p in "${packages[@]}"; do
  python3 -c "import $p" 2>/dev/null || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
list=$(printf ' %s' "${missing[@]}")
echo "installing (pip):$list"

# A Debian python3 comes without pip; its pip comes from apt, like the other system packages.
if ! python3 -m pip --version >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1; then
    $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends python3 python3-pip >/dev/null
  fi
  python3 -m pip --version >/dev/null 2>&1 || { echo "error: python3 has no pip (install python3-pip)"; exit 1; }
fi

log=$(mktemp /tmp/phantom-pip.XXXXXX)
trap 'rm -f "$log"' EXIT
install() { python3 -m pip install "$@" "${missing[@]}" >"$log" 2>&1; }
# An "externally managed" interpreter (Debian's own python3, PEP 668) takes packages only per user.
install || { grep -q externally-managed-environment "$log" && install --user --break-system-packages; }
status=$?

if [ $status -ne 0 ]; then
  # Unreachable (or no index configured) when pip cannot list a single version of the first package.
  if ! python3 -m pip index versions "${missing[0]}" >/dev/null 2>&1; then
    echo "SKIPPED: the Python package registry cannot be reached; the tests that need$list will be skipped"
    exit 0
  fi
  echo "error: pip could not install$list:"; tail -n 5 "$log"; exit 1
fi
for p in "${missing[@]}"; do
  python3 -c "import $p" 2>/dev/null || { echo "error: pip installed $p but python3 cannot import it"; exit 1; }
done
