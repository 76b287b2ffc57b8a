#!/usr/bin/env bash
# tests/apps/pyhttp_af_xdp.sh on af_packet: a threaded python3 http.server
# serving 16 MiB nine times, four at once, byte-exact; idle sleeps end by frames.
KIND=af_packet exec "$(dirname "$0")/pyhttp_af_xdp.sh"
