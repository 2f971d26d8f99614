# Training curves: loss, accuracy, forward and backward time per step
# Written by phantom plot. Restyle and re-render with: gnuplot training_curves.gp (data: training_curves.dat)
set terminal pngcairo enhanced font 'Sans,10' size 1100,800
set output 'training_curves.png'
set multiplot layout 2,2
set xlabel "epoch"
set grid
set key right
set title "Training loss"
set ylabel "mean loss"
plot 'training_curves.dat' index 0 using 1:2 with linespoints lc 1 dt 1 pt 7 ps 0.5 title "tanh-upg (upg)", \
     'training_curves.dat' index 1 using 1:2 with linespoints lc 2 dt 1 pt 7 ps 0.5 title "resmlp-upg (upg)"
set title "Accuracy"
set ylabel "accuracy"
plot 'training_curves.dat' index 0 using 1:3 with linespoints lc 1 dt 1 pt 7 ps 0.5 title "tanh-upg (upg) train", \
     'training_curves.dat' index 0 using 1:4 with linespoints lc 1 dt 2 pt 7 ps 0.5 title "tanh-upg (upg) test", \
     'training_curves.dat' index 1 using 1:3 with linespoints lc 2 dt 1 pt 7 ps 0.5 title "resmlp-upg (upg) train", \
     'training_curves.dat' index 1 using 1:4 with linespoints lc 2 dt 2 pt 7 ps 0.5 title "resmlp-upg (upg) test"
set title "Forward time per step"
set ylabel "ms"
plot 'training_curves.dat' index 0 using 1:5 with linespoints lc 1 dt 1 pt 7 ps 0.5 title "tanh-upg (upg)", \
     'training_curves.dat' index 1 using 1:5 with linespoints lc 2 dt 1 pt 7 ps 0.5 title "resmlp-upg (upg)"
set title "Backward time per step"
set ylabel "ms"
plot 'training_curves.dat' index 0 using 1:6 with linespoints lc 1 dt 1 pt 7 ps 0.5 title "tanh-upg (upg)", \
     'training_curves.dat' index 1 using 1:6 with linespoints lc 2 dt 1 pt 7 ps 0.5 title "resmlp-upg (upg)"
unset multiplot
unset output
