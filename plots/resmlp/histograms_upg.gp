# Per-sample cosine histograms of upg
# Written by phantom plot. Restyle and re-render with: gnuplot histograms_upg.gp (data: histograms_upg.dat)
set terminal pngcairo enhanced font 'Sans,10' size 1380,580
set output 'histograms_upg.png'
set multiplot layout 2,5 title "UPG: per-sample cosine to the exact gradient (epoch 30)"
set xlabel "cos∠(ĝ, ∇)"
set ylabel "samples"
set xrange [0.599613162:1]
set boxwidth 0.0180174077
set xtics 0.200193419
set format x "%.2f"
set title "k = 1, λ = 0.5"
plot 'histograms_upg.dat' index 0 using 1:2 with boxes fs solid 0.6 lc 1 notitle
set title "k = 2, λ = 0.5"
plot 'histograms_upg.dat' index 1 using 1:2 with boxes fs solid 0.6 lc 1 notitle
set title "k = 3, λ = 0.5"
plot 'histograms_upg.dat' index 2 using 1:2 with boxes fs solid 0.6 lc 1 notitle
set title "k = 4, λ = 0.5"
plot 'histograms_upg.dat' index 3 using 1:2 with boxes fs solid 0.6 lc 1 notitle
set title "k = 5, λ = 0.5"
plot 'histograms_upg.dat' index 4 using 1:2 with boxes fs solid 0.6 lc 1 notitle
set title "k = 1, λ = 1"
plot 'histograms_upg.dat' index 5 using 1:2 with boxes fs solid 0.6 lc 1 notitle
set title "k = 2, λ = 1"
plot 'histograms_upg.dat' index 6 using 1:2 with boxes fs solid 0.6 lc 1 notitle
set title "k = 3, λ = 1"
plot 'histograms_upg.dat' index 7 using 1:2 with boxes fs solid 0.6 lc 1 notitle
set title "k = 4, λ = 1"
plot 'histograms_upg.dat' index 8 using 1:2 with boxes fs solid 0.6 lc 1 notitle
set title "k = 5, λ = 1"
plot 'histograms_upg.dat' index 9 using 1:2 with boxes fs solid 0.6 lc 1 notitle
unset multiplot
unset output
