#!/usr/bin/env bash
# Open MPI's rsh agent for the emulated cluster of bench/lib/netem-link.sh (mpiexec --mca plm_rsh_agent): called as
# `netem-node-agent.sh HOST COMMAND...` where ssh would be, it runs COMMAND (an orted) with /bin/sh inside the network
# and UTS namespaces of the emulated node HOST. NETEM_NODES, exported by netem_cluster_start, maps each node's address
# to the process holding its namespaces: "10.77.0.1=PID 10.77.0.2=PID ...".
set -eu
host="$1"
shift
for entry in ${NETEM_NODES:?is not set: this agent is started by mpiexec under bench/netem.sh --nodes}; do
    if [ "${entry%%=*}" = "$host" ]; then
        exec nsenter --target "${entry#*=}" --net --uts -- /bin/sh -c "$*"
    fi
done
echo "netem-node-agent.sh: error: '$host' is not an emulated node (NETEM_NODES: $NETEM_NODES)" >&2
exit 1
