# The emulated link that bench/netem.sh and bench/netem-train.sh share: sourced, not run. A private network
# namespace (unshare -n) whose loopback is rate-limited with tc tbf, and Open MPI forced onto TCP over that loopback,
# so every rank's traffic crosses the one limited link (docs/network-benchmarks.md, "The emulated link").
# Set NETEM_SCRIPT (the name errors start with) before sourcing.

netem_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
netem_dll="$netem_root/src/Examples/bin/Release/net10.0/Examples.dll"

# Open MPI on TCP over the namespace's loopback only (no shared memory, no other interface).
netem_mpiexec=(mpiexec.openmpi --oversubscribe --bind-to none
    --mca pml ob1 --mca btl self,tcp --mca btl_tcp_if_include lo --mca oob_tcp_if_include lo)

die() { echo "$NETEM_SCRIPT: error: $*" >&2; exit 1; }

# The script's header comment (line 2 up to 'set -euo pipefail') as --help.
netem_help() { sed -n '2,/^set /p' "$1" | grep '^#' | sed 's/^# \{0,1\}//'; }

# Dies unless $1 is a non-zero rate in tc syntax (1gbit, 10gbit, 500mbit).
netem_check_rate() {
    [[ "$1" =~ ^([0-9]+(\.[0-9]+)?)(gbit|mbit|kbit)$ ]] || die "--rate '$1' is not like 1gbit, 10gbit or 500mbit"
    [[ "$1" =~ ^0*(\.0*)?[a-z]+$ ]] && die "--rate '$1' is zero"
    return 0
}

# Outside the namespace: dies unless this is root with every tool and may create a network namespace; then builds Examples.
netem_prepare_host() {
    [ "$(id -u)" = 0 ] || die "must run as root (it creates a network namespace and changes qdiscs); CI runs as root"
    for tool in unshare ip tc mpiexec.openmpi dotnet; do
        command -v "$tool" >/dev/null || die "missing '$tool': run 'bash scripts/install-dependencies.sh' (and install the .NET 10 SDK)"
    done
    if ! unshare -n true 2>/dev/null; then
        die "cannot create a network namespace here ('unshare -n true' failed: no CAP_SYS_ADMIN, a seccomp/AppArmor profile, or a container without --privileged / --cap-add SYS_ADMIN). Run on a VM or a privileged container."
    fi
    echo "$NETEM_SCRIPT: building Examples (Release)"
    dotnet build "$netem_root/src/Examples" -c Release --nologo -v quiet -clp:ErrorsOnly >/dev/null || die "build failed: dotnet build src/Examples -c Release"
}

# Inside the namespace: brings lo up and limits it to rate $1, with an optional netem delay $2; sets up the
# environment the ranks run in.
netem_limit_loopback() {
    local rate="$1" delay="${2:-}" rate_bits burst
    ip link set lo up # the namespace's only interface, which starts down
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
    echo "$NETEM_SCRIPT: namespace loopback limited: $(tc qdisc show dev lo | tr '\n' ';')"
    export TERM=dumb DOTNET_NOLOGO=1 DOTNET_CLI_TELEMETRY_OPTOUT=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
    unset ATOMO_MPI_LIBRARY
}
