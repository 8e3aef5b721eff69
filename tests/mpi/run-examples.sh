#!/usr/bin/env bash
# Runs `Examples` (no command: train) on real MPI ranks for a few steps, as a user would:
#   mpiexec --oversubscribe -n 16 dotnet Examples.dll --max-steps N   (Open MPI)
#   mpiexec -n 2 dotnet Examples.dll train --max-steps N              (MPICH)
# and checks that each run wrote summary.json with the right number of ranks, MPI as its transport and
# bitwise-identical replicas. Exits non-zero on any failure. Needs what scripts/install-dependencies.sh installs.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
steps="${ATOMO_EXAMPLES_STEPS:-5}"
export TERM=dumb DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1
if [ "$(id -u)" = 0 ]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi

dotnet build "$root/src/Examples/Examples.csproj" -c Release --nologo -v quiet -clp:ErrorsOnly
bin="$root/src/Examples/bin/Release/net10.0"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

check() { # directory ranks
    local summary="$1/summary.json"
    [ -f "$summary" ] || { echo "FAIL: $summary was not written" >&2; exit 1; }
    grep -q "\"ranks\": $2," "$summary" || { echo "FAIL: $summary does not report $2 ranks" >&2; cat "$summary" >&2; exit 1; }
    grep -q '"transport": "mpi"' "$summary" || { echo "FAIL: $summary did not run on MPI" >&2; exit 1; }
    grep -q '"replicasIdentical": true' "$summary" || { echo "FAIL: the replicas differ ($summary)" >&2; exit 1; }
    [ "$(ls "$1/logs" | wc -l)" = "$2" ] || { echo "FAIL: expected $2 per-rank log files in $1/logs" >&2; exit 1; }
    echo "ok: $2 ranks, $(grep -o '"finalTestAccuracy": [0-9.]*' "$summary")"
}

cd "$bin"
echo "Open MPI, 16 ranks (oversubscribed), no command (train), $steps steps"
timeout 600 mpiexec.openmpi --oversubscribe --bind-to none -n 16 dotnet Examples.dll --max-steps "$steps" --output "$out/openmpi"
check "$out/openmpi" 16

echo "MPICH, 2 ranks, train --compressor qsgd, $steps steps"
timeout 300 mpiexec.mpich -n 2 dotnet Examples.dll train --compressor qsgd --bits 2 --max-steps "$steps" --output "$out/mpich"
check "$out/mpich" 2

# A job stopped after a checkpoint and resumed (as a requeued Slurm job is) ends bitwise identical to one that ran
# through: the parameter checksums in summary.json must match. Spectral ATOMO (warm-start bases) and PowerSGD (error
# feedback, warm-start Q), Open MPI n = 4 and MPICH n = 2; 1,024 images, 2 epochs, checkpoints every 3 steps, stopped
# after step 7 (its last checkpoint) and resumed to the end.
checksum() { grep -o '"parameterChecksum": "[0-9A-F]*"' "$1/summary.json"; }
resume_case() { # launcher ranks compressor
    local launcher="$1" n="$2" compressor="$3" dir="$out/resume-$1-$3"
    local common=(train --compressor "$compressor" --train-limit 1024 --epochs 2 --batch-size 32 --evaluations-per-epoch 1)
    local mpi=(timeout 300 mpiexec.openmpi --oversubscribe --bind-to none -n "$n")
    [ "$launcher" = mpich ] && mpi=(timeout 300 mpiexec.mpich -n "$n")
    "${mpi[@]}" dotnet Examples.dll "${common[@]}" --output "$dir/through" >/dev/null
    "${mpi[@]}" dotnet Examples.dll "${common[@]}" --output "$dir/resumed" --checkpoint "$dir/checkpoints" --checkpoint-every 3 --max-steps 7 >/dev/null
    "${mpi[@]}" dotnet Examples.dll "${common[@]}" --output "$dir/resumed" --checkpoint "$dir/checkpoints" --checkpoint-every 3 --resume >/dev/null
    check "$dir/resumed" "$n"
    if [ "$(checksum "$dir/through")" = "$(checksum "$dir/resumed")" ] && grep -q "continuing from step 7" "$dir/resumed/logs/rank-0.log"; then
        echo "ok: $launcher n=$n $compressor stopped at step 7 and resumed: $(checksum "$dir/resumed"), as the run that went through"
    else
        echo "FAIL: $launcher n=$n $compressor resumed to $(checksum "$dir/resumed"), the run that went through to $(checksum "$dir/through")" >&2
        exit 1
    fi
}
resume_case openmpi 4 atomo-spectral
resume_case mpich 2 powersgd
