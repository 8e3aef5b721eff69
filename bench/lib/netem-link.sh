# The emulated link that bench/netem.sh and bench/netem-train.sh share: sourced, not run. A private network
# namespace (unshare -n) whose loopback is rate-limited with tc tbf, and Open MPI forced onto TCP over that loopback,
# so every rank's traffic crosses the one limited link (docs/network-benchmarks.md, "The emulated link"); or, for
# netem.sh --nodes K, an emulated cluster of K nodes inside that namespace ("The emulated cluster", further down).
# Set NETEM_SCRIPT (the name errors start with) before sourcing.

netem_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
netem_dll="$netem_root/src/Examples/bin/Release/net10.0/Examples.dll"

# Open MPI on TCP over the namespace's loopback only (no shared memory, no other interface).
netem_mpiexec=(mpiexec.openmpi --oversubscribe --bind-to none
    --mca pml ob1 --mca btl self,tcp --mca btl_tcp_if_include lo --mca oob_tcp_if_include lo)

die() { echo "$NETEM_SCRIPT: error: $*" >&2; exit 1; }

# The script's header comment (line 2 up to 'set -euo pipefail') as --help.
netem_help() { sed -n '2,/^set /p' "$1" | grep '^#' | sed 's/^# \{0,1\}//'; }

# Dies unless $1 is a non-zero rate in tc syntax (1gbit, 10gbit, 500mbit).
netem_check_rate() {
    [[ "$1" =~ ^([0-9]+(\.[0-9]+)?)(gbit|mbit|kbit)$ ]] || die "--rate '$1' is not like 1gbit, 10gbit or 500mbit"
    [[ "$1" =~ ^0*(\.0*)?[a-z]+$ ]] && die "--rate '$1' is zero"
    return 0
}

# Outside the namespace: dies unless this is root with every tool and may create a network namespace; then builds Examples.
netem_prepare_host() {
    [ "$(id -u)" = 0 ] || die "must run as root (it creates a network namespace and changes qdiscs); CI runs as root"
    for tool in unshare ip tc mpiexec.openmpi dotnet; do
        command -v "$tool" >/dev/null || die "missing '$tool': run 'bash scripts/install-dependencies.sh' (and install the .NET 10 SDK)"
    done
    if ! unshare -n true 2>/dev/null; then
        die "cannot create a network namespace here ('unshare -n true' failed: no CAP_SYS_ADMIN, a seccomp/AppArmor profile, or a container without --privileged / --cap-add SYS_ADMIN). Run on a VM or a privileged container."
    fi
    echo "$NETEM_SCRIPT: building Examples (Release)"
    dotnet build "$netem_root/src/Examples" -c Release --nologo -v quiet -clp:ErrorsOnly >/dev/null || die "build failed: dotnet build src/Examples -c Release"
}

# The rate in bits per second of a tc rate ($1: 1gbit, 10gbit, 500mbit).
netem_rate_bits() {
    awk -v r="$1" 'BEGIN { n = r + 0; u = r; sub(/^[0-9.]+/, "", u); m = (u == "gbit") ? 1e9 : (u == "mbit") ? 1e6 : 1e3; printf "%.0f", n * m }'
}

# The tbf burst in bytes for rate $1: 4 ms at the rate (one tick at HZ = 250), at least 256 KiB (64 KiB MTUs and GSO
# super-packets must fit).
netem_burst_bytes() {
    awk -v b="$(netem_rate_bits "$1")" 'BEGIN { x = b / 8 * 0.004; if (x < 262144) x = 262144; printf "%.0f", x }'
}

# Limits what device $1 sends to rate $2 with tc tbf, with an optional netem delay $3; in the network namespace $4
# (a /proc/PID/ns/net path) if given, else in this one.
netem_limit_device() {
    local dev="$1" rate="$2" delay="${3:-}" netns="${4:-}" burst run=()
    [ -n "$netns" ] && run=(nsenter --net="$netns" --)
    burst=$(netem_burst_bytes "$rate")
    if [ -n "$delay" ]; then
        "${run[@]}" tc qdisc add dev "$dev" root handle 1: tbf rate "$rate" burst "$burst" latency 200ms
        "${run[@]}" tc qdisc add dev "$dev" parent 1:1 handle 10: netem delay "$delay" \
            || die "--delay needs the kernel's netem qdisc (module sch_netem), which this kernel does not provide; run without --delay"
    else
        "${run[@]}" tc qdisc add dev "$dev" root tbf rate "$rate" burst "$burst" latency 200ms
    fi
}

# The environment the ranks run in.
netem_rank_environment() {
    export TERM=dumb DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
    unset ATOMO_MPI_LIBRARY
}

# Inside the namespace: brings lo up and limits it to rate $1, with an optional netem delay $2; sets up the
# environment the ranks run in.
netem_limit_loopback() {
    ip link set lo up # the namespace's only interface, which starts down
    netem_limit_device lo "$1" "${2:-}"
    echo "$NETEM_SCRIPT: namespace loopback limited: $(tc qdisc show dev lo | tr '\n' ';')"
    netem_rank_environment
}

# ---- The emulated cluster (netem.sh --nodes K) --------------------------------------------------------------------
# Inside the private namespace, which becomes the hub: a bridge (the switch, netem-br, 10.77.0.254) and K nodes,
# node i (0-based) a network and a UTS namespace with the host name netem-node<i>, at 10.77.0.(i+1) on its eth0, the
# far end of a veth pair whose near end netem-node<i> is a port of the bridge. Both ends are limited to the rate:
# eth0 (the node's egress) caps what the node sends, netem-node<i> (the bridge's egress towards the node) caps what it
# receives; i.e. every node has a full-duplex NIC of that rate on a non-blocking switch, and bytes between two nodes
# cross the sender's and the receiver's limit.
# A node's own traffic (its ranks' messages to each other over vader shared memory, or with tcp over TCP to the
# node's address; PMIx on its 127.0.0.1) never reaches the links: it stays in shared memory or on the node's
# loopback, which is not limited. MTU 65535, like a loopback's, so that the kernel's per-packet cost does not cap the
# rate before tc does.
# Open MPI sees K hosts: mpiexec runs in the hub and starts one orted per node with netem-node-agent.sh as its rsh
# agent (nsenter into the node's namespaces instead of ssh); each node's ranks are children of its orted. Distinct
# host names keep the orteds' session directories apart (/tmp/ompi.HOST.UID/...: with one name for all, two orteds
# racing to create the same directory failed about one start in 20).

netem_subnet=10.77.0
netem_node_pids=() # the process holding each node's namespaces

# Builds K = $1 nodes whose links are limited to rate $2, the ranks of a node joined by $3 (shm: Open MPI's vader
# shared memory, as on a real node; tcp: TCP over the node's loopback), with an optional netem delay $4 on what each
# node sends (a one-way delay between nodes); removes them again when this shell exits, also on an error or Ctrl-C.
# Sets up the environment the ranks run in, and netem_mpiexec to a launcher that places ranks with -H "$(netem_hosts PER)".
netem_cluster_start() {
    local nodes="$1" rate="$2" intra="$3" delay="${4:-}" btl own pid netns i tries
    case "$intra" in
        shm) btl=self,vader,tcp ;; # vader only joins ranks of one orted, i.e. of one emulated node
        tcp) btl=self,tcp ;;
        *) die "netem_cluster_start: within a node '$intra' is not shm or tcp" ;;
    esac
    trap netem_cluster_stop EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    ip link set lo up
    ip link add netem-br type bridge
    ip addr add "$netem_subnet.254/24" dev netem-br
    own=$(readlink /proc/$$/ns/net)
    for ((i = 0; i < nodes; i++)); do
        # New namespaces held by a process that ends with this shell even if it is killed outright (tail --pid).
        unshare --net --uts -- sh -c "hostname netem-node$i && exec tail -f /dev/null --pid=$$" &
        pid=$!
        netem_node_pids+=("$pid")
        for ((tries = 0; ; tries++)); do # until unshare has left this namespace (veths must not land in the hub) and named the node
            netns=$(readlink "/proc/$pid/ns/net" 2>/dev/null) || die "the namespace holder of node $i ended (unshare --net --uts failed)"
            [ "$netns" != "$own" ] && [ "$(nsenter --target "$pid" --uts hostname 2>/dev/null)" = "netem-node$i" ] && break
            [ "$tries" -lt 200 ] || die "node $i's namespaces did not appear within 10 s"
            sleep 0.05
        done
        ip link add "netem-node$i" mtu 65535 type veth peer name eth0 mtu 65535 netns "$pid"
        ip link set "netem-node$i" master netem-br up
        nsenter --net="/proc/$pid/ns/net" -- ip link set lo up
        nsenter --net="/proc/$pid/ns/net" -- ip addr add "$netem_subnet.$((i + 1))/24" dev eth0
        nsenter --net="/proc/$pid/ns/net" -- ip link set eth0 up
        netem_limit_device "netem-node$i" "$rate"                              # into node i
        netem_limit_device eth0 "$rate" "$delay" "/proc/$pid/ns/net"           # out of node i
    done
    ip link set netem-br mtu 65535 up
    echo "$NETEM_SCRIPT: $nodes emulated nodes at $netem_subnet.1-$nodes on a bridge, each node's link limited to $rate each way, Open MPI's BTLs $btl: $(tc qdisc show dev netem-node0 | tr '\n' ';')"
    netem_rank_environment
    NETEM_NODES=""
    for ((i = 0; i < nodes; i++)); do NETEM_NODES+="$netem_subnet.$((i + 1))=${netem_node_pids[$i]} "; done
    export NETEM_NODES # read by netem-node-agent.sh
    netem_mpiexec=(mpiexec.openmpi --oversubscribe --bind-to none
        --mca plm_rsh_agent "$netem_root/bench/lib/netem-node-agent.sh" --mca plm_rsh_no_tree_spawn 1
        --mca pml ob1 --mca btl "$btl" --mca btl_tcp_if_include "$netem_subnet.0/24" --mca oob_tcp_if_include "$netem_subnet.0/24")
}

# The trap of netem_cluster_start: ends the namespace holders it started and removes the veths and the bridge.
netem_cluster_stop() {
    local pid i
    for pid in "${netem_node_pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${netem_node_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
    for ((i = 0; i < ${#netem_node_pids[@]}; i++)); do ip link del "netem-node$i" 2>/dev/null || true; done
    ip link del netem-br 2>/dev/null || true
    netem_node_pids=()
}

# -H for mpiexec: every node with $1 slots, so that ranks fill node 0 first (ranks 0..$1-1), then node 1, ...
netem_hosts() {
    local i hosts=()
    for ((i = 0; i < ${#netem_node_pids[@]}; i++)); do hosts+=("$netem_subnet.$((i + 1)):$1"); done
    (IFS=','; echo "${hosts[*]}")
}

# "IN OUT" per node, one line each: bytes node i received and sent over its limited link so far (the bridge's port
# counts them from the other side: what it transmits goes into the node). From /proc/net/dev, which is this
# namespace's (/sys/class/net may show the host's), where a long name runs into the first number ("netem-node0:123").
netem_node_bytes() {
    local i
    for ((i = 0; i < ${#netem_node_pids[@]}; i++)); do
        awk -v dev="netem-node$i" '{ sub(/:/, " ") } $1 == dev { print $10, $2; found = 1 } END { exit !found }' /proc/net/dev \
            || die "no counters for netem-node$i in /proc/net/dev"
    done
}

# ---- Reading the bench's CSV (bench-LABEL-nN.csv: a header, then one row per set and configuration) ---------------

# The last two lines of netem.sh for set $2 of CSV $1: the set and the fastest dense baseline (every configuration
# whose name starts with "dense": MPI_Allreduce, and a node-aware dense allreduce where the bench has one), with
# each baseline's step, then exactly speedup_vs_dense=X: that baseline's step over atomo-spectral-s3's.
netem_speedup_lines() {
    local lines
    lines=$(awk -F, -v set="$2" -v script="$NETEM_SCRIPT" '
        NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
        $col["set"] != set { next }
        $col["config"] ~ /^dense/ {
            s = $col["step_s"] + 0
            all = all (all == "" ? "" : ", ") sprintf("%s %.1f ms", $col["config"], s * 1e3)
            if (best == "" || s < bestStep) { best = $col["config"]; bestStep = s }
        }
        $col["config"] == "atomo-spectral-s3" { atomo = $col["step_s"] + 0; found = 1 }
        END {
            if (best == "" || !found || atomo <= 0) exit 1
            printf "%s: speedup on the largest set, %s, over the fastest dense baseline: %s (%s)\n", script, set, best, all
            printf "speedup_vs_dense=%.2f\n", bestStep / atomo
        }' "$1") || die "no dense baseline or no atomo-spectral-s3 row for the set $2 in $1"
    echo "$lines"
}

# The bytes every node must receive, and send, over its link in the run of CSV $1 with $2 steps per configuration
# (warm-up + timed): an exact allreduce of n floats brings each node the other nodes' share of n sums, at least 4n
# bytes, in every step of every dense configuration. (ATOMO's exchange and the calibration send more on top.)
netem_inter_node_floor() {
    awk -F, -v steps="$2" 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
        $col["config"] ~ /^dense/ { bytes += 4 * $col["elements"] * steps }
        END { printf "%.0f\n", bytes }' "$1"
}

# The fastest dense step of set $2 in CSV $1 (min_step_s over every configuration starting with "dense"), seconds.
netem_fastest_dense_step() {
    awk -F, -v set="$2" 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
        $col["set"] == set && $col["config"] ~ /^dense/ && (best == "" || $col["min_step_s"] + 0 < best) { best = $col["min_step_s"] + 0; n = $col["elements"] }
        END { if (best == "") exit 1; printf "%.9f %s\n", best, n }' "$1"
}

# Dies unless the emulated cluster carried the run of CSV $1 ($2 steps per configuration, links of rate $3) as
# emulated: every node's link moved at least netem_inter_node_floor bytes each way between the counters $4 and $5
# (netem_node_bytes before and after the run: else ranks of different nodes reached each other some other way), and
# the fastest dense step of set $6 took at least the time its 4n bytes need to enter a node at the rate, less one tbf
# burst (else the links are not limited). Prints what it checked.
netem_check_links() {
    local csv="$1" steps="$2" rate="$3" before="$4" after="$5" set="$6" floor fastest bound
    floor=$(netem_inter_node_floor "$csv" "$steps")
    paste -d' ' <(echo "$before") <(echo "$after") | awk -v floor="$floor" -v script="$NETEM_SCRIPT" '
        NF != 4 { print script ": error: bad link counters: " $0 > "/dev/stderr"; bad = 1; next }
        {
            received = $3 - $1; sent = $4 - $2
            printf "%s: node %d received %.1f MB and sent %.1f MB over its link (the dense steps need at least %.1f MB each way)\n", script, NR - 1, received / 1e6, sent / 1e6, floor / 1e6
            if (received < floor || sent < floor) bad = 1
        }
        END { exit bad }' \
        || die "fewer bytes crossed a node's link than the dense steps alone must move between nodes: the ranks' traffic between nodes does not cross the emulated links"
    fastest=$(netem_fastest_dense_step "$csv" "$set") || die "no dense row for the set $set in $csv"
    bound=$(awk -v n="${fastest#* }" -v bits="$(netem_rate_bits "$rate")" -v burst="$(netem_burst_bytes "$rate")" \
        'BEGIN { b = (4 * n - burst) * 8 / bits; printf "%.6f", (b > 0 ? b : 0) }')
    echo "$NETEM_SCRIPT: fastest dense step on $set $(awk -v s="${fastest% *}" 'BEGIN { printf "%.1f", s * 1e3 }') ms, at least the $(awk -v s="$bound" 'BEGIN { printf "%.1f", s * 1e3 }') ms its bytes need to enter a node at $rate"
    awk -v s="${fastest% *}" -v b="$bound" 'BEGIN { exit !(s >= b) }' \
        || die "the fastest dense step on $set took less than its bytes need to enter a node at $rate: the emulated links are not limited"
}
