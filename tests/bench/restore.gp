# restore.gp: restore time against env size, one line per method and place, from the
# restore.dat that bench.sh writes.  gnuplot -e "datafile='restore.dat'; outfile='restore.svg'" restore.gp
if (!exists("datafile")) datafile = 'restore.dat'
if (!exists("outfile")) outfile = 'restore.svg'
set terminal svg size 900,560 dynamic enhanced font 'sans,12'
set output outfile
set datafile missing '?'
set datafile separator '\t'
set title 'kpy benchmark: restore time against env size'
set xlabel 'env size (MiB)'
set ylabel 'restore time (s)'
set key outside right top noenhanced
set grid
set xrange [0:*]
set yrange [0:*]
set offsets 0, graph 0.05, graph 0.05, 0
ncol = int(system("head -1 '" . datafile . "' | awk -F'\t' '{ print NF }'"))
# report.sh writes 6 methods per place: colour by method, points by place (tmpfs
# first: open circles, then disk: filled)
plot for [i=2:ncol] datafile using 1:i with linespoints lw 2 lc (i - 2) % 6 + 1 pt ((i - 2) / 6) % 2 + 6 ps 1.3 title columnheader(i)
