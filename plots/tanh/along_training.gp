# Cosine, ρ(J) and forward iterations along training
# Written by phantom plot. Restyle and re-render with: gnuplot along_training.gp (data: along_training.dat)
set terminal pngcairo enhanced font 'Sans,10' size 1100,480
set output 'along_training.png'
set multiplot layout 1,2
set title "Cosine to the exact gradient along training, k = 5, λ = 0.5"
set xlabel "epoch"
set ylabel "cos∠(ĝ, ∇): median, 10–90% band"
set key bottom right
set grid
plot 'along_training.dat' index 0 using 1:3:4 with filledcurves lc 1 fs transparent solid 0.15 notitle, \
     '' index 0 using 1:2 with linespoints lc 1 pt 7 ps 0.6 title "UPG", \
     'along_training.dat' index 1 using 1:3:4 with filledcurves lc 2 fs transparent solid 0.15 notitle, \
     '' index 1 using 1:2 with linespoints lc 2 pt 7 ps 0.6 title "NPG"
set title "The implicit layer along training"
set ylabel "median ρ(J) at h*"
set y2label "median forward iterations"
set ytics nomirror
set y2tics
set key top left
plot 'along_training.dat' index 2 using 1:2 axes x1y1 with linespoints pt 7 title "ρ(J)", \
     '' index 2 using 1:3 axes x1y2 with linespoints pt 5 title "forward iterations"
unset multiplot
unset output
