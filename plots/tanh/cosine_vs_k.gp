# Cosine vs k per λ (median and 10–90% band across samples)
# Written by phantom plot. Restyle and re-render with: gnuplot cosine_vs_k.gp (data: cosine_vs_k.dat)
set terminal pngcairo enhanced font 'Sans,10' size 1000,500
set output 'cosine_vs_k.png'
set multiplot layout 1,2
set xlabel "steps k"
set ylabel "cos∠(ĝ, ∇): median, 10–90% band"
set key bottom right
set grid
set title "UPG: cosine to the exact gradient (epoch 30)"
plot 'cosine_vs_k.dat' index 0 using 1:3:4 with filledcurves lc 1 fs transparent solid 0.15 notitle, \
     '' index 0 using 1:2 with linespoints lc 1 pt 7 ps 0.6 title "λ = 0.1", \
     'cosine_vs_k.dat' index 1 using 1:3:4 with filledcurves lc 2 fs transparent solid 0.15 notitle, \
     '' index 1 using 1:2 with linespoints lc 2 pt 7 ps 0.6 title "λ = 0.3", \
     'cosine_vs_k.dat' index 2 using 1:3:4 with filledcurves lc 3 fs transparent solid 0.15 notitle, \
     '' index 2 using 1:2 with linespoints lc 3 pt 7 ps 0.6 title "λ = 0.5", \
     'cosine_vs_k.dat' index 3 using 1:3:4 with filledcurves lc 4 fs transparent solid 0.15 notitle, \
     '' index 3 using 1:2 with linespoints lc 4 pt 7 ps 0.6 title "λ = 0.7", \
     'cosine_vs_k.dat' index 4 using 1:3:4 with filledcurves lc 5 fs transparent solid 0.15 notitle, \
     '' index 4 using 1:2 with linespoints lc 5 pt 7 ps 0.6 title "λ = 0.9", \
     'cosine_vs_k.dat' index 5 using 1:3:4 with filledcurves lc 6 fs transparent solid 0.15 notitle, \
     '' index 5 using 1:2 with linespoints lc 6 pt 7 ps 0.6 title "λ = 1"
set title "NPG: cosine to the exact gradient (epoch 30)"
plot 'cosine_vs_k.dat' index 6 using 1:3:4 with filledcurves lc 1 fs transparent solid 0.15 notitle, \
     '' index 6 using 1:2 with linespoints lc 1 pt 7 ps 0.6 title "λ = 0.1", \
     'cosine_vs_k.dat' index 7 using 1:3:4 with filledcurves lc 2 fs transparent solid 0.15 notitle, \
     '' index 7 using 1:2 with linespoints lc 2 pt 7 ps 0.6 title "λ = 0.3", \
     'cosine_vs_k.dat' index 8 using 1:3:4 with filledcurves lc 3 fs transparent solid 0.15 notitle, \
     '' index 8 using 1:2 with linespoints lc 3 pt 7 ps 0.6 title "λ = 0.5", \
     'cosine_vs_k.dat' index 9 using 1:3:4 with filledcurves lc 4 fs transparent solid 0.15 notitle, \
     '' index 9 using 1:2 with linespoints lc 4 pt 7 ps 0.6 title "λ = 0.7", \
     'cosine_vs_k.dat' index 10 using 1:3:4 with filledcurves lc 5 fs transparent solid 0.15 notitle, \
     '' index 10 using 1:2 with linespoints lc 5 pt 7 ps 0.6 title "λ = 0.9", \
     'cosine_vs_k.dat' index 11 using 1:3:4 with filledcurves lc 6 fs transparent solid 0.15 notitle, \
     '' index 11 using 1:2 with linespoints lc 6 pt 7 ps 0.6 title "λ = 1"
unset multiplot
unset output
