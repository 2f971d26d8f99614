#!/usr/bin/env bash
# Executes notebooks-data/results.ipynb on a results file where samples converged and on one where none did
# (make test runs it, after `make python-deps` has installed what it needs). Skipped, visibly, when jupyter's nbconvert,
# nbformat, ipykernel, matplotlib or h5py is not importable (the package registry could not be reached).
set -uo pipefail
cd "$(dirname "$0")/.."
if ! python3 -c "import nbconvert, nbformat, ipykernel, matplotlib, h5py" 2>/dev/null; then
  echo "SKIPPED: the notebook (python3 cannot import nbconvert, nbformat, ipykernel, matplotlib and h5py; make python-deps installs them)"
  exit 0
fi
phantom="$(swift build --show-bin-path)/phantom"
work=$(mktemp -d /tmp/phantom-notebook.XXXXXX)
trap 'rm -rf "$work"' EXIT
args=(notebooks-data/reference/tanh-upg/epoch-0000.h5 notebooks-data/reference/tanh-upg/epoch-0030.h5 --samples 6 --k 1,2,3 --lambda 0.5,1)
"$phantom" analyze "${args[@]}" -o "$work/good.h5" >/dev/null 2>&1 || { echo "FAILED: could not make a results file"; exit 1; }
"$phantom" analyze "${args[@]}" --solver fixed-point --max-iterations 1 -o "$work/none.h5" >/dev/null 2>&1 || { echo "FAILED: could not make an unconverged results file"; exit 1; }
for case in good none; do
  (cd notebooks-data && PHANTOM_RESULTS="$work/$case.h5" MPLBACKEND=Agg python3 -m nbconvert --to notebook --execute results.ipynb \
      --output "$work/$case.ipynb" >/dev/null 2>"$work/$case.err") || { echo "FAILED: the notebook on $case results: $(tail -n 3 "$work/$case.err")"; exit 1; }
done
grep -q "No sample of the last checkpoint converged" "$work/none.ipynb" || { echo "FAILED: the notebook does not say that nothing converged"; exit 1; }
grep -q "Theorem 1 holds" "$work/good.ipynb" || { echo "FAILED: the notebook printed no certified fraction"; exit 1; }
echo "Notebook test passed: executed on converged results and on results where nothing converged."
