#!/usr/bin/env bash
# in-netns.sh COMMAND [ARGS...]
#
# Runs COMMAND in a private network made of two network namespaces joined by
# a veth pair, with multicast routed on it:
#
#   server namespace   veth0 10.99.0.1/24, lo, route 224.0.0.0/4 dev veth0
#   client namespace   veth1 10.99.0.2/24, lo, route 224.0.0.0/4 dev veth1
#
# COMMAND runs in the client namespace; it finds the other one in the
# environment (FANOUT_NETNS_SERVER: its name, for `ip netns exec`;
# FANOUT_NETNS_SERVER_ADDRESS: the server's address). Two namespaces, not one:
# gst-rtsp-server binds each multicast group's port on the server side without
# SO_REUSEADDR, so a client in the server's own namespace cannot bind it
# ("Address already in use"); a client on another host (here: namespace)
# can, which is how multicast is used.
#
# The namespaces are named after this script's pid, always deleted on exit
# (with whatever still runs in them), and COMMAND's exit status is returned.
# When they cannot be created (not root, no CAP_SYS_ADMIN, no veth), one line
# says why and the exit status is 77: meson reports the test as skipped.
set -u

server_ns="fanout-mc-srv-$$"
client_ns="fanout-mc-cli-$$"
server_addr=10.99.0.1
client_addr=10.99.0.2

skip() {
  echo "in-netns.sh: SKIP: $*" >&2
  exit 77
}

# Deletes namespace $1 and ends what still runs in it: only processes that a
# run of this script started there (the namespaces are private to it).
delete_ns() {
  local pid
  [ -e "/var/run/netns/$1" ] || return 0
  for pid in $(ip netns pids "$1" 2>/dev/null); do
    kill -KILL "$pid" 2>/dev/null
  done
  ip netns delete "$1" 2>/dev/null
}

# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
  delete_ns "$server_ns"
  delete_ns "$client_ns"
}

# Namespaces left by a run that was killed (SIGKILL skips the trap): ours by
# name, and the pid in the name is gone.
remove_stale() {
  local path ns pid
  for path in /var/run/netns/fanout-mc-srv-* /var/run/netns/fanout-mc-cli-*; do
    [ -e "$path" ] || continue
    ns=${path##*/}
    pid=${ns##*-}
    kill -0 "$pid" 2>/dev/null || delete_ns "$ns"
  done
}

[ $# -ge 1 ] || { echo "usage: in-netns.sh COMMAND [ARGS...]" >&2; exit 2; }
command -v ip >/dev/null 2>&1 || skip "'ip' (iproute2) is not installed"

remove_stale
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

err=$(ip netns add "$server_ns" 2>&1) \
  || skip "cannot create a network namespace (needs root or CAP_SYS_ADMIN): $err"
err=$(ip netns add "$client_ns" 2>&1) \
  || skip "cannot create a network namespace: $err"
err=$(ip -n "$server_ns" link add veth0 type veth peer name veth1 \
  netns "$client_ns" 2>&1) \
  || skip "cannot create a veth pair between namespaces: $err"

setup() {
  local ns=$1 dev=$2 addr=$3
  ip -n "$ns" link set lo up &&
    ip -n "$ns" addr add "$addr/24" dev "$dev" &&
    ip -n "$ns" link set "$dev" multicast on &&
    ip -n "$ns" link set "$dev" up &&
    ip -n "$ns" route add 224.0.0.0/4 dev "$dev"
}
err=$(setup "$server_ns" veth0 "$server_addr" 2>&1) \
  || skip "cannot configure the server namespace: $err"
err=$(setup "$client_ns" veth1 "$client_addr" 2>&1) \
  || skip "cannot configure the client namespace: $err"

export FANOUT_NETNS_SERVER="$server_ns"
export FANOUT_NETNS_SERVER_ADDRESS="$server_addr"
ip netns exec "$client_ns" "$@"
status=$?
exit $status
