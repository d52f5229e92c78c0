#!/usr/bin/env bash
# The device check: on a machine with an accelerator (an NVIDIA GPU), in at most ~8 minutes,
# run the default sweep, P1 and P2 (quick), the scaling benchmark (quick) and the search
# comparison against Optuna (quick; needs `pip install optuna`), and write every
# figure to one file. Run from the repository root:
#
#     bash experiments/benchmarks/device_check.sh [OUT_DIR]      # default: $OUT or ./device_check
#
# It first tries the cuda extra (JAX's own CUDA build); on a machine without network access the
# install fails and the check goes on with the jax already installed, printing which backend it
# found, so the figures always say where they were measured.
set -uo pipefail
cd "$(dirname "$0")/../.."
out="${1:-${OUT:-device_check}}"
mkdir -p "$out"
log="$out/device_check.txt"
data="${CS109_DATA:-../shared/data/cs109}"
{
  echo "# device check, $(date -u +%FT%TZ)"
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null || echo "no nvidia-smi"
  timeout 180 pip install -q -e '.[cuda,test]' 2>&1 | tail -2 || echo "cuda extra not installed; using the installed jax"
  python -c "import jax; print('jax', jax.__version__, 'backend', jax.default_backend(), jax.devices())"
  echo; echo "## default sweep (experiments/lecture.py)"
  /usr/bin/time -f "wall %e s" timeout 240 cs109nn sweep experiments/lecture.py --out "$out/lecture" --fresh 2>&1 | tail -18
  echo; echo "## P1 (quick)"
  timeout 150 python experiments/benchmarks/p1_tiny.py --quick 2>&1 | tail -25
  echo; echo "## P2 (quick)"
  timeout 150 python experiments/benchmarks/p2_mlp.py --quick 2>&1 | tail -25
  echo; echo "## scaling (quick)"
  timeout 150 python experiments/benchmarks/scaling.py --quick --data-dir "$data" --png "$out/scaling.png" 2>&1 | tail -30
  echo; echo "## searches vs Optuna (quick, 1 repeat, no Ray): on a GPU a solo small model leaves the device idle"
  timeout 180 python experiments/benchmarks/search.py --quick --repeats 1 --cpu-devices 1 --output "$out/search.png" 2>&1 | grep -v -i warn | tail -16
} > "$log" 2>&1
echo "figures: $log"
