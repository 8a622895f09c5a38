#!/bin/sh
# criterion-tap.sh TEST: run a Criterion test program with TAP on stdout, for
# automake's tap-driver; Criterion's own report stays on stderr (in the .log).
exec "$1" --tap --jobs=1
