#!/bin/bash
# One CGNN setting on the Tübingen pairs and on the generated pairs (data/causal_synthetic), as in
# bench/causal/RESULTS.md, "How the CGNN defaults were chosen". Appends a line to OUT/summary.txt.
#   usage: SBI_BIN=build/sbi OUT=/tmp/cgnn-settings bench/causal/cgnn_settings.sh NAME [CGNN OPTIONS...]
#   e.g.   bench/causal/cgnn_settings.sh long --train-epochs 1000 --eval-epochs 200 --max-samples 200
set -eu
BIN=${SBI_BIN:-build/sbi}
OUT=${OUT:-/tmp/cgnn-settings}
name=$1
shift
mkdir -p "$OUT"
start=$(date +%s)
"$BIN" causal benchmark data/tuebingen --method cgnn --threads 2 --quiet --exclude no47-70-107=47,70,107 \
  -o "$OUT/$name/tub" "$@" > "$OUT/$name.tub.log"
middle=$(date +%s)
"$BIN" causal benchmark data/causal_synthetic --method cgnn --threads 2 --quiet -o "$OUT/$name/syn" "$@" > "$OUT/$name.syn.log"
end=$(date +%s)
echo "$name $* | tub $((middle - start)) s: $(grep no47 "$OUT/$name.tub.log" | cut -d'|' -f5,6) | syn $((end - middle)) s: $(grep '| all' "$OUT/$name.syn.log" | cut -d'|' -f6)" >> "$OUT/summary.txt"
