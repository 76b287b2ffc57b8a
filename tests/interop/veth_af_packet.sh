#!/usr/bin/env bash
# The stack on af_packet over a veth pair, the kernel as the peer (veth.sh).
. "$(dirname "$0")/veth.sh"
veth_run af_packet
