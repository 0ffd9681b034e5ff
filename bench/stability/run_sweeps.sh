#!/bin/sh
# The learnable-points step-size sweeps of bench/stability/RESULTS.md (run from the repository root
# after building: cmake --build build --target sbi_cli). Each writes sweep.csv, sweep_plot.dat and
# sweep.png under bench/stability/<target>/.
set -e
SBI=${SBI:-./build/sbi}
OUT=bench/stability
COMMON="--steps 1000 --seeds 3 --configs none,sn,rkhs,sn+rkhs --ratios 0.1,1,10,100,1000,10000,100000 --threads 2 --seed 1"
nice -n 5 $SBI stability sweep --target grid25 --points 256 $COMMON -o $OUT/grid25
nice -n 5 $SBI stability sweep --target gauss8d --points 256 $COMMON -o $OUT/gauss8d
nice -n 5 $SBI stability sweep --target data/wine/wine.csv --points 178 $COMMON -o $OUT/wine
