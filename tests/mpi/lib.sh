# Sourced by tests/mpi/run-contract.sh and run-mpinet.sh: what both do around their cases.
#   mpi_tests_prepare PROJECT TOOL...   checks the tools, sets the environment (root runs Open MPI), builds PROJECT
#                                       (Release; on failure prints "0 passed, 1 failed" and exits 1), and starts the
#                                       tally: $passed, $failed, and $log, a scratch file removed on exit
#   pass DESCRIPTION                    one passed case
#   fail DESCRIPTION [LINES [CASES]]    CASES failed cases (1), showing the last LINES lines of $log (20)
#   tally_cases LABEL RC                adds the PASS and FAIL lines of a program's run in $log (it printed PLAN n
#                                       first; RC its exit code, 124 a timeout after $run_timeout s) and fails LABEL
#                                       where it never started, cases never reported, or it exited non-zero anyway

mpi_tests_prepare() {
    local project="$1" tool; shift
    for tool in "$@"; do
        command -v "$tool" >/dev/null || { echo "missing $tool: apt-get install openmpi-bin libopenmpi-dev mpich libmpich-dev (and the .NET SDK)" >&2; exit 2; }
    done

    export TERM=dumb               # no escape codes in rank output
    export DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1
    if [ "$(id -u)" = 0 ]; then    # Open MPI refuses root without these
        export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
    fi

    echo "building $project (Release)"
    dotnet build "$project" -c Release --nologo -v quiet -clp:ErrorsOnly || { echo "0 passed, 1 failed"; exit 1; }

    passed=0
    failed=0
    log="$(mktemp)"
    trap 'rm -f "$log"' EXIT
}

pass() {
    echo "PASS $1"
    passed=$((passed + 1))
}

fail() {
    echo "FAIL $1"
    tail -"${2:-20}" "$log" | sed 's/^/    /'
    failed=$((failed + ${3:-1}))
}

tally_cases() {
    local label="$1" rc="$2" plan pass fail
    grep -E '^(PLAN|PASS|FAIL|    )' "$log"
    plan=$(sed -n 's/^PLAN \([0-9]*\).*/\1/p' "$log" | head -1)
    pass=$(grep -c '^PASS ' "$log")
    fail=$(grep -c '^FAIL ' "$log")
    passed=$((passed + pass))
    failed=$((failed + fail))
    if [ -z "$plan" ]; then
        fail "$label: the program never started its cases (exit $rc); output:"
    elif [ $((pass + fail)) -lt "$plan" ]; then
        fail "$label: $((plan - pass - fail)) case(s) never reported (exit $rc$([ "$rc" = 124 ] && echo ", timed out after ${run_timeout}s")); last output:" 20 $((plan - pass - fail))
    elif [ "$rc" != 0 ] && [ "$fail" = 0 ]; then
        fail "$label: every case passed but the job exited with $rc"
    fi
}
