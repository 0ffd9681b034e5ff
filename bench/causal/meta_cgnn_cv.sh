#!/bin/sh
# Cross-validated Meta-CGNN on a labelled cause-effect folder (Tübingen): the shipped meta-model is
# fine-tuned on the pairs of four folds (beside generated data sets) and decides the fifth, for each
# of five folds grouped by the pairs' source data set (bench/causal/cv_folds.py). Every pair is
# decided by a model that never saw it nor any pair from its data set. A control fine-tunes the same
# way without labelled pairs and decides all pairs, so that more steps and real pairs are told apart.
#   usage: bench/causal/meta_cgnn_cv.sh BUILD_DIR OUT_DIR [STEPS] [LEARNING_RATE] [THREADS]
#   FOLD_SEED=S (default 19) assigns the sources to folds differently.
# Writes OUT_DIR/fold{k}/{model,result}, OUT_DIR/control/{model,result}, OUT_DIR/summary.md.
set -eu
BUILD=$1
OUT=$2
STEPS=${3:-12000}
LR=${4:-3e-4}
THREADS=${5:-2}
DATA=data/tuebingen
EXCLUDE=47,70,107
mkdir -p "$OUT"
/usr/bin/python3 bench/causal/cv_folds.py "$DATA" "$OUT" --folds 5 --group-by source --exclude "$EXCLUDE" --seed "${FOLD_SEED:-19}" \
  | tee "$OUT/folds.txt"
for k in 0 1 2 3 4; do
  f="$OUT/fold$k"
  if [ ! -f "$f/model/meta_cgnn.json" ]; then
    start=$(date +%s)
    "$BUILD/sbi" causal meta-train -o "$f/model" --init data/causal_meta_cgnn --pairs "$f/train" \
      --steps "$STEPS" --learning-rate "$LR" --seed 1 --threads "$THREADS" --quiet > "$f/meta-train.log"
    echo "fold$k meta-train: $(( $(date +%s) - start )) s wall, load $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/times.txt"
  fi
  "$BUILD/sbi" causal benchmark "$f/test" --method meta-cgnn --model "$f/model" --threads "$THREADS" --quiet \
    -o "$f/result" > "$f/benchmark.log"
done
c="$OUT/control"
mkdir -p "$c"
if [ ! -f "$c/model/meta_cgnn.json" ]; then
  start=$(date +%s)
  "$BUILD/sbi" causal meta-train -o "$c/model" --init data/causal_meta_cgnn \
    --steps "$STEPS" --learning-rate "$LR" --seed 1 --threads "$THREADS" --quiet > "$c/meta-train.log"
  echo "control meta-train: $(( $(date +%s) - start )) s wall, load $(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$OUT/times.txt"
fi
"$BUILD/sbi" causal benchmark "$DATA" --method meta-cgnn --model "$c/model" --threads "$THREADS" --quiet \
  --exclude no47-70-107=$EXCLUDE -o "$c/result" > "$c/benchmark.log"
/usr/bin/python3 bench/causal/cv_summary.py "$OUT" "$EXCLUDE" | tee "$OUT/summary.md"
