#!/usr/bin/env bash
# Full-size benchmarks on a lent NVIDIA GPU (the `device` tool; its python3 holds JAX with CUDA and torch, so no
# install step). One device command may run 10 minutes, so run the areas in two calls, e.g.
#   bash bench/gpu_suite.sh attention sampling tae      then      bash bench/gpu_suite.sh train_step
# Tables are appended to $OUT/BENCHMARKS.md (copy them into the repository's) and every log goes under $OUT.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/mgjax_bench}
mkdir -p "$OUT"
export PYTHONUNBUFFERED=1
# A persistent compilation cache shared by the measuring processes of one call (each case runs in its own process).
export MGJAX_COMPILATION_CACHE_DIR=${MGJAX_COMPILATION_CACHE_DIR:-/tmp/mgjax_jax_cache}
record="$OUT/BENCHMARKS.md"
{
  nvidia-smi --query-gpu=name,memory.total,clocks.sm,clocks.max.sm,driver_version --format=csv
  python3 -c "import jax, torch; print('jax', jax.__version__, jax.devices(), '| torch', torch.__version__)"
} 2>&1 | tee -a "$OUT/env.txt"
status=0
for area in "${@:-attention sampling tae train_step}"; do
  for a in $area; do
    echo "=== $a ($(date -u +%H:%M:%S))"
    case $a in
      attention) python3 bench/attention.py --size full --record "$record" ;;
      train_step) python3 bench/train_step.py --size full --peer-compile --record "$record" ;;
      remat) python3 bench/train_step.py --size full --models 1b --tokens 8k --remat full save_dots save_attention none \
               --peer off --record "$record" ;;
      sampling) python3 bench/sampling.py --size full --peer-compile --record "$record" ;;
      tae) python3 bench/tae_speed.py --size full --dtype bfloat16 --record "$record" ;;
      *) echo "unknown area $a (attention, train_step, remat, sampling, tae)"; status=2 ;;
    esac 2>&1 | tee -a "$OUT/log.txt"
    [ "${PIPESTATUS[0]}" = 0 ] || status=1
  done
done
exit $status
