#!/usr/bin/env bash
# AtomoCollectives.MpiNet on real MPICH ranks through MPI.NET 1.4.0 from NuGet (tests/AtomoCollectives.MpiNetTests):
#   the shared transport and allreduce contracts + the MPI.NET-only cases on MpiNetCommunicator, MPICH n = 2;
#   at MPICH n = 4 the transport contract, the MPI.NET-only cases and every bitwise-identity case of the allreduce
#   contract, without allgatherv-1000-calls-no-growth and allgatherv-64MiB-total: MPICH busy-polls, and 4 ranks on a
#   2-core runner make those two take 90 s; they check memory and sizes, which n = 2 covers for this transport
#   (and tests/mpi/run-contract.sh at MPICH n = 4 for the same MPI transport underneath);
#   a short training run at n = 2: MPI.NET's Allreduce/N, then AtomoAllreduce over MpiNetCommunicator;
#   the refusals of MpiNetLibrary.BindToSystemMpi: Open MPI's launcher, ATOMO_MPI_LIBRARY=openmpi or Open MPI's path;
#   and ATOMO_MPI_LIBRARY naming an MPICH-ABI library by path.
# Prints one line per case and finally exactly "N passed, N failed"; exits non-zero on any failure.
# Needs: mpich libmpich-dev openmpi-bin (scripts/install-dependencies.sh), the .NET 10 SDK.
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
project="$root/tests/AtomoCollectives.MpiNetTests/AtomoCollectives.MpiNetTests.csproj"
dll="$root/tests/AtomoCollectives.MpiNetTests/bin/Release/net10.0/AtomoCollectives.MpiNetTests.dll"
run_timeout="${ATOMO_MPI_TEST_TIMEOUT:-300}"

source "$root/tests/mpi/lib.sh"
unset ATOMO_MPI_LIBRARY
mpi_tests_prepare "$project" mpiexec.mpich mpiexec.openmpi dotnet

contract() { # n selection
    local n="$1" suite="$2"
    echo "== MpiNetCommunicator contract ($suite): MPICH n=$n"
    timeout "$run_timeout" mpiexec.mpich -n "$n" dotnet "$dll" contract "$suite" >"$log" 2>&1
    tally_cases "n=$n" $?
}

refused() { # description expected-text command...: must exit 3 and print REFUSED with the expected text
    local what="$1" expected="$2"; shift 2
    timeout 60 "$@" >"$log" 2>&1
    local rc=$?
    if [ "$rc" != 0 ] && grep -q "^REFUSED .*$expected" "$log"; then
        pass "refused: $what: $(grep -m1 '^REFUSED' "$log" | cut -c1-150)..."
    else
        fail "refused: $what: expected a non-zero exit and REFUSED ...$expected..., got exit $rc"
    fi
}

contract 2 all
contract 4 transport,bitwise,-allgatherv-1000-calls-no-growth,-allgatherv-64MiB-total

echo "== training run: MPICH n=2"
if timeout "$run_timeout" mpiexec.mpich -n 2 dotnet "$dll" train >"$log" 2>&1 && grep -q '^TRAIN passed' "$log"; then
    grep '^TRAIN' "$log"
    pass "mpinet n=2 training run: MPI.NET Allreduce/N, then AtomoAllreduce over MpiNetCommunicator"
else
    fail "mpinet n=2 training run"
fi

echo "== refusals"
refused "Open MPI's launcher" "started by Open MPI's mpiexec" mpiexec.openmpi --oversubscribe -n 2 dotnet "$dll" bind
refused "ATOMO_MPI_LIBRARY=openmpi" "selects Open MPI" env ATOMO_MPI_LIBRARY=openmpi mpiexec.mpich -n 1 dotnet "$dll" bind
openmpi_library="$(ls /usr/lib/*/openmpi/lib/libmpi.so.40 /usr/lib/*/libmpi.so.40 2>/dev/null | head -1)"
refused "ATOMO_MPI_LIBRARY=$openmpi_library" "not an MPICH-ABI library" env ATOMO_MPI_LIBRARY="$openmpi_library" mpiexec.mpich -n 1 dotnet "$dll" bind
if timeout 60 mpiexec.mpich -n 1 dotnet "$dll" bind >"$log" 2>&1 && grep -q '^BOUND libmpich.so.12' "$log"; then
    pass "bound under mpiexec.mpich: $(head -1 "$log")"
else
    fail "bind under mpiexec.mpich"
fi
# ATOMO_MPI_LIBRARY as a path (how Intel MPI, MVAPICH or Cray MPICH are named): the contract's first cases on it.
mpich_library="$(ls /usr/lib/*/libmpich.so.12 2>/dev/null | head -1)"
if ATOMO_MPI_LIBRARY="$mpich_library" timeout 120 mpiexec.mpich -n 2 dotnet "$dll" contract allgather >"$log" 2>&1 && grep -q "^PLAN .*on $mpich_library)" "$log"; then
    pass "ATOMO_MPI_LIBRARY=$mpich_library: $(grep -c '^PASS' "$log") allgather cases passed on it"
else
    fail "ATOMO_MPI_LIBRARY=$mpich_library"
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
