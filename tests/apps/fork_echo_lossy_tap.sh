#!/usr/bin/env bash
# fork_echo_tap.sh through build/impair with 2% loss each way between the tap
# and the clients: 16 concurrent clients of the ForkingTCPServer echo, 2 MiB
# each, byte-exact; the relay must have lost frames.
FORK_LOSS=2 FORK_CLIENTS=16 FORK_BYTES=$((2 << 20)) exec "$(dirname "$0")/fork_echo_tap.sh" "$@"
