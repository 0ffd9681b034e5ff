#!/bin/sh
# Fine-tuning on labelled pairs of a mechanism the meta-model never saw, on generated data where the
# truth is known (bench/causal/RESULTS.md, "Fine-tuning on a family the model never saw"):
#   A: meta-trained without the non-additive family (bench/causal/meta_cgnn/without_nonadditive_24000.json)
#   B: A fine-tuned 12000 steps at 3e-4 with 40 labelled non-additive pairs (seed 3) for half the data sets
#   C: A fine-tuned the same way without them (control)
# each decided on the seed-2 test pairs: non-additive (40) and the other six families (240).
#   usage: bench/causal/meta_cgnn_new_family.sh BUILD_DIR OUT_DIR [THREADS]
set -eu
BUILD=$1
OUT=$2
THREADS=${3:-2}
SBI="$BUILD/sbi"
mkdir -p "$OUT"
others=additive,multiplicative,post-nonlinear,heteroscedastic,discretised,spline
"$SBI" causal generate -o "$OUT/labelled" --families non-additive --sizes 50,100,500,1000 --pairs-per-cell 10 --seed 3 > /dev/null
"$SBI" causal generate -o "$OUT/test_new" --families non-additive --sizes 50,100,500,1000 --pairs-per-cell 10 --seed 2 > /dev/null
"$SBI" causal generate -o "$OUT/test_others" --families "$others" --sizes 50,100,500,1000 --pairs-per-cell 10 --seed 2 > /dev/null
train() {  # NAME ARGS...
  name=$1
  shift
  start=$(date +%s)
  "$SBI" causal meta-train -o "$OUT/$name" --seed 1 --threads "$THREADS" --quiet "$@" > "$OUT/$name.log"
  echo "$name: $(( $(date +%s) - start )) s wall, load $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/times.txt"
}
train A --options bench/causal/meta_cgnn/without_nonadditive_24000.json
train B --init "$OUT/A" --pairs "$OUT/labelled" --steps 12000 --learning-rate 3e-4
train C --init "$OUT/A" --steps 12000 --learning-rate 3e-4
for m in A B C; do
  for t in test_new test_others; do
    "$SBI" causal benchmark "$OUT/$t" --method meta-cgnn --model "$OUT/$m" --threads "$THREADS" --quiet \
      -o "$OUT/result_${m}_$t" > "$OUT/result_${m}_$t.md"
    echo "$m $t: $(grep '| meta-cgnn | all' "$OUT/result_${m}_$t.md")"
  done
done | tee "$OUT/summary.txt"
