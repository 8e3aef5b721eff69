#!/usr/bin/env bash
# Runs the shared CommunicatorContract (tests/AtomoCollectives.Tests/Transport/CommunicatorContract.cs) on real
# MPI ranks: Open MPI at n = 2, 4, 16 (oversubscribed) and MPICH at n = 2, 4, and both at n = 4 grouped as 2 nodes
# of 2 (ATOMO_RANKS_PER_NODE=2: the node-aware exchange, docs/node-aware.md), and Open MPI at n = 8 as 4 nodes of 2 in
# groups of 3 and 1 (ATOMO_NODE_GROUP_SIZE=3: the exchange's groups of nodes); then checks that one rank throwing
# ends the whole job (non-zero exit within 10 s) and that a library not matching the launcher is refused; then that
# every basis ends bitwise identical on 4 ranks launched (MPMD) with different instruction sets (docs/determinism.md),
# also as 4 nodes of one rank in 2 groups (the groups' leaders encode again on different CPUs).
# Builds once (Release). Prints one line per case and finally exactly "N passed, N failed"; exits non-zero on
# any failure. Needs: openmpi-bin libopenmpi-dev mpich libmpich-dev (apt-get install ...), the .NET 10 SDK.
set -uo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
project="$root/tests/AtomoCollectives.MpiTests/AtomoCollectives.MpiTests.csproj"
dll="$root/tests/AtomoCollectives.MpiTests/bin/Release/net10.0/AtomoCollectives.MpiTests.dll"
run_timeout="${ATOMO_MPI_TEST_TIMEOUT:-420}"

source "$root/tests/mpi/lib.sh"
unset ATOMO_MPI_LIBRARY ATOMO_RANKS_PER_NODE ATOMO_NODE_GROUP_SIZE ATOMO_NODE_SHARED_MEMORY
mpi_tests_prepare "$project" mpiexec.openmpi mpiexec.mpich dotnet

launch() { # flavour n args...   (oversubscription: Open MPI yields when oversubscribed; MPICH busy-polls)
    local flavour="$1" n="$2"; shift 2
    if [ "$flavour" = openmpi ]; then
        # Open MPI passes on only the variables named with -x; MPICH's Hydra passes the whole environment.
        timeout "$run_timeout" mpiexec.openmpi --oversubscribe --bind-to none ${ATOMO_RANKS_PER_NODE:+-x ATOMO_RANKS_PER_NODE} ${ATOMO_NODE_GROUP_SIZE:+-x ATOMO_NODE_GROUP_SIZE} ${ATOMO_NODE_SHARED_MEMORY:+-x ATOMO_NODE_SHARED_MEMORY} -n "$n" dotnet "$dll" "$@"
    else
        timeout "$run_timeout" mpiexec.mpich -n "$n" dotnet "$dll" "$@"
    fi
}

contract() { # flavour n [ranks-per-node [nodes-per-group [shared-memory]]]
    local flavour="$1" n="$2" per_node="${3:-}" group="${4:-}" shared="${5:-}" skip=""
    # MPICH busy-polls: with more ranks than cores each of the 1,500-step statistical cases takes ~50 s. They test the
    # algorithm, not the transport, and run under Open MPI at n = 2, 4, 16, MPICH at n = 2 and in-process.
    [ "$flavour" = mpich ] && [ "$n" -gt "$(nproc)" ] && skip=unbiased-over-steps
    # Their bound is the variance of one compression of the node sums; groups add a second, which the in-process
    # NodeAwareAllreduceTests bound on their own.
    [ -n "$group" ] && skip=unbiased-over-steps
    echo "== contract: $flavour n=$n${per_node:+ ($per_node per node)}${group:+ (groups of $group nodes)}${shared:+ (ATOMO_NODE_SHARED_MEMORY=$shared)}${skip:+ (skipping *$skip*)}"
    ATOMO_CONTRACT_SKIP="$skip" ATOMO_RANKS_PER_NODE="$per_node" ATOMO_NODE_GROUP_SIZE="$group" ATOMO_NODE_SHARED_MEMORY="$shared" launch "$flavour" "$n" contract >"$log" 2>&1
    tally_cases "$flavour n=$n" $?
}

job_must_end() { # flavour n mode case-name seconds expected-line forbidden-line: the job must fail fast and say why
    local flavour="$1" n="$2" mode="$3" name="$4" limit="$5" expected="$6" forbidden="$7" start end rc elapsed
    start=$(date +%s.%N)
    launch "$flavour" "$n" "$mode" >"$log" 2>&1
    rc=$?
    end=$(date +%s.%N)
    elapsed=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
    if [ "$rc" != 0 ] && [ "$rc" != 124 ] && awk -v e="$elapsed" -v l="$limit" 'BEGIN { exit !(e < l) }' \
        && grep -q "$expected" "$log" && ! grep -q "$forbidden" "$log"; then
        pass "$flavour n=$n $name (exit $rc after ${elapsed}s)"
    else
        fail "$flavour n=$n $name (exit $rc after ${elapsed}s; want non-zero, < $limit s, and '$expected'); output:" 20
    fi
}

throwing_rank() { # flavour n: rank 1 throws after a collective while the others wait in a barrier
    job_must_end "$1" "$2" throw one-rank-throws-job-exits 10 \
        'aborting the MPI job: unhandled exception: System.InvalidOperationException: rank 1 fails on purpose' 'left the barrier'
}

stalled_rank() { # flavour n how: rank 1 stops calling (stall) or leaves (finalize: MPI_Finalize and return 0; exit: exit 0
    # without finalizing). The others' watchdog (AtomoOptions.Timeout = 2 s) must end the job, except after an exit
    # without finalizing, which the leaving rank's own exit handler turns into MPI_Abort at once (MPICH's launcher
    # would otherwise report the job as successful). Limit: 2 s of timeout + 10 s of the goal's margin + 5 s for
    # starting the ranks.
    local expected="AtomoAllreduce watchdog on rank [0-9]* of $2: the call at step 1 made no progress"
    [ "$3" = exit ] && expected="the process is exiting (exit code 0.*) without MpiEnvironment.Dispose"
    job_must_end "$1" "$2" "$3" "rank-that-$3s-ends-job" 17 "$expected" 'the call completed'
}

wrong_library() { # flavour-of-launcher library-setting expected-fix
    local flavour="$1" setting="$2" fix="$3" rc
    if [ "$flavour" = openmpi ]; then
        timeout 60 mpiexec.openmpi --oversubscribe -x ATOMO_MPI_LIBRARY="$setting" -n 2 dotnet "$dll" info >"$log" 2>&1
    else
        timeout 60 mpiexec.mpich -env ATOMO_MPI_LIBRARY "$setting" -n 2 dotnet "$dll" info >"$log" 2>&1
    fi
    rc=$?
    if [ "$rc" != 0 ] && [ "$rc" != 124 ] && grep -q "Fix: set ATOMO_MPI_LIBRARY=$fix" "$log"; then
        pass "$flavour n=2 wrong-library-refused (ATOMO_MPI_LIBRARY=$setting, exit $rc)"
    else
        fail "$flavour n=2 wrong-library-refused (ATOMO_MPI_LIBRARY=$setting, exit $rc); output:" 10
    fi
}

cross_cpu() { # flavour [VAR=value ...]: four ranks, each computing with other instruction sets (docs/determinism.md)
    local flavour="$1"; shift
    local -a settings=("$@") ranks=(
        ""                                                       # all the CPU has
        "DOTNET_EnableAVX512F=0"                                 # no AVX-512 (a no-op on CPUs without it)
        "DOTNET_EnableAVX2=0 OPENBLAS_CORETYPE=Sandybridge"      # AVX without AVX2/FMA, OpenBLAS's AVX kernels
        "DOTNET_EnableHWIntrinsic=0 OPENBLAS_CORETYPE=Nehalem GLIBC_TUNABLES=glibc.cpu.hwcaps=-AVX,-AVX2,-FMA,-AVX512F" # scalar .NET, SSE OpenBLAS, libm without AVX/FMA
    )
    local -a command=()
    local variables setting
    for variables in "${ranks[@]}"; do
        [ ${#command[@]} -gt 0 ] && command+=(:)
        command+=(-n 1)
        for setting in ${settings[@]+"${settings[@]}"} $variables; do
            if [ "$flavour" = openmpi ]; then command+=(-x "$setting"); else command+=(-env "${setting%%=*}" "${setting#*=}"); fi
        done
        command+=(dotnet "$dll" cross-cpu)
    done
    echo "== cross-cpu: $flavour n=4 ${settings[*]-}"
    if [ "$flavour" = openmpi ]; then
        timeout "$run_timeout" mpiexec.openmpi --oversubscribe --bind-to none "${command[@]}" >"$log" 2>&1
    else
        timeout "$run_timeout" mpiexec.mpich "${command[@]}" >"$log" 2>&1
    fi
    local rc=$? pass fail
    grep -E '^(rank |PASS|FAIL|    )' "$log" | sed "s/^\(PASS\|FAIL\) /\1 [${settings[*]-native}] /"
    pass=$(grep -c '^PASS ' "$log")
    fail=$(grep -c '^FAIL ' "$log")
    passed=$((passed + pass))
    failed=$((failed + fail))
    local planned
    planned=$(sed -n 's/^PLAN \([0-9]*\) cross-cpu.*/\1/p' "$log" | head -1)
    planned=${planned:-4}
    if [ $((pass + fail)) -lt "$planned" ]; then
        fail "$flavour cross-cpu ${settings[*]-}: $((planned - pass - fail)) basis case(s) never reported (exit $rc); last output:" 20 $((planned - pass - fail))
    elif [ "$rc" != 0 ] && [ "$fail" = 0 ]; then
        fail "$flavour cross-cpu: every case passed but the job exited with $rc" 20
    fi
}

if [ "${1:-}" != cross-cpu ]; then  # `run-contract.sh cross-cpu` runs only the MPMD cases at the end
contract openmpi 2
contract openmpi 4
contract openmpi 16
contract mpich 2
contract mpich 4
contract openmpi 4 2
contract mpich 4 2
contract openmpi 8 2 3
# The node sums through MPI's collectives rather than the node's shared memory (docs/node-aware.md).
contract openmpi 4 2 "" 0
echo "== failure handling"
throwing_rank openmpi 4
throwing_rank mpich 4
for how in stall finalize exit; do
    stalled_rank openmpi 4 "$how"
    stalled_rank mpich 4 "$how"
done
wrong_library openmpi mpich openmpi
wrong_library mpich openmpi mpich
fi
echo "== bitwise identity across instruction sets (MPMD)"
cross_cpu openmpi                                                   # FFTW and OpenBLAS
cross_cpu openmpi ATOMO_FOURIER=managed ATOMO_LINEAR_ALGEBRA=managed  # the managed fallbacks
cross_cpu mpich
cross_cpu openmpi ATOMO_RANKS_PER_NODE=1 ATOMO_NODE_GROUP_SIZE=2     # groups: leaders encode again on different CPUs

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
