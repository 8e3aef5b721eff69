#!/usr/bin/env bash
# Open MPI's rsh agent for the emulated cluster of bench/lib/netem-link.sh (mpiexec --mca plm_rsh_agent): called as
# `netem-node-agent.sh HOST COMMAND...` where ssh would be, it runs COMMAND (an orted) with /bin/sh inside the network
# namespace of the emulated node HOST. NETEM_NODE_NETNS, exported by netem_cluster_start, maps each node's address
# to its namespace: "10.77.0.1=/proc/PID/ns/net 10.77.0.2=/proc/PID/ns/net ...".
set -eu
host="$1"
shift
for entry in ${NETEM_NODE_NETNS:?is not set: this agent is started by mpiexec under bench/netem.sh --nodes}; do
    if [ "${entry%%=*}" = "$host" ]; then
        exec nsenter --net="${entry#*=}" -- /bin/sh -c "$*"
    fi
done
echo "netem-node-agent.sh: error: '$host' is not an emulated node (NETEM_NODE_NETNS: $NETEM_NODE_NETNS)" >&2
exit 1
