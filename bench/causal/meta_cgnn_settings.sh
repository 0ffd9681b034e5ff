#!/bin/bash
# Meta-CGNN settings, chosen on generated data only (never on Tübingen): meta-train with the options
# in bench/causal/meta_cgnn/NAME.json, then decide the development set (generated, seed 1: 7 families
# x 4 sizes x 10 pairs) with the decision options given after NAME.
#   bench/causal/meta_cgnn_settings.sh BUILD_DIR NAME [decision options, e.g. --adapt-steps 10]
# Output: bench/causal/out/meta_cgnn_dev/NAME[TAG]/ (the model, summary.md, pairs.csv, train.log).
set -euo pipefail
build=$1; name=$2; shift 2
here=$(cd "$(dirname "$0")" && pwd)
out=$here/out/meta_cgnn_dev
dev=$out/devset
mkdir -p "$out"
[ -f "$dev/meta.csv" ] || "$build/sbi" causal generate -o "$dev" --pairs-per-cell 10 --seed 1 > /dev/null
tag=$(echo "$*" | tr -d ' -' )
model=$out/$name/model
if [ ! -f "$model/meta_cgnn.json" ]; then
  { date -u; uptime; } > "$out/$name.train.log"
  /usr/bin/time -f "%e s wall, %U s user" "$build/sbi" causal meta-train -o "$model" --options "$here/meta_cgnn/$name.json" \
    --threads 2 --quiet >> "$out/$name.train.log" 2>&1
  uptime >> "$out/$name.train.log"
fi
"$build/sbi" causal benchmark "$dev" --method meta-cgnn --model "$model" --threads 2 --quiet --group-by family \
  --group-by n_samples -o "$out/$name$tag" "$@" > /dev/null
uptime >> "$out/$name$tag/summary.md"
cat "$out/$name$tag/summary.md"
