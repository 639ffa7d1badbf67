"""A throw-away single-node SLURM cluster for tests: munged, slurmctld and slurmd on this host.

Everything lives in one directory the caller owns (config, munge key and socket, state,
spool, logs); nothing under /etc is read or written, so a system SLURM or munge, if any,
is left alone. The daemons run in the foreground as children of this process and are
stopped by their process ids. Clients (sbatch, squeue, sinfo, scontrol, srun) find the
cluster through ``SLURM_CONF``, which :meth:`SlurmCluster.env` sets; the job environment
inherits it (sbatch --export=ALL), so srun inside a job finds it too.

The configuration is what a small real cluster without a database looks like:
``AccountingStorageType=accounting_storage/none`` (so ``sacct`` has nothing to say and job
states must come from ``squeue``), ``JobAcctGatherType=jobacct_gather/none``,
``SelectType=select/cons_tres`` with cores and memory as consumable resources, and one
node with this machine's real CPU count and memory (from ``slurmd -C``).

Usage::

    cluster = SlurmCluster(tmpdir)
    cluster.start()          # raises ClusterUnavailable with the reason when it cannot
    subprocess.run([...], env=cluster.env())
    cluster.stop()
"""
from __future__ import annotations

import atexit
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("sbatch", "squeue", "sinfo", "scontrol", "srun", "scancel")
SBIN = ("/usr/sbin", "/usr/local/sbin", "/sbin")


class ClusterUnavailable(RuntimeError):
    """The cluster cannot be started here (binaries missing, not root, a daemon died)."""


def find_binary(name: str) -> str | None:
    """A binary on PATH or in an sbin directory (often not on a user's PATH)."""
    found = shutil.which(name)
    if found:
        return found
    for d in SBIN:
        p = Path(d) / name
        if p.is_file() and os.access(p, os.X_OK):
            return str(p)
    return None


def missing_binaries() -> list[str]:
    return [b for b in DAEMONS + CLIENTS if find_binary(b) is None]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def node_hardware(slurmd: str) -> dict:
    """This host as slurmd sees it: NodeName, CPUs, sockets/cores/threads, RealMemory (MB)."""
    out = subprocess.run([slurmd, "-C"], capture_output=True, text=True, timeout=30).stdout
    first = out.splitlines()[0] if out.strip() else ""
    hw = dict(kv.split("=", 1) for kv in first.split() if "=" in kv)
    if "CPUs" not in hw or "RealMemory" not in hw:
        hw = {"NodeName": socket.gethostname().split(".")[0], "CPUs": str(os.cpu_count() or 1),
              "RealMemory": str(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20)}
    return hw


class SlurmCluster:
    def __init__(self, root: str | Path, partition: str = "debug", min_job_age: int = 7200):
        self.root = Path(root)
        self.partition = partition
        self.min_job_age = min_job_age
        self.procs: dict[str, subprocess.Popen] = {}
        self.etc = self.root / "etc"  # seen by slurmd and its jobs as /etc/slurm (see _start_slurm)
        self.conf = self.etc / "slurm.conf"
        self.etc_slurm_created = False
        self.hostname = ""

    # -- environment for clients -------------------------------------------------------
    def env(self, base: dict | None = None) -> dict:
        env = dict(os.environ if base is None else base)
        env["SLURM_CONF"] = str(self.conf)
        # a test run from inside a SLURM job must not leak that job into the test cluster
        for k in list(env):
            if k.startswith(("SLURM_", "SBATCH_", "SRUN_", "SALLOC_")) and k != "SLURM_CONF":
                del env[k]
        env["PATH"] = os.pathsep.join([env.get("PATH", "")] + [d for d in SBIN if d not in env.get("PATH", "")])
        return env

    def run(self, *args: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
        return subprocess.run(list(args), env=self.env(), capture_output=True, text=True,
                              timeout=timeout, check=check)

    # -- lifecycle ---------------------------------------------------------------------
    def start(self, timeout: float = 60) -> "SlurmCluster":
        missing = missing_binaries()
        if missing:
            raise ClusterUnavailable(
                f"SLURM/munge binaries not found: {', '.join(missing)} "
                "(install with .ci/install_slurm.sh: Debian packages slurmctld slurmd slurm-client munge)")
        if os.geteuid() != 0:
            raise ClusterUnavailable("starting slurmd/slurmctld/munged for the test cluster needs root")
        atexit.register(self.stop)  # also when the session dies before its teardown
        try:
            self._start_munge(timeout)
            self._write_config()
            self._start_slurm(timeout)
        except ClusterUnavailable:
            self.stop()
            raise
        except Exception as e:  # noqa: BLE001 - any start-up problem means: no cluster here
            self.stop()
            raise ClusterUnavailable(f"could not start the test cluster: {e}\n{self.log_tail()}") from e
        return self

    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen:
        log = open(self.root / f"{name}.out", "ab")  # noqa: SIM115 - kept open by the child
        p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                             env=self.env(), start_new_session=True)
        log.close()
        self.procs[name] = p
        return p

    def _start_munge(self, timeout: float) -> None:
        mdir = self.root / "munge"
        mdir.mkdir(parents=True, exist_ok=True)
        os.chmod(mdir, 0o700)
        key = mdir / "munge.key"
        if not key.exists():
            mungekey = find_binary("mungekey")
            if mungekey:
                subprocess.run([mungekey, "--create", f"--keyfile={key}"], capture_output=True)
            if not key.exists():  # munge < 0.5.14 has no mungekey; any 1 KiB of randomness will do
                key.write_bytes(secrets.token_bytes(1024))
        os.chmod(key, 0o400)
        self.munge_socket = mdir / "munge.socket.2"
        self._spawn("munged", [
            find_binary("munged"), "--foreground", "--force",
            f"--socket={self.munge_socket}", f"--key-file={key}",
            f"--pid-file={mdir / 'munged.pid'}", f"--seed-file={mdir / 'munged.seed'}",
            f"--log-file={mdir / 'munged.log'}",
        ])
        self._wait(lambda: self.munge_socket.exists(), timeout, "munged did not create its socket")

    def _write_config(self) -> None:
        hw = node_hardware(find_binary("slurmd"))
        self.hostname = hw.get("NodeName") or socket.gethostname().split(".")[0]
        for d in ("state", "spool", "etc"):
            (self.root / d).mkdir(parents=True, exist_ok=True)
        (self.etc / "plugstack.conf").write_text("")
        node = " ".join(f"{k}={hw[k]}" for k in
                        ("CPUs", "Boards", "SocketsPerBoard", "CoresPerSocket", "ThreadsPerCore", "RealMemory")
                        if k in hw)
        r = self.root
        self.conf.write_text(f"""\
# written by tests/slurm_cluster.py: a single-node test cluster, no accounting database
ClusterName=convstudies-test
SlurmctldHost={self.hostname}(127.0.0.1)
SlurmctldPort={free_port()}
SlurmdPort={free_port()}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={self.munge_socket}
StateSaveLocation={r / 'state'}
SlurmdSpoolDir={r / 'spool'}
SlurmctldPidFile={r / 'slurmctld.pid'}
SlurmdPidFile={r / 'slurmd.pid'}
SlurmctldLogFile={r / 'slurmctld.log'}
SlurmdLogFile={r / 'slurmd.log'}
PlugStackConfig={self.etc / 'plugstack.conf'}
ProctrackType=proctrack/linuxproc
TaskPlugin=task/affinity
MpiDefault=none
SwitchType=switch/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
# finished jobs stay visible to squeue this long (s): job states come from squeue here
MinJobAge={self.min_job_age}
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
KillWait=5
NodeName={self.hostname} NodeAddr=127.0.0.1 {node} State=UNKNOWN
PartitionName={self.partition} Nodes=ALL Default=YES MaxTime=INFINITE State=UP
""")

    def _start_slurm(self, timeout: float) -> None:
        self._spawn("slurmctld", [find_binary("slurmctld"), "-D", "-c", "-i", "-f", str(self.conf)])
        self._wait(lambda: self.run("scontrol", "ping", check=False).returncode == 0
                   and "UP" in self.run("scontrol", "ping", check=False).stdout,
                   timeout, "slurmctld did not answer scontrol ping")
        # The plugin's job step drops SLURM_CONF before it calls srun inside the job, so srun
        # reads the default /etc/slurm/slurm.conf. slurmd (and with it every job) therefore
        # runs in its own mount namespace in which our config directory is bind-mounted on
        # /etc/slurm: the host's /etc is never touched.
        slurmd = [find_binary("slurmd"), "-D", "-f", str(self.conf), "-N", self.hostname]
        self._spawn("slurmd", self._in_namespace(slurmd))

        def node_idle():
            r = self.run("sinfo", "-h", "-N", "-o", "%t", check=False)
            return r.returncode == 0 and r.stdout.strip().rstrip("*") in ("idle", "mix", "alloc")
        self._wait(node_idle, timeout, "the node did not become idle")

    def _in_namespace(self, argv: list[str]) -> list[str]:
        unshare = find_binary("unshare")
        if unshare is None or subprocess.run([unshare, "--mount", "true"], capture_output=True).returncode:
            raise ClusterUnavailable("cannot create a mount namespace (unshare --mount) for slurmd")
        etc_slurm = Path("/etc/slurm")
        if not etc_slurm.is_dir():  # only an empty mount point, removed again in stop()
            etc_slurm.mkdir(parents=True)
            self.etc_slurm_created = True
        script = 'mount --make-rprivate / && mount --bind "$0" /etc/slurm && exec "$@"'
        return [unshare, "--mount", "sh", "-c", script, str(self.etc), *argv]

    def _wait(self, ok, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for name, p in self.procs.items():
                if p.poll() is not None:
                    raise ClusterUnavailable(f"{name} exited with code {p.returncode}\n{self.log_tail()}")
            try:
                if ok():
                    return
            except (OSError, subprocess.SubprocessError):
                pass
            time.sleep(0.3)
        raise ClusterUnavailable(f"{what} within {timeout:.0f}s\n{self.log_tail()}")

    def log_tail(self, n: int = 15) -> str:
        parts = []
        for f in ("munged.out", "munge/munged.log", "slurmctld.out", "slurmctld.log", "slurmd.out", "slurmd.log"):
            p = self.root / f
            if p.exists() and p.stat().st_size:
                lines = p.read_text(errors="replace").splitlines()[-n:]
                parts.append(f"--- {p}\n" + "\n".join(lines))
        return "\n".join(parts)

    def stop(self) -> None:
        """Cancel what is still queued, then stop slurmd, slurmctld and munged (by pid)."""
        if "slurmctld" in self.procs and self.procs["slurmctld"].poll() is None:
            try:  # let slurmd end what still runs before it goes
                self.run("scancel", "--full", "--user", "root", check=False, timeout=10)
                deadline = time.monotonic() + 20
                while time.monotonic() < deadline and any(
                        j["state"] in ("PENDING", "RUNNING", "COMPLETING", "CONFIGURING") for j in self.jobs()):
                    time.sleep(0.5)
            except (OSError, subprocess.SubprocessError):
                pass
        for name in ("slurmd", "slurmctld", "munged"):
            p = self.procs.pop(name, None)
            if p is None or p.poll() is not None:
                continue
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=10)
        if self.etc_slurm_created:
            try:
                Path("/etc/slurm").rmdir()
            except OSError:
                pass
            self.etc_slurm_created = False

    # -- queries -----------------------------------------------------------------------
    def jobs(self) -> list[dict]:
        """Every job slurmctld still knows (MinJobAge keeps finished ones): id, name, state, exit."""
        r = self.run("squeue", "--states=all", "--noheader", "--format=%i|%j|%T|%k", check=False)
        out = []
        for line in r.stdout.splitlines():
            parts = line.split("|", 3)
            if len(parts) == 4:
                out.append({"id": parts[0].strip(), "name": parts[1].strip(), "state": parts[2].strip(),
                            "comment": parts[3].strip()})
        return out

    def job_info(self, job_id: str) -> dict:
        """scontrol show job, as a dict (JobState, ExitCode, NumCPUs, TRES, Partition, ...)."""
        r = self.run("scontrol", "show", "job", "-o", str(job_id), check=False)
        return dict(re.findall(r"(\w+)=(\S*)", r.stdout))
