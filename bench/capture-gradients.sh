#!/usr/bin/env bash
# Captures real per-rank gradients for the benchmarks: builds Examples and runs `Examples train` in-process on the
# real Fashion-MNIST with dense averaging (so the captures do not depend on a compressor) and --save-gradients.
# The run is deterministic: the same options give the same files bit for bit.
#
#   bench/capture-gradients.sh --model mlp --output /work/captures/mlp      # steps 1,100,400 on 4 ranks
#   bench/capture-gradients.sh --model cnn --steps 1,50 --ranks 2 --output /tmp/cnn-capture
#
# Options: --output DIR (default captures/MODEL), --model mlp|cnn|mlp-wide (default mlp), --steps LIST (1-based, comma-separated;
# default 1,100,400), --ranks N (in-process ranks, default 4), --data DIR (default /usr/share/datasets/fashion-mnist),
# --seed S (default 1). The training run's metrics.csv, summary.json and logs go to DIR/train/.
# Then: Examples bench --sets mlp,DIR (see docs/gradient-captures.md).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dll="$root/src/Examples/bin/Release/net10.0/Examples.dll"
model=mlp steps=1,100,400 ranks=4 out="" data=/usr/share/datasets/fashion-mnist seed=1

die() { echo "capture-gradients.sh: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
    case "$1" in
        --output) out="${2:?--output needs a value}"; shift 2 ;;
        --model) model="${2:?--model needs a value}"; shift 2 ;;
        --steps) steps="${2:?--steps needs a value}"; shift 2 ;;
        --ranks) ranks="${2:?--ranks needs a value}"; shift 2 ;;
        --data) data="${2:?--data needs a value}"; shift 2 ;;
        --seed) seed="${2:?--seed needs a value}"; shift 2 ;;
        -h|--help) sed -n '2,/^set /p' "$0" | grep '^#' | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown option '$1' (see --help)" ;;
    esac
done

[[ "$model" == mlp || "$model" == cnn || "$model" == mlp-wide ]] || die "--model '$model' is not mlp, cnn or mlp-wide"
[[ "$steps" =~ ^[1-9][0-9]*(,[1-9][0-9]*)*$ ]] || die "--steps '$steps' is not like 1,100,400"
[[ "$ranks" =~ ^[1-9][0-9]*$ ]] || die "--ranks '$ranks' is not a whole number of at least 1"
[[ "$seed" =~ ^[0-9]+$ ]] || die "--seed '$seed' is not a whole number"
out="${out:-$root/captures/$model}"
max=0
for s in ${steps//,/ }; do [ "$s" -gt "$max" ] && max=$s; done

echo "capture-gradients.sh: building Examples (Release)"
dotnet build "$root/src/Examples" -c Release --nologo -v quiet -clp:ErrorsOnly >/dev/null || die "build failed: dotnet build src/Examples -c Release"
export TERM=dumb DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1
# Not under mpiexec: in-process ranks. Epochs are bounded by --max-steps (the last step asked for), not by --epochs.
start=$(date +%s.%N)
dotnet "$dll" train --model "$model" --ranks "$ranks" --compressor dense --seed "$seed" --data "$data" \
    --epochs 1000 --max-steps "$max" --evaluations-per-epoch 1 \
    --save-gradients "$out" --save-gradients-at "$steps" --output "$out/train" \
    || die "the training run failed (see the output above)"
end=$(date +%s.%N)
echo "capture-gradients.sh: wrote $out ($(du -sh "$out" | cut -f1), $(find "$out" -name '*.npy' | wc -l) .npy files) in $(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }') s"
