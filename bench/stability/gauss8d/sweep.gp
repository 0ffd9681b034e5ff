set terminal pngcairo size 1500,480 font ',10'
set output 'bench/stability/gauss8d/sweep.png.tmp-20490'
set datafile missing 'NaN'
set multiplot layout 1,3 title 'gauss8d, N = 256, 1000 steps, α = 1, β2 = 1, γ0 = 0.125 (median over seeds, band = min–max; diverged runs excluded)'
set logscale x
set format x '10^{%L}'
set xrange [0.05:200000]
set xlabel 'γ/γ0'
set key top left
set grid
set logscale y
set ylabel 'exact W1 to a target sample'
set autoscale y
set format y '10^{%L}'
plot 'bench/stability/gauss8d/sweep_plot.dat' index 0 using 1:3:4 with filledcurves fs transparent solid 0.15 lc 1 notitle, '' index 0 using 1:2 with linespoints lc 1 pt 7 title 'none', 'bench/stability/gauss8d/sweep_plot.dat' index 1 using 1:3:4 with filledcurves fs transparent solid 0.15 lc 2 notitle, '' index 1 using 1:2 with linespoints lc 2 pt 7 title 'sn', 'bench/stability/gauss8d/sweep_plot.dat' index 2 using 1:3:4 with filledcurves fs transparent solid 0.15 lc 3 notitle, '' index 2 using 1:2 with linespoints lc 3 pt 7 title 'rkhs', 'bench/stability/gauss8d/sweep_plot.dat' index 3 using 1:3:4 with filledcurves fs transparent solid 0.15 lc 4 notitle, '' index 3 using 1:2 with linespoints lc 4 pt 7 title 'sn+rkhs'
set logscale y
set ylabel 'MMD² (fixed Gaussian kernel; floor 1e-4)'
set autoscale y
set format y '10^{%L}'
plot 'bench/stability/gauss8d/sweep_plot.dat' index 0 using 1:6:7 with filledcurves fs transparent solid 0.15 lc 1 notitle, '' index 0 using 1:5 with linespoints lc 1 pt 7 title 'none', 'bench/stability/gauss8d/sweep_plot.dat' index 1 using 1:6:7 with filledcurves fs transparent solid 0.15 lc 2 notitle, '' index 1 using 1:5 with linespoints lc 2 pt 7 title 'sn', 'bench/stability/gauss8d/sweep_plot.dat' index 2 using 1:6:7 with filledcurves fs transparent solid 0.15 lc 3 notitle, '' index 2 using 1:5 with linespoints lc 3 pt 7 title 'rkhs', 'bench/stability/gauss8d/sweep_plot.dat' index 3 using 1:6:7 with filledcurves fs transparent solid 0.15 lc 4 notitle, '' index 3 using 1:5 with linespoints lc 4 pt 7 title 'sn+rkhs'
unset logscale y
set ylabel 'fraction of runs diverged'
set yrange [0:1.05]
set format y '%g'
plot 'bench/stability/gauss8d/sweep_plot.dat' index 0 using 1:8 with linespoints lc 1 pt 7 title 'none', 'bench/stability/gauss8d/sweep_plot.dat' index 1 using 1:8 with linespoints lc 2 pt 7 title 'sn', 'bench/stability/gauss8d/sweep_plot.dat' index 2 using 1:8 with linespoints lc 3 pt 7 title 'rkhs', 'bench/stability/gauss8d/sweep_plot.dat' index 3 using 1:8 with linespoints lc 4 pt 7 title 'sn+rkhs'
unset multiplot
