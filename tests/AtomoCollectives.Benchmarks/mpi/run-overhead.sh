#!/usr/bin/env bash
# Measures what the .NET binding adds to MPI: MPI_Allgatherv and MPI_Allreduce called from C (mpi_overhead.c)
# and through AtomoCollectives (tests/AtomoCollectives.MpiTests, mode "overhead"), same loop, same timing
# (MPI_Wtime around back-to-back calls after a barrier; median over samples; max over ranks), Open MPI,
# n = 1 (no communication: isolates the binding), 2 and 4, per-rank sizes 4 KiB, 1 MiB, 16 MiB. The C and .NET runs alternate, ROUNDS times, and the
# table shows the median over rounds, so slow drift of a shared machine hits both sides alike.
# Usage: run-overhead.sh [rounds=3] [scale=1]   (scale multiplies the calls per sample)
# Prints a markdown table (also written to artifacts/mpi-overhead/table.md).
set -euo pipefail
rounds="${1:-3}"
scale="${2:-1}"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
out="$root/artifacts/mpi-overhead"
mkdir -p "$out"
export TERM=dumb DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1
if [ "$(id -u)" = 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi
unset ATOMO_MPI_LIBRARY

command -v mpicc.openmpi >/dev/null || { echo "mpicc.openmpi missing: apt-get install openmpi-bin libopenmpi-dev" >&2; exit 2; }
mpicc.openmpi -O2 -Wall -o "$out/mpi_overhead" "$root/tests/AtomoCollectives.Benchmarks/mpi/mpi_overhead.c"
mpicc.openmpi -O2 -Wall -o "$out/call_cost" "$root/tests/AtomoCollectives.Benchmarks/mpi/call_cost.c"
dotnet build "$root/tests/AtomoCollectives.MpiTests/AtomoCollectives.MpiTests.csproj" -c Release --nologo -v quiet -clp:ErrorsOnly
dll="$root/tests/AtomoCollectives.MpiTests/bin/Release/net10.0/AtomoCollectives.MpiTests.dll"

results="$out/results.txt"
: >"$results"
for n in 1 2 4; do
    for round in $(seq 1 "$rounds"); do
        echo "n=$n round $round/$rounds" >&2
        timeout 600 mpiexec.openmpi --oversubscribe -n "$n" "$out/mpi_overhead" "$scale" | grep '^RESULT' >>"$results"
        timeout 600 mpiexec.openmpi --oversubscribe -n "$n" dotnet "$dll" overhead "$scale" | grep '^RESULT' >>"$results"
    done
done

# median over rounds per (impl, op, n, bytes), then one row per (op, n, bytes)
awk '
function kv(s,   i, p) { for (i = 2; i <= NF; i++) { split($i, p, "="); v[p[1]] = p[2] } }
{ kv(); key = v["op"] " " v["n"] " " v["bytes"]; k2 = key " " v["impl"]; c[k2]++; t[k2, c[k2]] = v["median_us"] + 0; keys[key] = 1 }
function med(k,   n, i, j, a, x) { n = c[k]; for (i = 1; i <= n; i++) a[i] = t[k, i];
    for (i = 2; i <= n; i++) { x = a[i]; for (j = i - 1; j >= 1 && a[j] > x; j--) a[j + 1] = a[j]; a[j + 1] = x }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
function pct(a, c) { return c > 0 ? 100 * (a - c) / c : 0 }
function us(x) { return x < 10 ? sprintf("%.3f", x) : sprintf("%.1f", x) }
function human(b) { return b >= 1048576 ? b / 1048576 " MiB" : b / 1024 " KiB" }
END {
    for (key in keys) {
        split(key, p, " "); cm = med(key " c"); dm = med(key " dotnet"); am = med(key " dotnet-array")
        printf "%s %d %d\t| %s | %d | %s | %s | %s | %+.1f%% | %s | %+.1f%% |\n", p[1], p[2], p[3], p[1], p[2], human(p[3]), us(cm), us(dm), pct(dm, cm), us(am), pct(am, cm)
    }
}' "$results" | sort -k1,1 -k2,2n -k3,3n | cut -f2 >"$out/rows.md"
{
    echo "| op | ranks | bytes per rank | C (µs) | .NET, malloc buffers (µs) | vs C | .NET, managed arrays (µs) | vs C |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|"
    cat "$out/rows.md"
} | tee "$out/table.md"

# Fixed cost of one call (n = 1: no communication): 3 alternating runs, last 3 of 5 rounds each (after JIT tiering).
echo
echo "Fixed cost per call at n = 1 (ns; each line is one round of 2,000,000 calls):"
for round in 1 2 3; do
    timeout 300 mpiexec.openmpi -n 1 "$out/call_cost" | grep '^CALLCOST' | tail -3
    timeout 300 mpiexec.openmpi -n 1 dotnet "$dll" call-cost | grep '^CALLCOST' | tail -3
done | tee "$out/call-cost.txt"
