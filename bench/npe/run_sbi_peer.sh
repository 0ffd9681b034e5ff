#!/bin/bash
# sbi 0.25's NPE (../shared/peers/run_sbi.py at sbi's defaults: NPE_C with a MAF) on held-out
# observations of an sbibm task, one run at a time on one thread, the C2ST computed by the same
# `sbi diagnose` as sbi++'s; one JSON line per run (sbi's own summary, the C2ST, load and date)
# appended to bench/npe/sbi_peer.jsonl. Run `bash ../shared/peers/setup.sh` once first.
#   bash bench/npe/run_sbi_peer.sh TASK SIMULATIONS OBSERVATION...        e.g. two_moons 1000 2 3 4 5
# METHOD=NLE or NRE runs sbi's NLE (MAF) or NRE (NRE_B), sampled by sbi's default slice MCMC, instead;
# OUT=file.jsonl appends there instead.
set -e
method=${METHOD:-NPE}
task=$1
n=$2
shift 2
root=$(cd "$(dirname "$0")/../.." && pwd)
. "$root/../shared/peers/env.sh"
scratch=$(mktemp -d /tmp/sbi_peer.XXXXXX)   # sbi writes sbi-logs/ where it runs
cd "$scratch"
for k in "$@"; do
  obs="$root/data/sbibm/$task/obs_$k"
  load=$(cut -d' ' -f1 /proc/loadavg)
  date=$(date -u +%FT%TZ)
  summary=$($SBI_PYTHON "$root/../shared/peers/run_sbi.py" --task "$task" --method "$method" --sims "$n" --seed 1 \
    --obs "$obs/observation.csv" --out "$scratch/samples_$k.csv" 2>/dev/null | tail -1)
  c2st=$("$root/build/sbi" diagnose "$scratch/samples_$k.csv" --reference "$obs/reference_posterior_samples.csv" 2>&1 |
    sed -n 's/^C2ST accuracy *\([0-9.]*\).*/\1/p')
  echo "{\"tool\": \"sbi 0.25\", \"method\": \"$method\", \"task\": \"$task\", \"simulations\": $n, \"observation\": $k, \"c2st\": $c2st, \"load\": $load, \"date\": \"$date\", \"sbi\": $summary}" |
    tee -a "${OUT:-$root/bench/npe/sbi_peer.jsonl}"
done
