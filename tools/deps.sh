#!/usr/bin/env bash
# Installs the Debian packages the build and the tests need, only those missing.
# Runs apt-get update once, and only when something must be installed.
set -euo pipefail

need=()
pc() { pkg-config --exists "$1" 2>/dev/null || need+=("$2"); }
cmd() { command -v "$1" >/dev/null 2>&1 || need+=("$2"); }
hdr() { [ -e "$1" ] || need+=("$2"); }

cmd pkg-config pkg-config
cmd gcc gcc
cmd make make
pc libdpdk libdpdk-dev
pc cmocka libcmocka-dev
pc inih libinih-dev
pc libbpf libbpf-dev
pc libxdp libxdp-dev
hdr /usr/include/numa.h libnuma-dev
hdr /usr/include/gelf.h libelf-dev
hdr /usr/include/zlib.h zlib1g-dev
hdr /usr/include/bsd/string.h libbsd-dev
cmd ip iproute2
cmd tc iproute2
cmd ethtool ethtool
cmd curl curl
cmd ping iputils-ping
cmd ethtool ethtool
cmd wrk wrk
cmd nginx nginx-light
cmd redis-server redis-server
cmd redis-cli redis-tools
cmd memcached memcached
cmd memcaslap libmemcached-tools
cmd sockperf sockperf
cmd iperf3 iperf3
cmd python3 python3
cmd clang clang
cmd node nodejs
cmd strace strace
cmd gnuplot gnuplot-nox
cmd perf linux-perf
cmd taskset util-linux
hdr /usr/bin/python3 python3

if [ ${#need[@]} -eq 0 ]; then
	exit 0
fi
mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
if [ "$(id -u)" -ne 0 ]; then
	echo "deps: missing ${need[*]}; run as root or: apt-get install ${need[*]}" >&2
	exit 1
fi
echo "deps: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
# Installing a server package must not start it: tests start their own.
printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d.demi
chmod +x /usr/sbin/policy-rc.d.demi
had_policy=0
[ -e /usr/sbin/policy-rc.d ] && had_policy=1
[ $had_policy -eq 1 ] || cp /usr/sbin/policy-rc.d.demi /usr/sbin/policy-rc.d
trap '[ $had_policy -eq 1 ] || rm -f /usr/sbin/policy-rc.d; rm -f /usr/sbin/policy-rc.d.demi' EXIT
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
