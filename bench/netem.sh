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
# --configs LIST (default all), --routing time|bytes|both (how ATOMO routes tensors dense; default time, the library's;
# both runs each ATOMO configuration under both rules, the byte rule's as NAME-bytes), --warmup W (1; at least 6 where
# ATOMO routes by time), --steps S (3),
# --delay D (optional netem delay per packet, e.g. 100us; default none), --output DIR (default bench-results/netem-RATE),
# --no-model (skip the cost model when several N were run).
# Needs root (as CI runs), permission to create network namespaces, iproute2 (tc), Open MPI and the .NET SDK
# (scripts/install-dependencies.sh installs all but the SDK). The last line of output is exactly
# speedup_vs_dense=X: dense step time / spectral ATOMO (budget 3) step time on the largest set of the run (most
# parameters; the first given of equals: resnet18 by default), at the last N; the line before it names that set.
# The cost model (several N) is fitted on the same set.
set -euo pipefail

NETEM_SCRIPT=netem.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/netem-link.sh" # die, the namespace, tc and mpiexec parts shared with netem-train.sh
root="$netem_root" dll="$netem_dll"
rate=1gbit ranks=4 sets=mlp,resnet18 capture_step="" configs=all routing=time warmup=1 steps=3 delay="" out="" model=1 inside=0

while [ $# -gt 0 ]; do
    case "$1" in
        --rate) rate="${2:?--rate needs a value}"; shift 2 ;;
        --ranks) ranks="${2:?--ranks needs a value}"; shift 2 ;;
        --sets) sets="${2:?--sets needs a value}"; shift 2 ;;
        --capture-step) capture_step="${2:?--capture-step needs a value}"; shift 2 ;;
        --configs) configs="${2:?--configs needs a value}"; shift 2 ;;
        --routing) routing="${2:?--routing needs a value}"; shift 2 ;;
        --warmup) warmup="${2:?--warmup needs a value}"; shift 2 ;;
        --steps) steps="${2:?--steps needs a value}"; shift 2 ;;
        --delay) delay="${2:?--delay needs a value}"; shift 2 ;;
        --output) out="${2:?--output needs a value}"; shift 2 ;;
        --no-model) model=0; shift ;;
        --inside) inside=1; shift ;;
        -h|--help) netem_help "$0"; exit 0 ;;
        *) die "unknown option '$1' (see --help)" ;;
    esac
done

netem_check_rate "$rate"
[[ "$ranks" =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]] || die "--ranks '$ranks' is not like 4 or 2,4,8"
for n in ${ranks//,/ }; do
    [ "$n" -ge 2 ] || die "--ranks '$ranks': every N must be at least 2 (a 1-rank world exchanges nothing)"
done
[[ "$routing" =~ ^(time|bytes|both)$ ]] || die "--routing '$routing' is not time, bytes or both"
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
    netem_prepare_host
    args=(--rate "$rate" --ranks "$ranks" --sets "$sets" --configs "$configs" --routing "$routing" --warmup "$warmup" --steps "$steps" --output "$out")
    [ -n "$delay" ] && args+=(--delay "$delay")
    [ -n "$capture_step" ] && args+=(--capture-step "$capture_step")
    [ "$model" = 0 ] && args+=(--no-model)
    exec unshare -n -- bash "$0" --inside "${args[@]}"
fi

netem_limit_loopback "$rate" "$delay"
mkdir -p "$out"
IFS=',' read -r -a rank_list <<<"$ranks"
step_args=()
[ -n "$capture_step" ] && step_args=(--capture-step "$capture_step")
for n in "${rank_list[@]}"; do
    echo "netem.sh: N = $n over TCP on the $rate loopback"
    "${netem_mpiexec[@]}" -n "$n" dotnet "$dll" bench --sets "$sets" --configs "$configs" --routing "$routing" --warmup "$warmup" --steps "$steps" \
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
