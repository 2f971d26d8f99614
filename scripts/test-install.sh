#!/usr/bin/env bash
# make install into a temporary prefix, then train from another folder with the bundled data set found by name,
# and with PHANTOM_DATA pointing elsewhere.
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=$(mktemp -d /tmp/phantom-prefix.XXXXXX)
elsewhere=$(mktemp -d /tmp/phantom-elsewhere.XXXXXX)
make install PREFIX="$prefix" >/dev/null
(cd "$elsewhere" && "$prefix/bin/phantom" train --hidden 4 --epochs 1 -o run >/dev/null) || { echo "FAILED: installed phantom cannot train on 'digits' from another folder"; exit 1; }
mkdir -p "$elsewhere/data" && cp notebooks-data/digits.h5 "$elsewhere/data/other.h5"
(cd "$elsewhere" && PHANTOM_DATA="$elsewhere/data" "$prefix/bin/phantom" train --data other --hidden 4 --epochs 1 -o run2 >/dev/null) \
  || { echo "FAILED: PHANTOM_DATA is not searched"; exit 1; }
rm -rf "$prefix" "$elsewhere"
echo "Install test passed: make install PREFIX=…; bundled data found from any folder and through PHANTOM_DATA."
