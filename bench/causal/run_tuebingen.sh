#!/bin/sh
# Runs every causal-direction method on the Tübingen pairs (data/tuebingen, 102 bivariate pairs) and
# writes per-pair tables and summaries to bench/causal/out/<method>/. Summaries cover all 102
# pairs, the 99 pairs without 47, 70, 107 (the subset of the published figures in issue 7), and the
# CDT 99 (the pairs with id <= 104, i.e. without 105-108, of which 105 is already excluded as
# multivariate: CDT also lacks 106, 107, 108).
#   usage: bench/causal/run_tuebingen.sh [BUILD_DIR] [THREADS]
set -eu
BUILD=${1:-build}
THREADS=${2:-2}
OUT=bench/causal/out
mkdir -p "$OUT"
for method in igci igci-entropy-uniform igci-slope-gauss igci-entropy-gauss reci fit anm meta-cgnn cgnn; do
  start=$(date +%s)
  nice -n 5 "$BUILD/sbi" causal benchmark data/tuebingen --method "$method" --threads "$THREADS" --quiet \
    --exclude no47-70-107=47,70,107 --exclude cdt99=106,107,108 -o "$OUT/$method" > "$OUT/$method.log"
  end=$(date +%s)
  echo "$method: $((end - start)) s wall" | tee -a "$OUT/wall_times.txt"
done
