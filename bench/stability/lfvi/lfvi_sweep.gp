set terminal pngcairo size 1100,430 font ',10'
set output 'bench/stability/lfvi/lfvi_sweep.png.tmp.png'
set multiplot layout 1,2 title 'LFVI on two\_moons obs 1: 1000 simulations, 3000 generator steps (Adam), γ0 = 1/8'
set logscale x
set format x '10^{%L}'
set xlabel 'generator learning rate'
set grid
set key top left
set ylabel 'C2ST (kept generator; 0.5 = perfect)'
set yrange [0.5:1.02]
plot 'bench/stability/lfvi/lfvi_sweep.dat' index 0 using 1:2 with linespoints lc 1 pt 7 title 'none', 'bench/stability/lfvi/lfvi_sweep.dat' index 1 using 1:2 with linespoints lc 2 pt 7 title 'default-gp', 'bench/stability/lfvi/lfvi_sweep.dat' index 2 using 1:2 with linespoints lc 3 pt 7 title 'sn+rkhs'
set ylabel 'validation joint MMD² at the last step (unbiased; < 0 = noise)'
set autoscale y
plot 'bench/stability/lfvi/lfvi_sweep.dat' index 0 using 1:3 with linespoints lc 1 pt 7 title 'none', 'bench/stability/lfvi/lfvi_sweep.dat' index 1 using 1:3 with linespoints lc 2 pt 7 title 'default-gp', 'bench/stability/lfvi/lfvi_sweep.dat' index 2 using 1:3 with linespoints lc 3 pt 7 title 'sn+rkhs'
unset multiplot
