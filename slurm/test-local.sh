#!/usr/bin/env bash
# Stands up a throw-away single-node Slurm on this machine (munged, slurmctld and slurmd on localhost, every
# file in a temporary directory), checks that `srun --mpi=pmix` (Open MPI) and `--mpi=pmi2` (MPICH) give real
# 2-rank MPI worlds and that `srun --mpi=none` tasks refuse to train alone, submits slurm/train.sbatch for a short
# 2-task run with `sbatch --wait`, checks that the job completed and wrote its summary.json, runs bench.sbatch
# briefly, runs a 2-run slurm/sweep.sh and checks its table, and stops the daemons it started (by their PID files,
# also on failure). About a minute.
#   SLURM_TEST_SWEEP=0 bash slurm/test-local.sh  # skip the sweep
#
#   bash slurm/test-local.sh                   # needs root, slurm-wlm and munge (scripts/install-dependencies.sh)
#   SLURM_TEST_LAUNCHER=mpirun bash slurm/test-local.sh     # the job's LAUNCHER (srun-pmix, srun-pmi2, mpirun)
#   SLURM_TEST_KEEP=1 bash slurm/test-local.sh # keep the temporary directory (configs, logs, job output)
#
# Uses its own ports, munge socket and key, so it does not touch a Slurm or munge already on the machine.
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"   # munged, slurmctld, slurmd
repo="$(cd "$(dirname "$0")/.." && pwd)"
started=$SECONDS
log() { printf 'slurm-test: %s\n' "$*"; }
die() { printf 'slurm-test: FAIL: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (slurmd must start job steps as the submitting user)"
for tool in munged slurmctld slurmd sbatch srun sinfo scontrol; do
  command -v "$tool" >/dev/null || die "$tool not found: run scripts/install-dependencies.sh (slurm-wlm, munge)"
done

launcher="${SLURM_TEST_LAUNCHER:-srun-pmix}"
examples_dll="$repo/src/Examples/bin/Release/net10.0/Examples.dll"
mpitests_dll="$repo/tests/AtomoCollectives.MpiTests/bin/Release/net10.0/AtomoCollectives.MpiTests.dll"
if [ ! -f "$examples_dll" ] || [ ! -f "$mpitests_dll" ]; then
  log "building (Release)"
  dotnet build "$repo/AtomoCollectives.slnx" -c Release --nologo -v quiet >/dev/null
fi

# ---------------------------------------------------------------- a private directory for everything
dir="$(mktemp -d /tmp/atomo-slurm.XXXXXX)"
chmod 0755 "$dir"
mkdir -p "$dir/munge" "$dir/etc" "$dir/state" "$dir/spool" "$dir/log" "$dir/run" "$dir/jobs"
chmod 0755 "$dir/munge" "$dir/etc" "$dir/log" "$dir/run"
chmod 0700 "$dir/state" "$dir/spool"

pid_files=("$dir/run/slurmd.pid" "$dir/run/slurmctld.pid" "$dir/munge/munged.pid")

stop_daemons() {
  local pid_file pid i
  for pid_file in "${pid_files[@]}"; do
    [ -s "$pid_file" ] || continue
    pid="$(cat "$pid_file")"
    kill -0 "$pid" 2>/dev/null || continue
    kill -TERM "$pid" 2>/dev/null || true
    for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then
      log "$(basename "$pid_file" .pid) (pid $pid) did not stop in 10 s: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
}

on_exit() {
  local status=$?
  trap - EXIT INT TERM
  if [ "$status" -ne 0 ]; then
    for f in "$dir"/log/slurmctld.log "$dir"/log/slurmd.log "$dir"/munge/munged.log; do
      [ -f "$f" ] && { echo "---- last lines of $f"; tail -n 25 "$f"; }
    done
    for f in "$dir"/jobs/*.out; do
      [ -f "$f" ] && { echo "---- $f"; tail -n 60 "$f"; }
    done
  fi
  stop_daemons
  if [ "${SLURM_TEST_KEEP:-0}" = 1 ] || [ "$status" -ne 0 ]; then
    log "kept $dir"
  else
    rm -rf "$dir"
  fi
  log "$([ "$status" -eq 0 ] && echo PASSED || echo FAILED) in $((SECONDS - started)) s"
  exit "$status"
}
trap on_exit EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- munge: own key, socket, pid, log
dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
chmod 0600 "$dir/munge/munge.key"
socket="$dir/munge/munge.socket"
munged --force --socket="$socket" --key-file="$dir/munge/munge.key" --pid-file="$dir/munge/munged.pid" \
  --log-file="$dir/munge/munged.log" --seed-file="$dir/munge/munged.seed"
for _ in $(seq 1 50); do [ -S "$socket" ] && [ -s "$dir/munge/munged.pid" ] && break; sleep 0.1; done
[ -S "$socket" ] || die "munged did not create $socket"
munge --socket="$socket" -n | unmunge --socket="$socket" >/dev/null || die "munge credential round trip failed"

# ---------------------------------------------------------------- slurm.conf
# Two free TCP ports near a random base (the default 6817/6818 may belong to a real Slurm).
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
base=$((20000 + RANDOM % 20000))
while ! port_free "$base" || ! port_free "$((base + 1))"; do base=$((base + 2)); done
cpus=$(nproc)
[ "$cpus" -ge 4 ] || cpus=4   # declare at least 4 CPUs (config_overrides) so small jobs fit on a 2-core machine
memory_mb=$(awk '/MemTotal/ { printf "%d", $2 / 1024 * 0.8 }' /proc/meminfo)

export SLURM_CONF="$dir/etc/slurm.conf"
cat >"$SLURM_CONF" <<EOF
# Minimal single-node Slurm written by slurm/test-local.sh (no systemd, no cgroups, no accounting).
ClusterName=atomo-test
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$base
SlurmdPort=$((base + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$socket
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/run/slurmctld.pid
SlurmdPidFile=$dir/run/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
ReturnToService=2
# sbatch --wait polls every 2 s, then every 8 s while 8 >= MinJobAge/2 (default 300: up to 32 s between polls).
MinJobAge=10
SlurmdParameters=config_overrides
PlugStackConfig=$dir/etc/plugstack.conf
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory_mb State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=60 State=UP
EOF
: >"$dir/etc/plugstack.conf"

# ---------------------------------------------------------------- daemons
log "starting slurmctld and slurmd in $dir (ports $base, $((base + 1)))"
slurmctld -c -i -f "$SLURM_CONF"
slurmd -N localhost -f "$SLURM_CONF"
for _ in $(seq 1 300); do
  state="$(sinfo -h -n localhost -o %T 2>/dev/null || true)"
  [ "$state" = idle ] && break
  sleep 0.1
done
[ "${state:-}" = idle ] || die "node localhost is '${state:-unreachable}', not idle, after 30 s"
log "node localhost idle after $((SECONDS - started)) s"

# Job steps run as root here, and Open MPI's mpirun refuses root without these.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

# ---------------------------------------------------------------- 1. srun gives one 2-rank MPI world
# Open MPI through PMIx and MPICH through PMI-2 (Debian's Open MPI has no PMI-2, its MPICH no PMIx): every rank
# must see a world of 2, and the launcher-detection contract case must pass on both.
for pair in pmix:openmpi pmi2:mpich; do
  mpi_flag="${pair%%:*}" flavor="${pair##*:}"
  sbatch --wait --quiet -N 1 -n 2 -t 5 -o "$dir/jobs/mpi-$mpi_flag-%j.out" -J "mpi-$mpi_flag" \
    --wrap "srun --mpi=$mpi_flag dotnet '$mpitests_dll' info && srun --mpi=$mpi_flag dotnet '$mpitests_dll' contract mpi-environment" \
    || die "the srun --mpi=$mpi_flag job failed"
  info="$(cat "$dir"/jobs/mpi-"$mpi_flag"-*.out)"
  echo "$info" | grep -E '^(rank|PASS|FAIL)' | cut -c1-110 | sed 's/^/  /'
  [ "$(echo "$info" | grep -ciE "^rank [01]/2: $flavor")" -eq 2 ] || die "srun --mpi=$mpi_flag -n 2 did not give one 2-rank $flavor world"
  echo "$info" | grep -q "^PASS $flavor n=2 mpi-environment-matches-launcher" || die "launcher contract failed under srun --mpi=$mpi_flag"
done
log "srun --mpi=pmix (Open MPI) and --mpi=pmi2 (MPICH): one 2-rank world each"

# ---------------------------------------------------------------- 1b. srun without an MPI plugin is refused
# Without PMI the tasks cannot form one world; each would train alone on in-process ranks. They must say so and fail.
if sbatch --wait --quiet -N 1 -n 2 -t 5 -o "$dir/jobs/no-mpi-%j.out" -J no-mpi \
    --wrap "srun --mpi=none dotnet '$examples_dll' train --max-steps 1 --output '$dir/no-mpi-output'"; then
  die "srun --mpi=none -n 2 ran the training (job succeeded); each task should have refused"
fi
no_mpi="$(cat "$dir"/jobs/no-mpi-*.out)"
[ "$(echo "$no_mpi" | grep -c '^error: started by srun as one of 2 tasks')" -eq 2 ] \
  || die "srun --mpi=none -n 2: expected the error from both tasks, got: $(echo "$no_mpi" | tail -n 5)"
[ ! -e "$dir/no-mpi-output/summary.json" ] || die "srun --mpi=none -n 2 wrote a summary.json"
log "srun --mpi=none -n 2: both tasks refused with the fix in the message"

# ---------------------------------------------------------------- 2. train.sbatch, short run
output="$dir/train-output"
log "sbatch --wait slurm/train.sbatch (LAUNCHER=$launcher, 2 tasks, --max-steps 5)"
job_start=$SECONDS
(
  cd "$repo"
  ATOMO_ROOT="$repo" LAUNCHER="$launcher" OUTPUT_DIR="$output" COMPRESSOR=atomo-spectral BUDGET=3 \
    TRAIN_ARGS="--max-steps 5 --batch-size 32" \
    sbatch --wait --parsable -N 1 --ntasks-per-node=2 -t 10 -o "$dir/jobs/train-%j.out" slurm/train.sbatch >"$dir/jobs/train.id"
) || die "train.sbatch job $(cat "$dir/jobs/train.id" 2>/dev/null) did not complete successfully"
job_id="$(cut -d';' -f1 "$dir/jobs/train.id")"
log "job $job_id completed in $((SECONDS - job_start)) s"
tail -n 5 "$dir/jobs/train-$job_id.out" | sed 's/^/  /'

summary="$output/summary.json"
[ -s "$summary" ] || die "the job did not write $summary"
json_field() { grep -oE "\"$2\"[[:space:]]*:[[:space:]]*(\"[^\"]*\"|[^,}[:space:]]+)" "$1" | head -n 1 | sed -E 's/^[^:]*:[[:space:]]*//; s/"//g'; }
ranks="$(json_field "$summary" ranks)"
steps="$(json_field "$summary" steps)"
accuracy="$(json_field "$summary" finalTestAccuracy)"
log "summary.json: ranks=$ranks steps=$steps finalTestAccuracy=$accuracy bytesSentPerRank=$(json_field "$summary" bytesSentPerRank)"
for field in compressor budget bits ranks steps finalTestAccuracy bytesSentPerRank denseEquivalentBytes wallSeconds encodeSeconds exchangeSeconds decodeSeconds; do
  [ -n "$(json_field "$summary" "$field")" ] || die "summary.json has no field $field"
done
[ "$(json_field "$summary" compressor)" = atomo-spectral ] || die "summary.json says compressor=$(json_field "$summary" compressor)"
[ "$ranks" = 2 ] || die "summary.json says ranks=$ranks, expected 2 (MPI ranks from srun)"
[ -n "$steps" ] && [ "$steps" -ge 1 ] || die "summary.json says steps=$steps"
[ -f "$output/logs/rank-1.log" ] || die "no per-rank log $output/logs/rank-1.log"
log "train.sbatch: completed, summary.json and per-rank logs written"

# ---------------------------------------------------------------- 2b. a requeued train.sbatch resumes
# Two jobs of 64 steps (2 tasks, 1,024 images, 4 epochs, checkpoints every 4 steps): one runs through; the other is
# requeued by `scontrol requeue` once it has checkpointed step 8 or later. The requeued job must say it continued from
# a checkpoint and end with the same parameter checksum as the one that ran through.
requeue_args="--train-limit 1024 --epochs 4 --batch-size 32 --evaluations-per-epoch 1"
submit_train() { # name checkpoint-dir
  (cd "$repo" && ATOMO_ROOT="$repo" LAUNCHER="$launcher" OUTPUT_DIR="$dir/$1" CHECKPOINT_DIR="$2" CHECKPOINT_EVERY=4 \
    TRAIN_ARGS="$requeue_args" sbatch --parsable -N 1 --ntasks-per-node=2 -t 10 -o "$dir/jobs/$1-%j.out" slurm/train.sbatch)
}
job_state() { scontrol show job "$1" 2>/dev/null | grep -oE 'JobState=[A-Z_]+' | cut -d= -f2; }
wait_for_end() { # job seconds
  local state
  for _ in $(seq 1 $(($2 * 2))); do
    state="$(job_state "$1")"
    case "$state" in COMPLETED) return 0 ;; FAILED | CANCELLED | TIMEOUT | NODE_FAIL | OUT_OF_MEMORY) die "job $1 ended $state" ;; esac
    sleep 0.5
  done
  die "job $1 did not complete in $2 s (state ${state:-unknown})"
}
through_job="$(submit_train through none | cut -d';' -f1)"
wait_for_end "$through_job" 300
requeued_job="$(submit_train requeued "$dir/requeued/checkpoints" | cut -d';' -f1)"
for _ in $(seq 1 600); do
  latest="$(cat "$dir/requeued/checkpoints/latest" 2>/dev/null || true)"
  [ -n "$latest" ] && [ "${latest#step-}" -ge 8 ] 2>/dev/null && break
  [ "$(job_state "$requeued_job")" = COMPLETED ] && die "job $requeued_job finished before it could be requeued"
  sleep 0.1
done
log "requeueing job $requeued_job at its checkpoint $latest"
scontrol requeue "$requeued_job" || die "scontrol requeue $requeued_job failed"
wait_for_end "$requeued_job" 600
resumed_from="$(grep -oE 'continuing from step [0-9]+' "$dir"/jobs/requeued-"$requeued_job".out | tail -n 1)"
checksum_through="$(json_field "$dir/through/summary.json" parameterChecksum)"
checksum_requeued="$(json_field "$dir/requeued/summary.json" parameterChecksum)"
[ "$(grep -c '^atomo-train: job .* (start ' "$dir"/jobs/requeued-"$requeued_job".out)" -ge 2 ] || die "job $requeued_job did not start twice"
[ -n "$resumed_from" ] && [ "${resumed_from##* }" -ge 8 ] || die "the requeued job did not resume from a checkpoint (${resumed_from:-no resume line})"
[ "$checksum_requeued" = "$checksum_through" ] || die "the requeued job ended with parameters $checksum_requeued, the one that ran through with $checksum_through"
log "a requeued train.sbatch resumed ($resumed_from) and ended bitwise identical to one that ran through ($checksum_through)"

# ---------------------------------------------------------------- 3. bench.sbatch, one short configuration
bench_out="$dir/bench-output"
log "sbatch --wait slurm/bench.sbatch (2 tasks, mlp shapes, dense vs atomo-spectral-s3, 1 step)"
(
  cd "$repo"
  ATOMO_ROOT="$repo" LAUNCHER="$launcher" OUTPUT_DIR="$bench_out" BENCH_ARGS="--sets mlp --configs atomo-spectral-s3 --warmup 0 --steps 1" \
    sbatch --wait --quiet -N 1 --ntasks-per-node=2 -t 10 -o "$dir/jobs/bench-%j.out" slurm/bench.sbatch
) || die "bench.sbatch did not complete successfully"
compgen -G "$bench_out/bench-*.csv" >/dev/null || die "bench.sbatch wrote no bench-*.csv in $bench_out"
log "bench.sbatch: completed, $(ls "$bench_out" | tr '\n' ' ')"

# ---------------------------------------------------------------- 4. sweep.sh: a 2-run array and its table
if [ "${SLURM_TEST_SWEEP:-1}" = 1 ]; then
  log "sweep.sh: atomo-coordinate (budget 20) and qsgd (2 bits) as a job array, SWEEP_WAIT=1"
  sweep_start=$SECONDS
  ATOMO_ROOT="$repo" SWEEP_DIR="$dir/sweep" SWEEP_WAIT=1 COMPRESSORS="atomo-coordinate qsgd" BUCKET_BUDGETS=20 QSGD_BITS=2 \
    LAUNCHER="$launcher" TRAIN_ARGS="--max-steps 3 --batch-size 32" SBATCH_ARGS="-N 1 --ntasks-per-node=2 -t 10" \
    bash "$repo/slurm/sweep.sh" >"$dir/jobs/sweep.out" 2>&1 || { cat "$dir/jobs/sweep.out"; die "sweep.sh failed"; }
  sed 's/^/  /' "$dir/jobs/sweep.out"
  [ "$(grep -c $'\tok\t' "$dir/sweep/results.tsv")" -eq 2 ] || die "the sweep table does not have 2 completed runs"
  log "sweep.sh: 2 runs collected in $((SECONDS - sweep_start)) s"
fi
