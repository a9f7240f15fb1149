#!/usr/bin/env bash
# Runs a placement on two "hosts" of this machine: rank 0 in this network namespace, rank 1 in a namespace of its
# own (its own network stack, interface, address and routes) joined to this one by a veth pair, each started with
# `allot worker` and torchrun's variables as on two hosts. What crosses is what crosses between hosts: the
# rendezvous at MASTER_ADDR (not the loopback), each rank's choice of the address the other reaches it at, and the
# tensors over a network interface. Needs root (ip netns, ip link); removes what it made on exit. Exits 77 (a
# skip, for the test that runs it) where namespaces cannot be made.
#
# Usage: scripts/two_hosts.sh MODEL --placement P.json [allot worker options...]
# Rank 0's report goes to stdout; rank 1's output to stderr, prefixed "rank 1: ".
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: scripts/two_hosts.sh MODEL --placement P.json [options]" >&2; exit 2; }
allot=${ALLOT_BINARY:-$PWD/build/allot}
[ -x "$allot" ] || { echo "two_hosts.sh: $allot is not built" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] && command -v ip >/dev/null || { echo "two_hosts.sh: needs root and iproute2 (network namespaces)" >&2; exit 77; }

tag=$$
ns=allot_h$tag v0=al0_$tag v1=al1_$tag
net=10.$((tag % 200 + 20)).$((tag / 200 % 250)).
cleanup() {
  ip netns del "$ns" 2>/dev/null || true
  ip link del "$v0" 2>/dev/null || true
}
trap cleanup EXIT
ip netns add "$ns" 2>/dev/null || { echo "two_hosts.sh: cannot make a network namespace here" >&2; exit 77; }
ip link add "$v0" type veth peer name "$v1"
ip link set "$v1" netns "$ns"
ip addr add "${net}1/24" dev "$v0"
ip link set "$v0" up
ip -n "$ns" addr add "${net}2/24" dev "$v1"
ip -n "$ns" link set "$v1" up
ip -n "$ns" link set lo up

port=$(( 20000 + tag % 20000 ))
export MASTER_ADDR=${net}1 MASTER_PORT=$port WORLD_SIZE=2
ip netns exec "$ns" env RANK=1 "$allot" worker "$@" 2> >(sed 's/^/rank 1: /' >&2) > /dev/null &
worker=$!
status=0
RANK=0 "$allot" worker "$@" || status=$?
wait "$worker" || { s=$?; [ "$status" -ne 0 ] || status=$s; }
exit "$status"
