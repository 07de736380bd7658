#!/usr/bin/env bash
# Proves `--shard K/N` on a real Slurm: installs Debian's slurm-wlm and munge (if missing), starts a one-node
# cluster on localhost, submits the README's Slurm job-array example (the bash block after "A Slurm job array",
# taken verbatim) over Samples/jobs.csv as 3 array tasks of one CPU, then renders the same CSV unsharded and
# checks that both give the same clips (byte for byte) and the same manifest records, that each task rendered
# exactly its share and that every task exited 0.
#
#   Tests/Slurm/run.sh            (as root; Debian 12)
#
# svdbatch under test: $SVDBATCH, else the newer of .build/release/svdbatch and .build/debug/svdbatch, else a
# release build.
# Everything (munge key and socket, slurm.conf, Slurm's state and logs, svdbatch's cache, the work folder) lives
# in $TMPDIR/svdbatch-slurm-test and is removed at the end. The daemons are private (own munge socket, ports
# 16817/16818, SLURM_CONF), so nothing is written to /etc and a system Slurm or munge is left alone. A rerun first
# stops the daemons and jobs a killed run left behind. SVDBATCH_SLURM_TIMEOUT (seconds, default 600; the array
# takes about 30) bounds the wait for the array.
# Exit status: 0 when every check passed, 1 when one failed (with what and the logs that tell why), 130/143 when
# interrupted.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
STATE="${TMPDIR:-/tmp}/svdbatch-slurm-test"
TASKS=3
TIMEOUT="${SVDBATCH_SLURM_TIMEOUT:-600}"
export SLURM_CONF="$STATE/etc/slurm.conf"               # every Slurm command and daemon here uses the private one
export PATH="/usr/local/sbin:/usr/sbin:/sbin:$PATH"   # slurmctld, slurmd and munged live in sbin

fail() { echo "FAIL: $*" >&2; exit 1; }
say() { echo "== $*" >&2; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f s", b - a }'; }
[ "$(id -u)" -eq 0 ] || fail "run as root (installs packages and starts Slurm's daemons)"
command -v python3 >/dev/null || fail "python3 is needed to compare the manifests"
T0=$EPOCHREALTIME

# --- svdbatch to test ------------------------------------------------------------------------------------------
RELEASE="$ROOT/.build/release/svdbatch" DEBUG="$ROOT/.build/debug/svdbatch"
if [ -n "${SVDBATCH:-}" ]; then
    BINARY="$(realpath "$SVDBATCH")"
elif [ -x "$RELEASE" ] && { [ ! -x "$DEBUG" ] || [ "$RELEASE" -nt "$DEBUG" ]; }; then
    BINARY="$RELEASE"   # the newer of the two builds: a stale one would test old code
elif [ -x "$DEBUG" ]; then
    BINARY="$DEBUG"     # what `swift test` leaves; the engine modules are optimised anyway
else
    say "building svdbatch (release)"
    (cd "$ROOT" && swift build -c release --product svdbatch)
    BINARY="$RELEASE"
fi
[ -x "$BINARY" ] || fail "no svdbatch executable at $BINARY"
MODEL="$ROOT/Samples/demo-model"

# --- Slurm and munge ---------------------------------------------------------------------------------------------
missing=0
for tool in sbatch squeue scontrol sinfo scancel srun slurmctld slurmd munged mungekey munge unmunge; do
    command -v "$tool" >/dev/null || missing=1
done
if [ "$missing" -eq 1 ]; then
    say "installing slurm-wlm and munge"
    export DEBIAN_FRONTEND=noninteractive
    PKGS=(slurm-wlm slurm-client munge)
    apt-get install -y --no-install-recommends "${PKGS[@]}" >/dev/null ||
        { apt-get update >/dev/null && apt-get install -y --no-install-recommends "${PKGS[@]}" >/dev/null; } ||
        fail "could not install ${PKGS[*]}"
fi

# --- cleanup (also of a run that was killed before its own cleanup) -----------------------------------------------
# Whether pid file $2 still names a running daemon $1 (a stale file's pid may have been reused since).
is_daemon() { [ -s "$2" ] && [ "$(cat "/proc/$(cat "$2")/comm" 2>/dev/null)" = "$1" ]; }
# Stops that daemon: SIGTERM, and SIGKILL after 10 s.
stop_daemon() {
    local pid
    is_daemon "$1" "$2" || return 0
    pid="$(cat "$2")"
    kill "$pid" 2>/dev/null || return 0
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
}
stop_cluster() {
    # Cancel the private cluster's jobs first, so that slurmd's step daemons stop the renders before slurmd goes
    # (timeout: a client whose controller is gone retries for a while).
    local jobs
    if [ -f "$SLURM_CONF" ] && is_daemon slurmctld "$STATE/pids/slurmctld"; then
        jobs="$(timeout 20 squeue -h -o %A 2>/dev/null || true)"
        if [ -n "$jobs" ]; then
            # shellcheck disable=SC2086  # one id per word
            timeout 20 scancel $jobs 2>/dev/null || true
            for _ in $(seq 40); do [ -z "$(timeout 20 squeue -h 2>/dev/null)" ] && break; sleep 1; done
        fi
    fi
    stop_daemon slurmd "$STATE/pids/slurmd"
    stop_daemon slurmctld "$STATE/pids/slurmctld"
    stop_daemon munged "$STATE/pids/munged"
}
cleanup() {
    local status=$?
    trap - EXIT INT TERM
    if [ "$status" -ne 0 ] && [ -d "$STATE/log" ]; then
        # The evidence goes before the folder does.
        for f in "$STATE"/work/svdbatch-*.log "$STATE"/log/*.log "$STATE"/log/*.stderr; do
            # The daemons' logs only while the cluster is in doubt; a daemon's stderr repeats its log file.
            [ -n "${ARRAY_DONE:-}" ] && [ "${f#"$STATE"/log/}" != "$f" ] && [ "$f" != "$STATE/log/unsharded.log" ] &&
                continue
            [ "${f%.stderr}" != "$f" ] && [ -s "${f%.stderr}.log" ] && continue
            [ -s "$f" ] && { echo "---- $f (last 30 lines)" >&2; tail -n 30 "$f" >&2; }
        done
    fi
    stop_cluster
    rm -rf "$STATE"
    exit "$status"
}
if [ -d "$STATE" ]; then
    say "removing what an earlier run left in $STATE"
    stop_cluster
    rm -rf "$STATE"
fi
trap cleanup EXIT
trap 'echo "interrupted" >&2; exit 130' INT
trap 'echo "terminated" >&2; exit 143' TERM
mkdir -m 755 "$STATE"   # munged wants every folder above its socket searchable by all, and none group-writable
mkdir -m 755 "$STATE"/{munge,etc,ctld,spool,log,pids,bin,work,cache}
# svdbatch's caches (file digests, speed calibration) start empty and go with the rest, for the tasks (sbatch
# passes the environment on) and the unsharded run alike.
export XDG_CACHE_HOME="$STATE/cache"

# --- munge: a private daemon with its own key and socket ----------------------------------------------------------
mungekey --create --keyfile="$STATE/munge/munge.key" || fail "mungekey could not create a key"
# In the foreground (-F) as our own child, so its pid is known at once; it then logs to stderr only.
munged -F --socket="$STATE/munge/munge.socket" --key-file="$STATE/munge/munge.key" \
    --pid-file="$STATE/munge/munged.pid" --seed-file="$STATE/munge/munged.seed" >>"$STATE/log/munged.log" 2>&1 &
echo $! >"$STATE/pids/munged"
for _ in $(seq 50); do [ -S "$STATE/munge/munge.socket" ] && break; sleep 0.1; done
munge -n -S "$STATE/munge/munge.socket" | unmunge -S "$STATE/munge/munge.socket" >/dev/null ||
    fail "munged does not answer on $STATE/munge/munge.socket"

# --- slurm.conf: one node, no cgroups, no accounting ---------------------------------------------------------------
NODE="$(hostname -s)"
CPUS="$(nproc)"
# What the node offers for jobs: 90% of the memory now available. Nothing enforces it (no cgroups); it only
# has to hold two tasks' --mem so that two run at once.
REAL_MB="$(awk '/^MemAvailable:/ { print int($2 / 1024 * 0.9) }' /proc/meminfo)"
TASK_MEM_MB=1024   # a task peaks at about 0.8 GB on the sample batch
[ "$REAL_MB" -ge "$TASK_MEM_MB" ] || fail "only ${REAL_MB} MB of memory available; a task needs ${TASK_MEM_MB} MB"
cat >"$SLURM_CONF" <<EOF
ClusterName=svdbatchtest
SlurmctldHost=$NODE(127.0.0.1)
SlurmctldPort=16817
SlurmdPort=16818
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$STATE/munge/munge.socket
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/ctld/slurmctld.pid
SlurmdPidFile=$STATE/spool/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
PlugStackConfig=$STATE/etc/plugstack.conf
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SwitchType=switch/none
SelectType=select/cons_tres
# Allocate CPUs, not cores: on a hyperthreaded CPU a one-CPU task would otherwise take a whole core.
SelectTypeParameters=CR_CPU_Memory
# Take the node as configured here rather than drain it over a topology slurmd reads differently.
SlurmdParameters=config_overrides
ReturnToService=2
# Keep finished tasks in scontrol's view long enough to read their states and exit codes.
MinJobAge=3600
NodeName=$NODE NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$REAL_MB State=UNKNOWN
PartitionName=test Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
: >"$STATE/etc/plugstack.conf"   # no SPANK plugins (Debian's /etc/slurm/plugstack.conf would be read otherwise)

# --- start the cluster ---------------------------------------------------------------------------------------------
# Both in the foreground (-D) as our own children: their pids are known at once, and no systemd is needed.
slurmctld -D -f "$SLURM_CONF" >>"$STATE/log/slurmctld.stderr" 2>&1 &
echo $! >"$STATE/pids/slurmctld"
slurmd -D -f "$SLURM_CONF" >>"$STATE/log/slurmd.stderr" 2>&1 &
echo $! >"$STATE/pids/slurmd"
# The submitting environment must not carry another cluster's or job's settings into sbatch.
while read -r v; do [ "$v" = SLURM_CONF ] || unset "$v"; done < <(compgen -e | grep -E '^(SLURM|SBATCH|SRUN)_' || true)
state=""
for _ in $(seq 60); do
    state="$(sinfo -h -n "$NODE" -o %t 2>/dev/null || true)"
    [ "$state" = idle ] && break
    for d in slurmctld slurmd munged; do
        kill -0 "$(cat "$STATE/pids/$d")" 2>/dev/null || fail "$d stopped while the cluster started (see its log below)"
    done
    sleep 1
done
[ "$state" = idle ] || fail "node $NODE is '${state:-unknown}', not idle, after 60 s: $(sinfo -h -R 2>&1)"
T_READY=$EPOCHREALTIME
say "one-node cluster up: $NODE, $CPUS CPUs, ${REAL_MB} MB ($(elapsed "$T0" "$T_READY") since the start)"

# --- the README's example, verbatim --------------------------------------------------------------------------------
WORK="$STATE/work"
cp "$ROOT/Samples/jobs.csv" "$ROOT"/Samples/*.png "$WORK/"   # image paths are relative to the CSV's folder
awk '/A Slurm job array/ { found = 1 } found && /^```bash$/ { inside = 1; next } inside && /^```$/ { exit }
     inside { print }' "$ROOT/README.md" >"$WORK/render.sh"
grep -q '^#!/bin/bash' "$WORK/render.sh" && grep -q -- '--shard' "$WORK/render.sh" ||
    fail "README.md has no bash block with --shard after \"A Slurm job array\""
say "render.sh, from README.md:"
sed 's/^/    /' "$WORK/render.sh" >&2
ln -s "$BINARY" "$STATE/bin/svdbatch"

# Submitted as the README says (from the job list's folder, MODEL and svdbatch in the environment), with only the
# resources scaled down on the command line, where they override the script's #SBATCH lines.
JOBID="$(cd "$WORK" && PATH="$STATE/bin:$PATH" MODEL="$MODEL" sbatch --parsable --array=0-$((TASKS - 1)) \
    --cpus-per-task=1 --mem="${TASK_MEM_MB}M" --time=30 render.sh)" || fail "sbatch refused the README's script"
JOBID="${JOBID%%;*}"
say "submitted array job $JOBID ($TASKS tasks)"
deadline=$((SECONDS + TIMEOUT))
while [ -n "$(squeue -h -j "$JOBID" 2>/dev/null)" ]; do
    [ "$SECONDS" -lt "$deadline" ] ||
        fail "array job $JOBID not finished after ${TIMEOUT} s: $(squeue -j "$JOBID" 2>&1)"
    case "$(sinfo -h -n "$NODE" -o %t 2>/dev/null)" in
        down*|drain*|drng*|fail*) fail "node $NODE went $(sinfo -h -n "$NODE" -o %T): $(sinfo -h -R 2>&1)" ;;
    esac
    sleep 1
done
T_ARRAY=$EPOCHREALTIME

# Every task's final state and exit code (kept by MinJobAge), one line per task.
RECORDS="$(scontrol -o show job "$JOBID")" || fail "scontrol has no record of job $JOBID"
summary=""
for k in $(seq 0 $((TASKS - 1))); do
    line="$(grep -E "(^| )ArrayTaskId=$k( |$)" <<<"$RECORDS" || true)"
    [ -n "$line" ] || fail "task $k of array job $JOBID has no record"
    st="$(grep -oE 'JobState=[^ ]+' <<<"$line")"; st="${st#JobState=}"
    ec="$(grep -oE ' ExitCode=[^ ]+' <<<"$line")"; ec="${ec# ExitCode=}"
    [ "$st" = COMPLETED ] && [ "$ec" = 0:0 ] ||
        fail "task $k ended $st with exit code $ec (log: svdbatch-$k.log below)"
    grep -q "done in" "$WORK/svdbatch-$k.log" || fail "task $k's log does not end its run: $WORK/svdbatch-$k.log"
    # Ties the task to its manifest: task k must have run as shard k/N (SLURM_ARRAY_TASK_ID/COUNT reached it).
    grep -qF "(shard $k/$TASKS:" "$WORK/svdbatch-$k.log" ||
        fail "task $k did not run as shard $k/$TASKS (its log below)"
    summary+="task $k: $st, exit $ec; "
done
ARRAY_DONE=1

# --- the same CSV, unsharded ---------------------------------------------------------------------------------------
(cd "$WORK" && "$BINARY" jobs.csv --out Unsharded --model "$MODEL" >"$STATE/log/unsharded.log" 2>&1) ||
    fail "the unsharded run exited $? (see $STATE/log/unsharded.log below)"
T_UNSHARDED=$EPOCHREALTIME

# --- compare -------------------------------------------------------------------------------------------------------
python3 - "$WORK" "$TASKS" <<'PY' || fail "the sharded run does not equal the unsharded one (see above)"
import filecmp, hashlib, json, os, sys

work, n = sys.argv[1], int(sys.argv[2])
sharded, unsharded = os.path.join(work, "Output"), os.path.join(work, "Unsharded")
problems = []

def bucket(file_name):
    """The shard a clip belongs to, computed here independently of svdbatch (README: --shard K/N)."""
    return int.from_bytes(hashlib.sha256(file_name.encode()).digest()[:8], "big") % n

def listing(folder):
    names = os.listdir(folder)
    hidden = sorted(f for f in names if f.startswith(".") and not f.endswith(".lock"))
    if hidden:
        problems.append(f"{folder}: leftover temporary or checkpoint files {hidden}")
    return sorted(f for f in names if not f.startswith(".") and not f.endswith(".jsonl")), \
        sorted(f for f in names if f.endswith(".jsonl"))

def records(path):
    with open(path) as f:
        return [json.loads(line) for line in f]

def comparable(e):
    # time and seconds differ from run to run, output only in its folder; the rest must be the same.
    return (e["csv"], e["line"], e["name"], e["output"] and os.path.basename(e["output"]), e["status"],
            e["job_key"], e["error"], e["replaced"])

clips, manifests = listing(sharded)
clips_u, manifests_u = listing(unsharded)
expected = [f"manifest-shard-{k}-of-{n}.jsonl" for k in range(n)]
if manifests != sorted(expected):
    problems.append(f"{sharded}: manifests {manifests}, expected one per task {expected}")
if manifests_u != ["manifest.jsonl"]:
    problems.append(f"{unsharded}: manifests {manifests_u}, expected manifest.jsonl")

# (1) The same clips, byte for byte.
if clips != clips_u:
    problems.append(f"clips differ: sharded {clips}, unsharded {clips_u}")
if not clips_u:
    problems.append("the unsharded run made no clip")
for c in sorted(set(clips) & set(clips_u)):
    if not filecmp.cmp(os.path.join(sharded, c), os.path.join(unsharded, c), shallow=False):
        problems.append(f"{c}: the sharded and unsharded clips differ")

# (2) The manifests: every job of the unsharded manifest recorded once across the shards, identically, and rows
# without a clip (invalid ones) reported by every shard.
whole = [comparable(e) for e in records(os.path.join(unsharded, "manifest.jsonl"))]
jobs_u = sorted(r for r in whole if r[3])
rows_u = sorted(r for r in whole if not r[3])
jobs, per_shard = [], {}
for k in range(n):
    path = os.path.join(sharded, f"manifest-shard-{k}-of-{n}.jsonl")
    if not os.path.exists(path):
        continue
    part = [comparable(e) for e in records(path)]
    mine = sorted(r for r in part if r[3])
    per_shard[k] = [r[3] for r in mine]
    jobs += mine
    if sorted(r for r in part if not r[3]) != rows_u:
        problems.append(f"shard {k}: its records of rows without a clip differ from the unsharded run's")
    # (3) Only its share, and its whole share.
    share = sorted(r[3] for r in jobs_u if bucket(r[3]) == k)
    if sorted(per_shard[k]) != share:
        problems.append(f"shard {k} rendered {sorted(per_shard[k])}, its share is {share}")
    if not share:
        problems.append(f"the sample CSV gives shard {k}/{n} no job, so this test cannot show that task rendering")
if sorted(jobs) != jobs_u:
    def show(rs):
        return ", ".join(f"{r[3]} (line {r[1]}, {r[4]}, job_key {(r[5] or '-')[:12]})" for r in rs) or "none"
    missing = sorted(set(jobs_u) - set(jobs))
    extra = sorted(r for r in set(jobs) if r not in jobs_u or jobs.count(r) > 1)
    problems.append(f"manifest records differ: unsharded only: {show(missing)}; "
                    f"sharded only or repeated: {show(extra)}")
bad = [r for r in jobs_u if r[4] != "rendered"]
if bad:
    problems.append(f"unsharded jobs not rendered: {bad}")
if sorted(r[3] for r in jobs_u) != clips_u:
    problems.append(f"the unsharded manifest's clips {[r[3] for r in jobs_u]} are not the folder's {clips_u}")

for p in problems:
    print("  -", p, file=sys.stderr)
if not problems:
    print(f"{len(clips)} clips byte-identical, {len(jobs_u)} manifest records equal; shares: "
          + ", ".join(f"{k}/{n}: {' '.join(v)}" for k, v in sorted(per_shard.items())))
sys.exit(1 if problems else 0)
PY

T_END=$EPOCHREALTIME
echo "PASS: README's Slurm job array, $TASKS tasks on one node == unsharded run"
echo "  ${summary%; }"
echo "  setup (install, munge, slurmctld, slurmd) $(elapsed "$T0" "$T_READY")," \
     "array $(elapsed "$T_READY" "$T_ARRAY"), unsharded $(elapsed "$T_ARRAY" "$T_UNSHARDED")," \
     "total $(elapsed "$T0" "$T_END")"
