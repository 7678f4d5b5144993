# kanary bench: scripts/bench_http.sh's chart.  Two panels, requests/s and
# p99 latency, per case; keep-alive and new-connection-per-request side by
# side.  Bars are medians over rounds, whiskers min..max.
#   gnuplot -e "datafile='http-plot.dat'; outfile='http.png'; term='pngcairo'; subtitle='...'" http.gp
if (!exists("term")) term = 'pngcairo'
if (!exists("subtitle")) subtitle = ''
if (term eq 'pngcairo') {
    set terminal pngcairo size 1600,600 enhanced font 'sans,10'
} else {
    set terminal png size 1600,600 font 'sans' 10
}
set output outfile

set style fill solid 0.8 border -1
set boxwidth 0.9
set grid ytics lc rgb '#dddddd'
set key top right
# one group of two bars per case, at idx*3 and idx*3+1; the case names
# (column 2) label the groups
stats datafile using 1 nooutput
set xrange [-0.8:STATS_max*3+1.8]
set xtics () nomirror rotate by -25 noenhanced
set ytics nomirror
set yrange [0:*]
set offsets 0, 0, graph 0.08, 0
# columns: 1 idx, 2 case, 3-5 rps keep-alive (median min max), 6-8 rps close,
# 9-11 p99 keep-alive, 12-14 p99 close
ka = '#3a6ea5'
cl = '#e07b39'

set multiplot layout 1,2 title "kanary HTTP bench: client -> gateway -> nginx endpoint(s)\n{/*0.8 ".subtitle."}"

set title 'requests/s (higher is better)'
set ylabel 'requests/s'
set format y '%.0s%c'
plot datafile using ($1*3+0.5):(NaN):xtic(2) notitle, \
     '' using ($1*3):3 with boxes lc rgb ka title 'keep-alive', \
     '' using ($1*3+1):6 with boxes lc rgb cl title 'Connection: close', \
     '' using ($1*3):3:4:5 with yerrorbars lc rgb 'black' pt 7 ps 0.4 notitle, \
     '' using ($1*3+1):6:7:8 with yerrorbars lc rgb 'black' pt 7 ps 0.4 notitle, \
     '' using ($1*3):5:(sprintf('%.0fk', $3/1000)) with labels offset 0,0.8 font ',9' notitle, \
     '' using ($1*3+1):8:(sprintf('%.1fk', $6/1000)) with labels offset 0,0.8 font ',9' notitle

set title 'p99 latency, log scale (lower is better; wrk: from request sent, connect not included)'
set ylabel 'p99 ms'
set format y '%g'
set logscale y
set yrange [0.1:*]
set offsets 0, 0, graph 0.15, 0
plot datafile using ($1*3+0.5):(NaN):xtic(2) notitle, \
     '' using ($1*3):9 with boxes lc rgb ka title 'keep-alive', \
     '' using ($1*3+1):12 with boxes lc rgb cl title 'Connection: close', \
     '' using ($1*3):9:10:11 with yerrorbars lc rgb 'black' pt 7 ps 0.4 notitle, \
     '' using ($1*3+1):12:13:14 with yerrorbars lc rgb 'black' pt 7 ps 0.4 notitle, \
     '' using ($1*3):11:(sprintf('%.2f', $9)) with labels offset 0,0.8 font ',9' notitle, \
     '' using ($1*3+1):14:(sprintf('%.2f', $12)) with labels offset 0,0.8 font ',9' notitle

unset multiplot
