#!/usr/bin/env bash
# Runs `Examples bench` (dense MPI_Allreduce vs AtomoAllreduce) under an emulated link on this machine:
# a private network namespace (unshare -n) whose loopback is rate-limited with tc tbf, and Open MPI forced onto
# TCP over that loopback (--mca btl self,tcp). All ranks' traffic crosses the one limited loopback, i.e. the ranks
# share one link of the given rate (the cost model accounts for that; see docs/network-benchmarks.md).
# With --nodes K > 1, an emulated cluster instead: K network namespaces ("nodes") on a bridge, each node's link
# limited to R each way (sending and receiving), the N ranks split evenly over them (ranks 0..N/K-1 on node 0, ...),
# one Open MPI daemon per node, TCP between nodes over the limited links and within a node shared memory (Open MPI's
# vader, as on a real node; --intra-node tcp: TCP over the node's own unlimited loopback); every rank gets
# ATOMO_RANKS_PER_NODE=N/K. The run then checks that the bytes between nodes crossed the links and that the links
# limited them, and stops with an error if not.
#
#   bench/netem.sh --rate 1gbit --ranks 4                     # the goal's configuration (~3 minutes)
#   bench/netem.sh --rate 1gbit --ranks 2,4,8 --sets resnet18 # several N in one namespace, then the cost model
#   bench/netem.sh --nodes 2 --ranks 8 --rate 10gbit          # 2 nodes x 4 ranks, 10 Gbit/s between nodes
#
# Options: --rate R (tc syntax: 1gbit, 10gbit, 500mbit; default 1gbit; with --nodes, each node's link),
# --ranks N[,N...] (default 4), --nodes K (emulated nodes, K divides every N; default 1: the one shared loopback),
# --sets LIST (default mlp,resnet18; mlp and resnet18 are synthetic, any other entry is a gradient capture directory,
# capture:PATH or a path, see docs/gradient-captures.md), --capture-step S (the captured step; default the last),
# --configs LIST (default all; with --nodes above 1, dense-node is added to a list without it), --routing time|bytes|both (how ATOMO routes tensors dense; default time, the library's;
# both runs each ATOMO configuration under both rules, the byte rule's as NAME-bytes), --warmup W (1; at least 49 where
# ATOMO routes by time), --steps S (3),
# --delay D (optional netem delay per packet, e.g. 100us; with --nodes, on what each node sends; default none),
# --node-groups G (with --nodes: every rank gets ATOMO_NODE_GROUP_SIZE=G, nodes per group of node-aware ATOMO, 1 =
# none, and the cost model predicts the runs with it; default unset: the library's rule, no groups below 32 nodes),
# --intra-node shm|tcp (with --nodes: how the ranks of one node reach each other; default shm, shared memory),
# --output DIR (default bench-results/netem-RATE, or netem-RATE-Knodes),
# --no-model (skip the cost model, run when several N were run or --nodes is above 1: fitted on this run, it reports
# its error against every configuration and projects to larger clusters, docs/network-benchmarks.md).
# Needs root (as CI runs), permission to create network namespaces, iproute2 (tc), Open MPI and the .NET SDK
# (scripts/install-dependencies.sh installs all but the SDK). The last line of output is exactly
# speedup_vs_dense=X: the fastest dense baseline's step time (every configuration whose name starts with dense:
# MPI_Allreduce, and a node-aware dense allreduce where the bench has one) / spectral ATOMO (budget 3) step time on
# the largest set of the run (most parameters; the first given of equals: resnet18 by default), at the last N; the
# line before it names that set and that baseline. The cost model (several N, or nodes) is fitted on the same set.
set -euo pipefail

NETEM_SCRIPT=netem.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/netem-link.sh" # die, the namespace, tc and mpiexec parts shared with netem-train.sh
root="$netem_root" dll="$netem_dll"
rate=1gbit ranks=4 nodes=1 sets=mlp,resnet18 capture_step="" configs=all routing=time warmup=1 steps=3 delay="" node_groups="" intra="" out="" model=1 inside=0

while [ $# -gt 0 ]; do
    case "$1" in
        --rate) rate="${2:?--rate needs a value}"; shift 2 ;;
        --ranks) ranks="${2:?--ranks needs a value}"; shift 2 ;;
        --nodes) nodes="${2:?--nodes needs a value}"; shift 2 ;;
        --sets) sets="${2:?--sets needs a value}"; shift 2 ;;
        --capture-step) capture_step="${2:?--capture-step needs a value}"; shift 2 ;;
        --configs) configs="${2:?--configs needs a value}"; shift 2 ;;
        --routing) routing="${2:?--routing needs a value}"; shift 2 ;;
        --warmup) warmup="${2:?--warmup needs a value}"; shift 2 ;;
        --steps) steps="${2:?--steps needs a value}"; shift 2 ;;
        --delay) delay="${2:?--delay needs a value}"; shift 2 ;;
        --node-groups) node_groups="${2:?--node-groups needs a value}"; shift 2 ;;
        --intra-node) intra="${2:?--intra-node needs a value}"; shift 2 ;;
        --output) out="${2:?--output needs a value}"; shift 2 ;;
        --no-model) model=0; shift ;;
        --inside) inside=1; shift ;;
        -h|--help) netem_help "$0"; exit 0 ;;
        *) die "unknown option '$1' (see --help)" ;;
    esac
done

netem_check_rate "$rate"
[[ "$ranks" =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]] || die "--ranks '$ranks' is not like 4 or 2,4,8"
[[ "$nodes" =~ ^[1-9][0-9]*$ ]] || die "--nodes '$nodes' is not a whole number of at least 1"
[ "$nodes" -le 250 ] || die "--nodes '$nodes': at most 250 emulated nodes (one /24 subnet)"
for n in ${ranks//,/ }; do
    [ "$n" -ge 2 ] || die "--ranks '$ranks': every N must be at least 2 (a 1-rank world exchanges nothing)"
    [ "$n" -ge "$nodes" ] || die "--ranks '$ranks': N = $n is fewer than the $nodes nodes (every node needs a rank)"
    [ $((n % nodes)) = 0 ] || die "--ranks '$ranks': N = $n does not split evenly over --nodes $nodes"
done
[[ "$routing" =~ ^(time|bytes|both)$ ]] || die "--routing '$routing' is not time, bytes or both"
[[ "$warmup" =~ ^[0-9]+$ ]] || die "--warmup '$warmup' is not a whole number"
[[ "$steps" =~ ^[1-9][0-9]*$ ]] || die "--steps '$steps' is not a whole number of at least 1"
[ -z "$node_groups" ] || [[ "$node_groups" =~ ^[1-9][0-9]*$ ]] || die "--node-groups '$node_groups' is not a whole number of at least 1"
[ -z "$node_groups" ] || [ "$nodes" -gt 1 ] || die "--node-groups needs --nodes above 1 (groups are of emulated nodes)"
[ -z "$intra" ] || [[ "$intra" =~ ^(shm|tcp)$ ]] || die "--intra-node '$intra' is not shm or tcp"
[ -z "$intra" ] || [ "$nodes" -gt 1 ] || die "--intra-node needs --nodes above 1 (on one node every rank's traffic crosses the limited loopback)"
intra="${intra:-shm}"
[ -z "$capture_step" ] || [[ "$capture_step" =~ ^[1-9][0-9]*$ ]] || die "--capture-step '$capture_step' is not a whole number of at least 1"
IFS=',' read -r -a set_list <<<"$sets"
[ "${#set_list[@]}" -gt 0 ] || die "--sets '$sets' names no gradient set"
for i in "${!set_list[@]}"; do
    entry="${set_list[$i]}"
    case "$entry" in
        mlp|resnet18) ;;
        *)
            dir="${entry#capture:}"
            [ -n "$dir" ] && [ -f "$dir/manifest.json" ] \
                || die "--sets: '$entry' is not mlp, resnet18 or a gradient capture directory (no $dir/manifest.json)"
            set_list[$i]="capture:$(cd "$dir" && pwd)" ;; # absolute: the ranks may start elsewhere
    esac
done
sets="$(IFS=','; echo "${set_list[*]}")"
[[ "$configs" == all || ",$configs," == *",atomo-spectral-s3,"* ]] || die "--configs must include atomo-spectral-s3 (the speedup line is reported for it)"
if [ "$nodes" -gt 1 ] && [ "$configs" != all ] && [[ ",$configs," != *",dense-node,"* ]]; then
    # Issue 18's speedup is over the better of the two dense baselines; over nodes the node-aware one can be it.
    configs="dense-node,$configs"
    echo "netem.sh: --configs gains dense-node: over $nodes nodes the speedup is over the better of dense and dense-node"
fi
label="$rate"
[ "$nodes" -gt 1 ] && label="$rate-${nodes}nodes"
[ -n "$node_groups" ] && label="$label-groups$node_groups"
out="${out:-$root/bench-results/netem-$label}"

# "POSITION,NAME" of the largest set in CSV $1 (most elements, the first of equals): the bench writes the sets in
# --sets order, so its position there is its entry in set_list.
largest_set() {
    awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
        !($col["set"] in seen) { seen[$col["set"]] = 1; n++; if ($col["elements"] + 0 > best) { best = $col["elements"] + 0; at = n; name = $col["set"] } }
        END { if (at) print at "," name }' "$1"
}

if [ "$inside" = 0 ]; then
    # Outside the namespace: check what is needed, build, then re-run this script inside a new network namespace.
    netem_prepare_host
    args=(--rate "$rate" --ranks "$ranks" --nodes "$nodes" --sets "$sets" --configs "$configs" --routing "$routing" --warmup "$warmup" --steps "$steps" --output "$out")
    [ -n "$delay" ] && args+=(--delay "$delay")
    [ -n "$node_groups" ] && args+=(--node-groups "$node_groups")
    [ "$nodes" -gt 1 ] && args+=(--intra-node "$intra")
    [ -n "$capture_step" ] && args+=(--capture-step "$capture_step")
    [ "$model" = 0 ] && args+=(--no-model)
    exec unshare -n -- bash "$0" --inside "${args[@]}"
fi

if [ "$nodes" = 1 ]; then
    netem_limit_loopback "$rate" "$delay"
else
    netem_cluster_start "$nodes" "$rate" "$intra" "$delay"
fi
mkdir -p "$out"
IFS=',' read -r -a rank_list <<<"$ranks"
step_args=() model_args=()
[ -n "$capture_step" ] && step_args=(--capture-step "$capture_step")
[ -n "$node_groups" ] && model_args=(--node-groups "$node_groups")
for n in "${rank_list[@]}"; do
    per=$((n / nodes))
    placement=(-x "ATOMO_RANKS_PER_NODE=$per")
    [ -n "$node_groups" ] && placement+=(-x "ATOMO_NODE_GROUP_SIZE=$node_groups")
    if [ "$nodes" = 1 ]; then
        echo "netem.sh: N = $n over TCP on the $rate loopback"
    else
        echo "netem.sh: N = $n, $per ranks on each of $nodes nodes, over TCP at $rate between nodes, $intra within a node"
        placement+=(-H "$(netem_hosts "$per")")
        # Open MPI yields the core while polling only on a host it sees oversubscribed; each emulated node looks
        # like a host with N/K slots, but all N ranks share this machine's cores, and polling ranks starve the rest
        # (8 ranks on 2 cores: 1 KiB allreduces took 16 ms instead of 0.2 ms).
        [ "$n" -gt "$(nproc)" ] && placement+=(--mca mpi_yield_when_idle 1)
        before=$(netem_node_bytes)
    fi
    "${netem_mpiexec[@]}" "${placement[@]}" -n "$n" dotnet "$dll" bench --sets "$sets" --configs "$configs" --routing "$routing" --warmup "$warmup" --steps "$steps" \
        --label "$label" --calibrate --output "$out" "${step_args[@]}" \
        || die "the bench failed at N = $n (see the output above)"
    if [ "$nodes" -gt 1 ]; then
        netem_check_links "$out/bench-$label-n$n.csv" $((warmup + steps)) "$rate" "$before" "$(netem_node_bytes)" "$(largest_set "$out/bench-$label-n$n.csv" | cut -d, -f2-)"
    fi
done

last="${rank_list[${#rank_list[@]}-1]}"
csv="$out/bench-$label-n$last.csv"
largest=$(largest_set "$csv")
[ -n "$largest" ] || die "no rows in $csv"
largest_entry="${set_list[${largest%%,*}-1]}" largest_name="${largest#*,}"
# The cost model: over one shared link it needs several N to fit; over nodes, the calibration's node and rail levels.
if [ "$model" = 1 ] && { [ "${#rank_list[@]}" -gt 1 ] || [ "$nodes" -gt 1 ]; }; then
    dotnet "$dll" bench model --input "$out" --label "$label" --rate "$rate" --cores "$(nproc)" --set "$largest_entry" --output "$out" "${step_args[@]}" "${model_args[@]}" \
        || die "the cost model failed"
fi

netem_speedup_lines "$csv" "$largest_name"
