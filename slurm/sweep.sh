#!/usr/bin/env bash
# A sweep of train.sbatch over compressors and budgets as one Slurm job array, plus a dependent job that
# collects every run's summary.json into one table.
#
#   bash slurm/sweep.sh                          # submit; prints the array and collector job ids, returns at once
#   SWEEP_WAIT=1 bash slurm/sweep.sh             # ... and wait for the table (sbatch --wait on the collector)
#   bash slurm/sweep.sh collect runs/sweep-XYZ   # (re)build the table of a sweep directory by hand
#
# Settings (environment):
#   COMPRESSORS   compressors to run          default "dense atomo-spectral atomo-coordinate atomo-fourier qsgd terngrad"
#   SPECTRAL_BUDGETS  atomo-spectral budgets (atoms per tensor)          default "1 3 6"
#   BUCKET_BUDGETS    atomo-coordinate/-fourier budgets (atoms per 512)  default "5 10 50"
#   BUDGETS           if set, the budgets of every atomo-* compressor
#   QSGD_BITS     bit widths for qsgd          default "2 4 8"
#   SWEEP_DIR     where runs and the table go  default runs/sweep-<date-time>
#   MAX_PARALLEL  array tasks at once (%N)      default 4
#   SBATCH_ARGS   options for every array task, e.g. "--nodes=2 --ntasks-per-node=8 --partition=compute"
# Everything train.sbatch reads (LAUNCHER, EPOCHS, TRAIN_ARGS, ATOMO_MODULES, ...) passes through to each run.
# Other compressors (dense, terngrad) run once. SWEEP_DIR/configs.tsv lists the runs (index, compressor,
# budget, bits; - for none). The table is SWEEP_DIR/results.md (Markdown) and results.tsv.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

# A field of a flat JSON object (numbers or strings), without jq.
json_field() {
  grep -oE "\"$2\"[[:space:]]*:[[:space:]]*(\"[^\"]*\"|[^,}[:space:]]+)" "$1" | head -n 1 | sed -E 's/^[^:]*:[[:space:]]*//; s/"//g'
}

collect() {
  local sweep="$1" line index compressor budget bits summary status
  local fields=(ranks steps finalTestAccuracy bytesSentPerRank denseEquivalentBytes wallSeconds encodeSeconds exchangeSeconds decodeSeconds)
  [ -f "$sweep/configs.tsv" ] || { echo "sweep: $sweep/configs.tsv not found" >&2; return 2; }
  local tsv="$sweep/results.tsv" md="$sweep/results.md" missing=0
  { printf 'run\tcompressor\tbudget\tbits\tstatus'; printf '\t%s' "${fields[@]}" compression; printf '\n'; } >"$tsv"
  while IFS=$'\t' read -r index compressor budget bits; do
    summary="$sweep/run-$index/summary.json"
    if [ -s "$summary" ]; then status=ok; else status=missing; missing=$((missing + 1)); fi
    printf '%s\t%s\t%s\t%s\t%s' "$index" "$compressor" "$budget" "$bits" "$status"
    local values=() f value
    for f in "${fields[@]}"; do
      value=""
      [ "$status" = ok ] && value="$(json_field "$summary" "$f")"
      values+=("${value:--}")
      printf '\t%s' "${value:--}"
    done
    # Compression: dense-equivalent bytes over bytes sent (4th and 5th fields).
    if [[ "${values[3]}" =~ ^[0-9][0-9.eE+-]*$ && "${values[4]}" =~ ^[0-9][0-9.eE+-]*$ ]]; then
      printf '\t%s\n' "$(awk -v d="${values[4]}" -v s="${values[3]}" 'BEGIN { if (s > 0) printf "%.1fx", d / s; else print "-" }')"
    else
      printf '\t-\n'
    fi
  done <"$sweep/configs.tsv" >>"$tsv"
  # The same table in Markdown, rounded: accuracy in %, seconds to 0.01 s.
  awk -F'\t' 'NR == 1 { h = "|"; s = "|"; for (i = 1; i <= NF; i++) { name[i] = $i; h = h " " $i " |"; s = s "---|" } print h; print s; next }
              { r = "|"
                for (i = 1; i <= NF; i++) {
                  v = $i
                  if (v ~ /^-?[0-9][0-9.eE+-]*$/ && name[i] == "finalTestAccuracy") v = sprintf("%.2f %%", 100 * v)
                  else if (v ~ /^-?[0-9][0-9.eE+-]*$/ && name[i] ~ /Seconds$/) v = sprintf("%.2f", v)
                  r = r " " v " |"
                }
                print r }' "$tsv" >"$md"
  cat "$md"
  echo "sweep: $(($(wc -l <"$tsv") - 1)) runs, $missing without summary.json; table in $md and $tsv"
  [ "$missing" -eq 0 ]
}

if [ "${1:-}" = collect ]; then
  collect "${2:?usage: sweep.sh collect SWEEP_DIR}"
  exit
fi

# Array task: run train.sbatch (as a script, inside this task's allocation) with configuration SLURM_ARRAY_TASK_ID.
if [ "${1:-}" = run-task ]; then
  sweep="${2:?}"
  line="$(awk -F'\t' -v i="$SLURM_ARRAY_TASK_ID" '$1 == i' "$sweep/configs.tsv")"
  [ -n "$line" ] || { echo "sweep: no configuration $SLURM_ARRAY_TASK_ID in $sweep/configs.tsv" >&2; exit 2; }
  IFS=$'\t' read -r index compressor budget bits <<<"$line"
  echo "sweep: run $index: compressor=$compressor budget=$budget bits=$bits"
  [ "$budget" = - ] && budget=""
  [ "$bits" = - ] && bits=""
  COMPRESSOR="$compressor" BUDGET="$budget" BITS="$bits" OUTPUT_DIR="$sweep/run-$index" exec bash "$ATOMO_ROOT/slurm/train.sbatch"
fi

# Submit.
export ATOMO_ROOT="${ATOMO_ROOT:-$(cd "$here/.." && pwd)}"
COMPRESSORS="${COMPRESSORS:-dense atomo-spectral atomo-coordinate atomo-fourier qsgd terngrad}"
SPECTRAL_BUDGETS="${BUDGETS:-${SPECTRAL_BUDGETS:-1 3 6}}"
BUCKET_BUDGETS="${BUDGETS:-${BUCKET_BUDGETS:-5 10 50}}"
QSGD_BITS="${QSGD_BITS:-2 4 8}"
SWEEP_DIR="${SWEEP_DIR:-$ATOMO_ROOT/runs/sweep-$(date +%Y%m%d-%H%M%S)}"
MAX_PARALLEL="${MAX_PARALLEL:-4}"
SBATCH_ARGS="${SBATCH_ARGS:-}"

mkdir -p "$SWEEP_DIR/logs"
SWEEP_DIR="$(cd "$SWEEP_DIR" && pwd)"
n=0
: >"$SWEEP_DIR/configs.tsv"
for compressor in $COMPRESSORS; do
  case "$compressor" in
    atomo-spectral | atomo-coordinate | atomo-fourier)
      budgets="$BUCKET_BUDGETS"
      [ "$compressor" = atomo-spectral ] && budgets="$SPECTRAL_BUDGETS"
      for b in $budgets; do printf '%d\t%s\t%s\t-\n' "$n" "$compressor" "$b" >>"$SWEEP_DIR/configs.tsv"; n=$((n + 1)); done ;;
    qsgd) for bits in $QSGD_BITS; do printf '%d\t%s\t-\t%s\n' "$n" "$compressor" "$bits" >>"$SWEEP_DIR/configs.tsv"; n=$((n + 1)); done ;;
    *) printf '%d\t%s\t-\t-\n' "$n" "$compressor" >>"$SWEEP_DIR/configs.tsv"; n=$((n + 1)) ;;
  esac
done
[ "$n" -gt 0 ] || { echo "sweep: nothing to run (COMPRESSORS is empty)" >&2; exit 2; }

# The #SBATCH lines of train.sbatch are not read for array tasks started this way: take them from it.
mapfile -t defaults < <(sed -n 's/^#SBATCH[[:space:]]\{1,\}//p' "$ATOMO_ROOT/slurm/train.sbatch" | grep -vE '^--(job-name|output)')
# shellcheck disable=SC2086
array_id="$(sbatch --parsable --array="0-$((n - 1))%$MAX_PARALLEL" --job-name=atomo-sweep \
  --output="$SWEEP_DIR/logs/run-%a.out" "${defaults[@]}" $SBATCH_ARGS \
  --wrap "bash '$ATOMO_ROOT/slurm/sweep.sh' run-task '$SWEEP_DIR'")"
array_id="${array_id%%;*}"
wait_flag=()
[ "${SWEEP_WAIT:-0}" = 1 ] && wait_flag=(--wait)
echo "sweep: $n runs in $SWEEP_DIR, array job $array_id"
collector_id="$(sbatch --parsable "${wait_flag[@]}" --dependency="afterany:$array_id" --job-name=atomo-sweep-collect \
  --ntasks=1 --time=00:05:00 --output="$SWEEP_DIR/logs/collect.out" \
  --wrap "bash '$ATOMO_ROOT/slurm/sweep.sh' collect '$SWEEP_DIR'")" || {
  echo "sweep: the collector job failed (runs without summary.json?); see $SWEEP_DIR/logs" >&2
  cat "$SWEEP_DIR/logs/collect.out" 2>/dev/null || true
  exit 1
}
echo "sweep: collector job ${collector_id%%;*}; table: $SWEEP_DIR/results.md"
[ "${SWEEP_WAIT:-0}" = 1 ] && cat "$SWEEP_DIR/logs/collect.out"
exit 0
