#!/usr/bin/env bash
# MCMC on the slcp stand-in posterior (bench/mcmc/mcmc_bench.cpp): the defaults on observations 1–5,
# then one setting at a time around the defaults on observation 1. One thread, one run at a time.
# Appends JSON lines (with the load average before each run) to bench/mcmc/results.jsonl;
# summarise.py turns them into the tables of RESULTS.md.
# Usage (from the repository root, after building mcmc_bench in build/): bench/mcmc/run.sh [part...]
#   parts: defaults, c2st, tradeoffs, cost, hmc, threads (default: all)
set -euo pipefail
cd "$(dirname "$0")/../.."
cmake --build build -j2 --target mcmc_bench >/dev/null  # benchmarks are not part of a plain build
bench=./build/bench/mcmc/mcmc_bench
out=bench/mcmc/results.jsonl
parts=("$@")
[ ${#parts[@]} -eq 0 ] && parts=(defaults c2st tradeoffs cost hmc threads)

run() {  # run <label> <flags...>
  local label=$1; shift
  local load; load=$(cut -d' ' -f1 /proc/loadavg)
  local line; line=$("$bench" "$@" 2>/dev/null | tail -1)
  /usr/bin/python3 -c 'import json,sys; d=json.loads(sys.argv[1]); d["label"]=sys.argv[2]; d["load"]=float(sys.argv[3]); d["date"]=sys.argv[4]; print(json.dumps(d))' \
    "$line" "$label" "$load" "$(date -u +%Y-%m-%dT%H:%MZ)" >> "$out"
}

for part in "${parts[@]}"; do
  case $part in
    defaults)
      for obs in 1 2 3 4 5; do for seed in 1 2 3; do run defaults --network maf --obs "$obs" --seed "$seed"; done; done ;;
    c2st)
      for obs in 1 2 3 4 5; do run c2st --network maf --obs "$obs" --seed 1 --c2st; done ;;
    tradeoffs)
      for seed in 1 2 3; do
        for c in 5 20 40; do run chains --network maf --chains "$c" --seed "$seed"; done
        for e in 10 20 80; do run explore --network maf --explore "$e" --seed "$seed"; done
        for w in 100 300; do run warmup --network maf --warmup "$w" --seed "$seed"; done
        for t in 2 5; do run thin --network maf --thin "$t" --seed "$seed"; done
        for j in 0 2 10; do run jumps --network maf --jump "$j" --seed "$seed"; done
        for s in 0.8 1.2; do run jump_scale --network maf --jump-scale "$s" --seed "$seed"; done
        for d in coordinate random; do run directions --network maf --directions "$d" --seed "$seed"; done
        run slice_updates --network maf --slice-updates 2 --jump 8 --seed "$seed"
        for b in 1 4; do run blocks --network maf --blocks "$b" --seed "$seed"; done
        run candidates --network maf --candidates 2000 --seed "$seed"
        run sbi_like --network maf --chains 20 --explore 20 --jump 0 --directions coordinate --seed "$seed"
      done ;;
    cost)
      for h in 100 200; do run cost --network maf --hidden "$h" --seed 1; done
      run cost --network none --seed 1 ;;
    hmc)
      for seed in 1 2 3; do
        run hmc --network maf --sampler hmc --seed "$seed"
        run hmc_no_jumps --network maf --sampler hmc --jump 0 --seed "$seed"
      done ;;
    threads)
      for t in 1 2; do run threads --network maf --threads "$t" --seed 1; done ;;
  esac
done
