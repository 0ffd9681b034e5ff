#!/bin/sh
# More fine-tuning seeds for bench/causal/meta_cgnn_cv.sh's folds and for the new-family run of
# bench/causal/meta_cgnn_new_family.sh, each model's decisions, and their ensemble (mean score):
# bench/causal/RESULTS.md, "An ensemble of fine-tuning seeds".
#   bench/causal/meta_cgnn_ensemble.sh cv BUILD_DIR CV_OUT_DIR "SEEDS" [THREADS]
#     (CV_OUT_DIR from meta_cgnn_cv.sh, whose seed-1 models it keeps; its FOLD_SEED's folds)
#   bench/causal/meta_cgnn_ensemble.sh generated BUILD_DIR NEW_FAMILY_OUT_DIR "SEEDS" [THREADS]
#     (NEW_FAMILY_OUT_DIR from meta_cgnn_new_family.sh, with its models A and B)
# The fine-tuning is exactly that of the run it extends (12000 steps at 3e-4, labelled pairs for
# half the data sets) with --seed S.
set -eu
MODE=$1
SBI="$2/sbi"
OUT=$3
SEEDS=$4
THREADS=${5:-2}
EXCLUDE=47,70,107
timed() {  # LABEL COMMAND...
  label=$1
  shift
  start=$(date +%s)
  "$@"
  echo "$label: $(( $(date +%s) - start )) s wall, load $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ)" | tee -a "$OUT/ensemble_times.txt"
}
if [ "$MODE" = cv ]; then
  for k in 0 1 2 3 4; do
    f="$OUT/fold$k"
    for s in $SEEDS; do
      if [ ! -f "$f/model_s$s/meta_cgnn.json" ]; then
        timed "fold$k seed $s meta-train" "$SBI" causal meta-train -o "$f/model_s$s" --init data/causal_meta_cgnn --pairs "$f/train" \
          --steps 12000 --learning-rate 3e-4 --seed "$s" --threads "$THREADS" --quiet > "$f/meta-train_s$s.log"
      fi
      "$SBI" causal benchmark "$f/test" --method meta-cgnn --model "$f/model_s$s" --threads "$THREADS" --quiet \
        -o "$f/result_s$s" > "$f/benchmark_s$s.log"
    done
  done
  /usr/bin/python3 bench/causal/ensemble_summary.py cv "$OUT" "$EXCLUDE" 1 $SEEDS | tee "$OUT/ensemble_summary.md"
elif [ "$MODE" = generated ]; then
  others=additive,multiplicative,post-nonlinear,heteroscedastic,discretised,spline
  [ -d "$OUT/test_new" ] || "$SBI" causal generate -o "$OUT/test_new" --families non-additive --sizes 50,100,500,1000 --pairs-per-cell 10 --seed 2 > /dev/null
  [ -d "$OUT/test_others" ] || "$SBI" causal generate -o "$OUT/test_others" --families "$others" --sizes 50,100,500,1000 --pairs-per-cell 10 --seed 2 > /dev/null
  for s in 1 $SEEDS; do
    m=B
    [ "$s" = 1 ] || m="B_s$s"
    if [ ! -f "$OUT/$m/meta_cgnn.json" ]; then
      timed "$m meta-train" "$SBI" causal meta-train -o "$OUT/$m" --init "$OUT/A" --pairs "$OUT/labelled" --steps 12000 \
        --learning-rate 3e-4 --seed "$s" --threads "$THREADS" --quiet > "$OUT/$m.log"
    fi
    for t in test_new test_others; do
      "$SBI" causal benchmark "$OUT/$t" --method meta-cgnn --model "$OUT/$m" --threads "$THREADS" --quiet \
        -o "$OUT/result_${m}_$t" > "$OUT/result_${m}_$t.md"
    done
  done
  /usr/bin/python3 bench/causal/ensemble_summary.py generated "$OUT" 1 $SEEDS | tee "$OUT/ensemble_summary.md"
else
  echo "usage: $0 cv|generated BUILD_DIR OUT_DIR \"SEEDS\" [THREADS]" >&2
  exit 2
fi
