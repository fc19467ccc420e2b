# Charts for bench/compare, from the .dat files report.py writes into dir
# (gnuplot -e "dir='...'" charts.gp): time ratio and peak RSS per workload per
# allocator, and RSS over time for memret. Each chart as SVG and PNG.
set datafile missing "?"
set key outside right top
set grid ytics
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set xtics rotate by -30 nomirror
set ytics nomirror

# Same colour for an allocator in every chart (column order is fixed).
set linetype 1 lc rgb "#555555"
set linetype 2 lc rgb "#d62728"
set linetype 3 lc rgb "#1f77b4"
set linetype 4 lc rgb "#2ca02c"
set linetype 5 lc rgb "#ff7f0e"

# Each chart is plotted into dir/NAME.svg, then replotted into dir/NAME.png.
svg(name) = sprintf("set terminal svg size 960,540 dynamic font 'sans,12'; set output '%s/%s.svg'", dir, name)
png(name) = sprintf("set terminal pngcairo size 960,540 font 'sans,10'; set output '%s/%s.png'", dir, name)

f = dir."/time_ratio.dat"
if (system("test -f '".f."' && echo y") eq "y") {
    n = int(system("head -n 1 '".f."' | wc -w"))
    set title "Time relative to glibc (timed section, median of runs; lower is better)"
    set ylabel "time / glibc time"
    set yrange [0:*]
    set arrow 1 from graph 0, first 1 to graph 1, first 1 nohead dt 2 lw 1.5 front
    eval svg("time_ratio")
    plot for [i=2:n] f using i:xtic(1) title columnheader(i)
    eval png("time_ratio")
    replot
    unset arrow 1
}

f = dir."/peak_rss.dat"
if (system("test -f '".f."' && echo y") eq "y") {
    n = int(system("head -n 1 '".f."' | wc -w"))
    set title "Peak RSS (median of runs; log scale; lower is better)"
    set ylabel "MiB"
    set logscale y
    set yrange [1:*]
    eval svg("peak_rss")
    plot for [i=2:n] f using i:xtic(1) title columnheader(i)
    eval png("peak_rss")
    replot
    unset logscale y
}

set style data linespoints
set xtics norotate
set autoscale x
files = system("cd '".dir."' && ls memret*_rss.dat 2>/dev/null")
do for [base in files] {
    f = dir."/".base
    n = int(system("head -n 1 '".f."' | wc -w"))
    set title "memret: RSS after freeing everything, threads still alive (median of runs)"
    set xlabel "ms after the free ended"
    set ylabel "RSS (MiB)"
    set yrange [0:*]
    stats f using 1 skip 1 nooutput
    set xrange [-250:STATS_max + 50]
    set xtics 0, (STATS_max <= 500 ? 100 : 500)
    set xtics add ("allocated" -200) # report.py's row for the sample before the free
    eval svg(base[1:strlen(base)-4])
    plot for [i=2:n] f using 1:i title columnheader(i) lw 2 pt 7 ps 0.6
    eval png(base[1:strlen(base)-4])
    replot
}
unset output
