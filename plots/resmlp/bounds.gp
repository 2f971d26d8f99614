# Relative error vs ρ, and Theorem 1's certified fraction
# Written by phantom plot. Restyle and re-render with: gnuplot bounds.gp (data: bounds.dat)
set terminal pngcairo enhanced font 'Sans,10' size 1100,500
set output 'bounds.png'
set multiplot layout 1,2
set title "Measured relative error vs the bound ρ = ‖E‖/σ_{min} (epoch 30)"
set logscale xy
set format x "10^{%T}"
set format y "10^{%T}"
set xlabel "ρ = ‖E‖₂ / σ_{min}(M)"
set ylabel "‖ĝ − ∇‖ / ‖∇‖"
set key top left
set grid
plot [0.0123944855:9.61461875] 'bounds.dat' index 0 using 1:2 with points pt 7 ps 0.3 title "cells (sample, estimator, k, λ)", x with lines lw 2 lc rgb "black" title "y = x"
unset logscale
set format x "%g"
set format y "%g"
set title "NPG: fraction of samples where Theorem 1 certifies ascent"
set xlabel "steps k"
set ylabel "fraction of samples"
set yrange [0:1.05]
set key top left
plot 'bounds.dat' index 1 using 1:2 with linespoints lc 1 pt 7 ps 0.6 title "λ = 0.1", \
     'bounds.dat' index 2 using 1:2 with linespoints lc 2 pt 7 ps 0.6 title "λ = 0.3", \
     'bounds.dat' index 3 using 1:2 with linespoints lc 3 pt 7 ps 0.6 title "λ = 0.5", \
     'bounds.dat' index 4 using 1:2 with linespoints lc 4 pt 7 ps 0.6 title "λ = 0.7", \
     'bounds.dat' index 5 using 1:2 with linespoints lc 5 pt 7 ps 0.6 title "λ = 0.9", \
     'bounds.dat' index 6 using 1:2 with linespoints lc 6 pt 7 ps 0.6 title "λ = 1"
unset multiplot
unset output
