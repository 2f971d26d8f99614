#!/usr/bin/env bash
# A real Slurm run of a sharded analysis on this one machine (make test-slurm):
# installs Debian's slurmctld, slurmd, slurm-client and munge, configures a one-node cluster for `hostname -s`,
# starts munged, slurmctld and slurmd, generates the job with `phantom slurm` (4 shards of one checkpoint, split by
# samples: 16 samples in blocks of 4),
# submits it, waits by polling squeue, reads every task's exit code from the jobcomp file, and compares the merged
# results with an unsharded run array by array. Then a shard is cancelled (scancel) and the merge must name it.
# Skipped, visibly (exit 0, "SKIPPED: …"), when the packages cannot be installed or the daemons do not start.
set -uo pipefail
cd "$(dirname "$0")/.."
PHANTOM="${PHANTOM:-$(swift build -c release --show-bin-path)/phantom}"
SUDO=$([ "$(id -u)" = 0 ] || echo sudo)
skip() { echo "SKIPPED: Slurm test — $1"; exit 0; }
fail() { echo "FAILED: Slurm test — $1"; stop_daemons; exit 1; }

stop_daemons() {
  for pidfile in /run/slurmd.pid /run/slurmctld.pid /run/munge/munged.pid; do
    if [ -f "$pidfile" ]; then
      pid=$(cat "$pidfile"); $SUDO kill "$pid" 2>/dev/null
      for _ in $(seq 50); do $SUDO kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      $SUDO rm -f "$pidfile"
    fi
  done
}

[ -x "$PHANTOM" ] || fail "no phantom binary at $PHANTOM (run make release)"
missing=""
for p in slurmctld slurmd slurm-client munge; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  echo "installing:$missing"
  ($SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null 2>&1) \
    || skip "the packages$missing cannot be installed here"
fi

node=$(hostname -s)
cpus=$(nproc)
memory=$(( $(awk '/MemTotal/ {print int($2 / 1024)}' /proc/meminfo) * 8 / 10 ))
stop_daemons
$SUDO mkdir -p /etc/slurm
$SUDO tee /etc/slurm/slurm.conf >/dev/null <<CONF
ClusterName=local
SlurmctldHost=${node}(127.0.0.1)
SlurmUser=slurm
AuthType=auth/munge
CredType=cred/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MpiDefault=none
MailProg=/bin/true
JobCompType=jobcomp/filetxt
JobCompLoc=/var/log/slurm/jobcomp.log
NodeName=${node} NodeAddr=127.0.0.1 CPUs=${cpus} RealMemory=${memory} State=UNKNOWN
PartitionName=debug Nodes=${node} Default=YES MaxTime=INFINITE State=UP
CONF
$SUDO install -d -o munge -g munge -m 755 /run/munge
$SUDO install -d -o slurm -g slurm -m 755 /var/spool/slurmctld /var/log/slurm
$SUDO install -d -m 755 /var/spool/slurmd
$SUDO rm -f /var/log/slurm/jobcomp.log
$SUDO su -s /bin/sh munge -c /usr/sbin/munged || skip "munged does not start"
$SUDO slurmctld || { stop_daemons; skip "slurmctld does not start"; }
$SUDO slurmd || { stop_daemons; skip "slurmd does not start"; }
state=""
for _ in $(seq 100); do
  state=$(sinfo -h -o %T 2>/dev/null | head -n 1)
  [ "$state" = idle ] && break
  sleep 0.2
done
[ "$state" = idle ] || { stop_daemons; skip "the node did not become idle (state: ${state:-none})"; }
echo "slurm: node $node idle ($cpus CPUs)"

work=$(mktemp -d /tmp/phantom-slurm.XXXXXX)
chmod 755 "$work"
args=(notebooks-data/reference/tanh-upg/epoch-0030.h5 --samples 16 --sample-block 4 --k 1,2,3 --lambda 0.5,1 --estimators upg,npg,jfb)
# PHANTOM_SLURM_DEMO=1: the demo's own analysis (32 samples, default grid) for the README's timings.
[ "${PHANTOM_SLURM_DEMO:-0}" = 1 ] && args=(notebooks-data/reference/tanh-upg --samples 32)
start=$(date +%s.%N)
"$PHANTOM" analyze "${args[@]}" -o "$work/full.h5" >/dev/null 2>"$work/full.err" || fail "the unsharded analysis failed: $(tail -n 1 "$work/full.err")"
single=$(awk "BEGIN { print $(date +%s.%N) - $start }")
"$PHANTOM" slurm --shards 4 --cpus-per-task 1 --time 10 --mem 2G --folder "$work/job" -- "${args[@]}" -o "$work/merged.h5" \
  || fail "phantom slurm failed"

# Wait for jobs by polling squeue, then read each task's exit code from the jobcomp file.
wait_for() {
  for _ in $(seq 1200); do
    [ -z "$(squeue -h -j "$1" 2>/dev/null)" ] && return 0
    sleep 0.5
  done
  return 1
}
start=$(date +%s.%N)
submitted=$(bash "$work/job/submit.sh") || fail "submit.sh failed"
echo "$submitted"
array=$(echo "$submitted" | sed -n 's/^analysis array job \([0-9]*\).*/\1/p')
merge=$(echo "$submitted" | sed -n 's/.*merge job \([0-9]*\).*/\1/p')
[ -n "$array" ] && [ -n "$merge" ] || fail "cannot read the job ids from: $submitted"
wait_for "$array" || fail "the array job did not finish in 10 minutes"
wait_for "$merge" || fail "the merge job did not finish in 10 minutes"
sharded=$(awk "BEGIN { print $(date +%s.%N) - $start }")
for _ in $(seq 20); do [ "$(grep -cE "ArrayJobId=${array} |^JobId=$merge " /var/log/slurm/jobcomp.log 2>/dev/null)" -ge 5 ] && break; sleep 0.5; done
grep "JobId=" /var/log/slurm/jobcomp.log | sed 's/^/  jobcomp: /' | cut -c1-160
tasks_ok=$(grep -E "JobId=[0-9]+ .*ArrayJobId=${array} " /var/log/slurm/jobcomp.log | grep -c "JobState=COMPLETED.*ExitCode=0:0")
[ "$tasks_ok" -eq 4 ] || fail "$tasks_ok of 4 array tasks completed with exit code 0 (see /var/log/slurm/jobcomp.log, $work/job/logs)"
grep -E "JobId=$merge " /var/log/slurm/jobcomp.log | grep -q "JobState=COMPLETED.*ExitCode=0:0" || fail "the merge job did not complete"
for group in /axes /series /samples /cells /batch /frontier; do
  h5diff -q "$work/full.h5" "$work/merged.h5" "$group" "$group" || fail "the merged file differs from the unsharded run in $group"
done
echo "slurm: 4 shards of one checkpoint merged; every array equals the unsharded run's (h5diff on /axes /series /samples /cells /batch /frontier)"
printf 'slurm: single process %.1f s, 4 shards through Slurm (submit to merged) %.1f s\n' "$single" "$sharded"

# A cancelled shard: the merge must say which one is missing.
"$PHANTOM" slurm --shards 4 --cpus-per-task 1 --time 10 --folder "$work/job2" -- "${args[@]}" -o "$work/merged2.h5" >/dev/null || fail "phantom slurm (2) failed"
array2=$(sbatch --parsable --hold "$work/job2/analyze.sbatch") || fail "sbatch failed"
array2=${array2%%;*}
scancel "${array2}_3"
scontrol release "$array2" >/dev/null 2>&1
wait_for "$array2" || fail "the second array did not finish"
out=$("$PHANTOM" merge "$work"/job2/shard-*-of-4.h5 -o "$work/merged2.h5" 2>&1) && fail "merge accepted a missing shard"
echo "$out" | grep -q "shard 3/4 missing" || fail "merge did not name the cancelled shard: $out"
echo "slurm: a cancelled shard is named by the merge: $out"

stop_daemons
rm -rf "$work"
echo "Slurm test passed: sharded run merged identically, cancelled shard named."
