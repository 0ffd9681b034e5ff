#!/bin/bash
# Meta-CGNN settings, chosen on generated data only (never on Tübingen): meta-train with the options
# in bench/causal/meta_cgnn/NAME.json, then decide the development set (generated, seed 1: 7 families
# x 4 sizes x 10 pairs) with the decision options given after NAME.
#   bench/causal/meta_cgnn_settings.sh BUILD_DIR NAME [decision options, e.g. --adapt-steps 10]
# DEV_CAUSE_WARP=P decides the same pairs with each cause warped with probability P instead
# (`sbi causal generate --cause-warp P`); the output folder then ends in -devwarpP. Likewise
# DEV_CAUSE_NOISE=P (measurement error on the cause, folder ending -devnoiseP) and DEV_CONFOUNDING=P
# (a hidden confounder, -devconfP); one of the three at a time.
# Output: bench/causal/out/meta_cgnn_dev/NAME[TAG]/ (the model, summary.md, pairs.csv, train.log).
set -euo pipefail
build=$1; name=$2; shift 2
here=$(cd "$(dirname "$0")" && pwd)
out=$here/out/meta_cgnn_dev
warp=${DEV_CAUSE_WARP:-0} noise=${DEV_CAUSE_NOISE:-0} confounding=${DEV_CONFOUNDING:-0}
dev=$out/devset
tag=$(echo "$*" | tr -d ' -' )
if [ "$warp" != 0 ]; then dev=$out/devset-warp$warp; tag=$tag-devwarp$warp; fi
if [ "$noise" != 0 ]; then dev=$out/devset-noise$noise; tag=$tag-devnoise$noise; fi
if [ "$confounding" != 0 ]; then dev=$out/devset-conf$confounding; tag=$tag-devconf$confounding; fi
mkdir -p "$out"
[ -f "$dev/meta.csv" ] || "$build/sbi" causal generate -o "$dev" --pairs-per-cell 10 --seed 1 --cause-warp "$warp" \
  --cause-noise "$noise" --confounding "$confounding" > /dev/null
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
