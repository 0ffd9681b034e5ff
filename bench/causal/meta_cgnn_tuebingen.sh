#!/bin/sh
# data/causal_meta_cgnn_tuebingen: the shipped meta-model fine-tuned on all 99 headline Tübingen pairs
# (no 47, 70, 107) with the settings of the cross-validated run (bench/causal/meta_cgnn_cv.sh), for
# deciding new real pairs. Its expected accuracy on pairs from other sources is that run's figure;
# its own Tübingen figure would be a training-set figure.
#   usage: bench/causal/meta_cgnn_tuebingen.sh BUILD_DIR [OUT_DIR] [THREADS]
set -eu
BUILD=$1
OUT=${2:-data/causal_meta_cgnn_tuebingen}
THREADS=${3:-2}
pairs=$(mktemp -d)
trap 'rm -rf "$pairs"' EXIT
/usr/bin/python3 bench/causal/cv_folds.py data/tuebingen "$pairs" --folds 1 --exclude 47,70,107 > /dev/null
"$BUILD/sbi" causal meta-train -o "$OUT" --init data/causal_meta_cgnn --pairs "$pairs/fold0/test" \
  --steps 12000 --learning-rate 3e-4 --seed 1 --threads "$THREADS" --quiet
