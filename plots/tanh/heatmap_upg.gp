# Median cosine of upg over (k, λ)
# Written by phantom plot. Restyle and re-render with: gnuplot heatmap_upg.gp (data: heatmap_upg.dat)
set terminal pngcairo enhanced font 'Sans,10' size 900,600
set output 'heatmap_upg.png'
set title "Median cosine between UPG and the exact gradient (epoch 30)"
set xlabel "steps k"
set ylabel "damping λ"
set cblabel "median cos∠(ĝ, ∇)"
set xtics ("1" 0, "2" 1, "3" 2, "4" 3, "5" 4, "6" 5, "7" 6, "8" 7, "9" 8, "10" 9)
set ytics ("0.1" 0, "0.3" 1, "0.5" 2, "0.7" 3, "0.9" 4, "1" 5)
set xrange [-0.5:9.5]
set yrange [-0.5:5.5]
set palette defined (0 "#3b4cc0", 0.5 "#dddddd", 1 "#b40426")
set cbrange [*:1]
plot 'heatmap_upg.dat' index 0 using 1:2:3 with image notitle, \
     '' index 0 using 1:2:(sprintf("%.3f", $3)) with labels font ",7" notitle
unset output
