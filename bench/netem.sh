#!/usr/bin/env bash
# Runs `Examples bench` (dense MPI_Allreduce vs AtomoAllreduce) under an emulated link on this machine:
# a private network namespace (unshare -n) whose loopback is rate-limited with tc tbf, and Open MPI forced onto
# TCP over that loopback (--mca btl self,tcp). All ranks' traffic crosses the one limited loopback, i.e. the ranks
# share one link of the given rate (the cost model accounts for that; see docs/network-benchmarks.md).
#
#   bench/netem.sh --rate 1gbit --ranks 4                     # the goal's configuration (~3 minutes)
#   bench/netem.sh --rate 1gbit --ranks 2,4,8 --sets resnet18 # several N in one namespace, then the cost model
#
# Options: --rate R (tc syntax: 1gbit, 10gbit, 500mbit; default 1gbit), --ranks N[,N...] (default 4),
# --sets LIST (default mlp,resnet18; mlp and resnet18 are synthetic, any other entry is a gradient capture directory,
# capture:PATH or a path, see docs/gradient-captures.md), --capture-step S (the captured step; default the last),
# --configs LIST (default all), --warmup W (1), --steps S (3),
# --delay D (optional netem delay per packet, e.g. 100us; default none), --output DIR (default bench-results/netem-RATE),
# --no-model (skip the cost model when several N were run).
# Needs root (as CI runs), permission to create network namespaces, iproute2 (tc), Open MPI and the .NET SDK
# (scripts/install-dependencies.sh installs all but the SDK). The last line of output is exactly
# speedup_vs_dense=X: dense step time / spectral ATOMO (budget 3) step time on the largest set of the run (most
# parameters; the first given of equals: resnet18 by default), at the last N; the line before it names that set.
# The cost model (several N) is fitted on the same set.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dll="$root/src/Examples/bin/Release/net10.0/Examples.dll"
rate=1gbit ranks=4 sets=mlp,resnet18 capture_step="" configs=all warmup=1 steps=3 delay="" out="" model=1 inside=0

die() { echo "netem.sh: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
    case "$1" in
        --rate) rate="${2:?--rate needs a value}"; shift 2 ;;
        --ranks) ranks="${2:?--ranks needs a value}"; shift 2 ;;
        --sets) sets="${2:?--sets needs a value}"; shift 2 ;;
        --capture-step) capture_step="${2:?--capture-step needs a value}"; shift 2 ;;
        --configs) configs="${2:?--configs needs a value}"; shift 2 ;;
        --warmup) warmup="${2:?--warmup needs a value}"; shift 2 ;;
        --steps) steps="${2:?--steps needs a value}"; shift 2 ;;
        --delay) delay="${2:?--delay needs a value}"; shift 2 ;;
        --output) out="${2:?--output needs a value}"; shift 2 ;;
        --no-model) model=0; shift ;;
        --inside) inside=1; shift ;;
        -h|--help) sed -n '2,/^set /p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option '$1' (see --help)" ;;
    esac
done

[[ "$rate" =~ ^([0-9]+(\.[0-9]+)?)(gbit|mbit|kbit)$ ]] || die "--rate '$rate' is not like 1gbit, 10gbit or 500mbit"
[[ "$rate" =~ ^0*(\.0*)?[a-z]+$ ]] && die "--rate '$rate' is zero"
[[ "$ranks" =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]] || die "--ranks '$ranks' is not like 4 or 2,4,8"
for n in ${ranks//,/ }; do
    [ "$n" -ge 2 ] || die "--ranks '$ranks': every N must be at least 2 (a 1-rank world exchanges nothing)"
done
[[ "$warmup" =~ ^[0-9]+$ ]] || die "--warmup '$warmup' is not a whole number"
[[ "$steps" =~ ^[1-9][0-9]*$ ]] || die "--steps '$steps' is not a whole number of at least 1"
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
out="${out:-$root/bench-results/netem-$rate}"

if [ "$inside" = 0 ]; then
    # Outside the namespace: check what is needed, build, then re-run this script inside a new network namespace.
    [ "$(id -u)" = 0 ] || die "must run as root (it creates a network namespace and changes qdiscs); CI runs as root"
    for tool in unshare ip tc mpiexec.openmpi dotnet; do
        command -v "$tool" >/dev/null || die "missing '$tool': run 'bash scripts/install-dependencies.sh' (and install the .NET 10 SDK)"
    done
    if ! unshare -n true 2>/dev/null; then
        die "cannot create a network namespace here ('unshare -n true' failed: no CAP_SYS_ADMIN, a seccomp/AppArmor profile, or a container without --privileged / --cap-add SYS_ADMIN). Run on a VM or a privileged container."
    fi
    echo "netem.sh: building Examples (Release)"
    dotnet build "$root/src/Examples" -c Release --nologo -v quiet -clp:ErrorsOnly >/dev/null || die "build failed: dotnet build src/Examples -c Release"
    args=(--rate "$rate" --ranks "$ranks" --sets "$sets" --configs "$configs" --warmup "$warmup" --steps "$steps" --output "$out")
    [ -n "$delay" ] && args+=(--delay "$delay")
    [ -n "$capture_step" ] && args+=(--capture-step "$capture_step")
    [ "$model" = 0 ] && args+=(--no-model)
    exec unshare -n -- bash "$0" --inside "${args[@]}"
fi

# Inside the namespace: only a loopback, which starts down.
ip link set lo up
rate_bits=$(awk -v r="$rate" 'BEGIN { n = r + 0; u = r; sub(/^[0-9.]+/, "", u); m = (u == "gbit") ? 1e9 : (u == "mbit") ? 1e6 : 1e3; printf "%.0f", n * m }')
# Burst: 4 ms at the rate (one tick at HZ = 250), at least 256 KiB (lo's 64 KiB MTU and GSO super-packets must fit).
burst=$(awk -v b="$rate_bits" 'BEGIN { x = b / 8 * 0.004; if (x < 262144) x = 262144; printf "%.0f", x }')
if [ -n "$delay" ]; then
    tc qdisc add dev lo root handle 1: tbf rate "$rate" burst "$burst" latency 200ms
    tc qdisc add dev lo parent 1:1 handle 10: netem delay "$delay" \
        || die "--delay needs the kernel's netem qdisc (module sch_netem), which this kernel does not provide; run without --delay"
else
    tc qdisc add dev lo root tbf rate "$rate" burst "$burst" latency 200ms
fi
echo "netem.sh: namespace loopback limited: $(tc qdisc show dev lo | tr '\n' ';')"

export TERM=dumb DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
unset ATOMO_MPI_LIBRARY
mkdir -p "$out"
IFS=',' read -r -a rank_list <<<"$ranks"
step_args=()
[ -n "$capture_step" ] && step_args=(--capture-step "$capture_step")
for n in "${rank_list[@]}"; do
    echo "netem.sh: N = $n over TCP on the $rate loopback"
    mpiexec.openmpi --oversubscribe --bind-to none -n "$n" \
        --mca pml ob1 --mca btl self,tcp --mca btl_tcp_if_include lo --mca oob_tcp_if_include lo \
        dotnet "$dll" bench --sets "$sets" --configs "$configs" --warmup "$warmup" --steps "$steps" \
        --label "$rate" --calibrate --output "$out" "${step_args[@]}" \
        || die "the bench failed at N = $n (see the output above)"
done

last="${rank_list[${#rank_list[@]}-1]}"
csv="$out/bench-$rate-n$last.csv"
# The largest set: the bench writes the sets in --sets order, so its position there is its entry in set_list.
largest=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
    !($col["set"] in seen) { seen[$col["set"]] = 1; n++; if ($col["elements"] + 0 > best) { best = $col["elements"] + 0; at = n; name = $col["set"] } }
    END { if (at) print at "," name }' "$csv")
[ -n "$largest" ] || die "no rows in $csv"
largest_entry="${set_list[${largest%%,*}-1]}" largest_name="${largest#*,}"
if [ "$model" = 1 ] && [ "${#rank_list[@]}" -gt 1 ]; then
    dotnet "$dll" bench model --input "$out" --label "$rate" --rate "$rate" --cores "$(nproc)" --set "$largest_entry" --output "$out" "${step_args[@]}" \
        || die "the cost model failed"
fi

speedup=$(awk -F, -v set="$largest_name" 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
    $col["set"] == set && $col["config"] == "atomo-spectral-s3" { printf "%.2f", $col["speedup_vs_dense"] }' "$csv")
[ -n "$speedup" ] || die "no $largest_name / atomo-spectral-s3 row in $csv"
echo "netem.sh: speedup on the largest set, $largest_name"
echo "speedup_vs_dense=$speedup"
