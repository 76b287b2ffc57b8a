#!/usr/bin/env bash
# exit_tap.sh through build/impair with 3% loss each way between the tap and
# the kernel peer: what is still unsent or unacknowledged when the program
# leaves, by each kind of exit, is retransmitted by the exit drain and
# arrives whole with the FIN within its bound.
EXIT_LOSS=3 exec "$(dirname "$0")/exit_tap.sh" "$@"
