#!/usr/bin/env bash
# Time to accuracy on an emulated link: the training twin of bench/netem.sh. Real MPI ranks (Open MPI over TCP) train
# Fashion-MNIST with `Examples compare` (one run per compressor, same seed and data) on the same rate-limited loopback
# of a private network namespace as netem.sh (bench/lib/netem-link.sh), then `Examples report-train` writes the table,
# the plots and the speedup. See docs/training-benchmarks.md.
#
#   bench/netem-train.sh --rate 1gbit --ranks 4                       # dense vs spectral ATOMO s=3 on mlp-wide
#   bench/netem-train.sh --rate 1gbit --runs "dense atomo-spectral:3 qsgd terngrad" --epochs 2
#
# Options: --rate R (tc syntax: 1gbit, 10gbit, 500mbit; default 1gbit), --ranks N (default 4),
# --model M (mlp, cnn or mlp-wide; default mlp-wide, 3.7M parameters), --epochs E (default 3),
# --runs "LIST" (compressors as for `Examples compare --runs`: name or name:value, @time after an ATOMO-family one for
# the library's default routing by time (else by bytes), separated by spaces or commas;
# default "dense atomo-spectral:3"), --target-accuracy PCT (percent; default dense's final accuracy - 1 point, which
# needs dense among the runs), --evaluations-per-epoch K (test accuracy measurements per epoch; default 10),
# --max-steps S (stop every run after S steps; default 0: all epochs), --output DIR (default
# bench-results/netem-train-RATE-MODEL).
# Output: DIR/RUN/metrics.csv per run (step, trainingWallSeconds = wall seconds without evaluations, testAccuracy,
# bytesSentPerRank, ...), DIR/accuracy-vs-seconds.png and accuracy-vs-bytes.png, DIR/time-to-accuracy.md and .csv
# (time to target, final accuracy, bytes per rank, speedup over dense).
# Needs root, permission to create network namespaces, iproute2 (tc), Open MPI, the .NET SDK and Fashion-MNIST
# (scripts/install-dependencies.sh installs all but the SDK). The last line of output is exactly
# speedup_to_accuracy=X: dense's time to the target / the first atomo-spectral run's; or, when there is none (the
# atomo-spectral run never reached the target, or dense did not, or one of them is not among the runs), a line giving
# the reason and then exactly speedup_to_accuracy=none.
set -euo pipefail

NETEM_SCRIPT=netem-train.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/netem-link.sh" # die, the namespace, tc and mpiexec parts shared with netem.sh
rate=1gbit ranks=4 model=mlp-wide epochs=3 runs="dense atomo-spectral:3" target="" evaluations=10 max_steps=0 out="" inside=0

while [ $# -gt 0 ]; do
    case "$1" in
        --rate) rate="${2:?--rate needs a value}"; shift 2 ;;
        --ranks) ranks="${2:?--ranks needs a value}"; shift 2 ;;
        --model) model="${2:?--model needs a value}"; shift 2 ;;
        --epochs) epochs="${2:?--epochs needs a value}"; shift 2 ;;
        --runs) runs="${2?--runs needs a value}"; shift 2 ;;
        --target-accuracy) target="${2:?--target-accuracy needs a value}"; shift 2 ;;
        --evaluations-per-epoch) evaluations="${2:?--evaluations-per-epoch needs a value}"; shift 2 ;;
        --max-steps) max_steps="${2:?--max-steps needs a value}"; shift 2 ;;
        --output) out="${2:?--output needs a value}"; shift 2 ;;
        --inside) inside=1; shift ;;
        -h|--help) netem_help "$0"; exit 0 ;;
        *) die "unknown option '$1' (see --help)" ;;
    esac
done

netem_check_rate "$rate"
[[ "$ranks" =~ ^[1-9][0-9]*$ ]] || die "--ranks '$ranks' is not a whole number"
[ "$ranks" -ge 2 ] || die "--ranks '$ranks' must be at least 2 (a 1-rank world exchanges nothing)"
case "$model" in
    mlp|cnn|mlp-wide) ;; # Examples' --model names (ModelNames.All)
    *) die "--model '$model' is not mlp, cnn or mlp-wide" ;;
esac
[[ "$epochs" =~ ^[1-9][0-9]*$ ]] || die "--epochs '$epochs' is not a whole number of at least 1"
[[ "$evaluations" =~ ^[1-9][0-9]*$ ]] || die "--evaluations-per-epoch '$evaluations' is not a whole number of at least 1"
[[ "$max_steps" =~ ^[0-9]+$ ]] || die "--max-steps '$max_steps' is not a whole number"
[ -z "$target" ] || [[ "$target" =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "--target-accuracy '$target' is not a number (a percentage, e.g. 85.5)"
[ -n "${runs//[ ,]/}" ] || die "--runs names no compressor"
out="${out:-$netem_root/bench-results/netem-train-$rate-$model}"
target_args=()
[ -n "$target" ] && target_args=(--target-accuracy "$target")

if [ "$inside" = 0 ]; then
    # Outside the namespace: check what is needed, build, check the run list with the Examples' own parser (unknown
    # compressor, no dense without a target, ...) before any training, then re-run this script in a new namespace.
    netem_prepare_host
    if ! problem=$(dotnet "$netem_dll" report-train "$out" --runs "$runs" "${target_args[@]}" --check 2>&1); then
        die "${problem#error: }"
    fi
    mkdir -p "$out"
    out="$(cd "$out" && pwd)" # absolute: the ranks may start elsewhere
    exec unshare -n -- bash "$0" --inside --rate "$rate" --ranks "$ranks" --model "$model" --epochs "$epochs" --runs "$runs" \
        --evaluations-per-epoch "$evaluations" --max-steps "$max_steps" --output "$out" "${target_args[@]}"
fi

netem_limit_loopback "$rate"
echo "netem-train.sh: $ranks ranks over TCP on the $rate loopback: $model, $epochs epochs, runs: $runs"
start=$(date +%s)
"${netem_mpiexec[@]}" -n "$ranks" dotnet "$netem_dll" compare --model "$model" --epochs "$epochs" --runs "$runs" \
    --evaluations-per-epoch "$evaluations" --max-steps "$max_steps" --output "$out" \
    || die "the training runs failed (see the output above)"
echo "netem-train.sh: trained in $(( $(date +%s) - start )) s"
# Its last line is the speedup line, which is then this script's last line.
dotnet "$netem_dll" report-train "$out" --runs "$runs" "${target_args[@]}" || die "the report failed (see the output above)"
