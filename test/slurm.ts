// A real one-node Slurm cluster for the job-array tests: munged, slurmctld and slurmd from
// Debian's packages (.ci/run installs them), started as root with their own key, socket, ports,
// configuration, state and logs under one folder, and stopped again by the test. There is no
// skip: where Slurm cannot start, startSlurm throws with the daemons' log tails and the test fails.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { alive } from '../src/jobs/debris.js';

export interface SlurmCluster {
  /** The folder holding slurm.conf, the munge key and socket, state, spool and every log. */
  dir: string;
  /** The one node, named after this host as slurmd names it. */
  node: string;
  /**
   * The environment for sbatch, squeue, scontrol and scancel: SLURM_CONF points at this cluster,
   * and ALBERT_EMBED_TEST_SLURM (= dir) marks the jobs' processes for stop() and crash clean-up.
   */
  env: NodeJS.ProcessEnv;
  /** The daemons' process ids, for checking that none outlives stop(). */
  pids: Record<Daemon, number>;
  /**
   * Writes `script` to a file under dir/jobs and submits it with sbatch and `args`, from dir
   * (where Slurm's default slurm-%A_%a.out files land); resolves to the job id.
   */
  sbatch(args: string[], script: string): Promise<number>;
  /** Polls until the job and every task of its array have ended; their final states, by task id. */
  waitForJob(jobId: number, timeoutMs: number): Promise<JobTask[]>;
  /** The last lines of every daemon's log, for failure messages. */
  logTails(): string;
  /** Cancels every job, then stops slurmd, slurmctld and munged and waits for them to exit. Removes no file. */
  stop(): Promise<void>;
}

export interface JobTask {
  /** The task's own job id (SLURM_JOB_ID); for the array's last task it is the array's id. */
  jobId: number;
  /** SLURM_ARRAY_TASK_ID, or undefined for a job that is not an array. */
  arrayTaskId: number | undefined;
  /** Slurm's final job state: COMPLETED, FAILED, CANCELLED, TIMEOUT, ... */
  state: string;
  /** Slurm's `exit status:signal`, e.g. '0:0', or '3:0' for a script that exits 3. */
  exitCode: string;
}

type Daemon = 'munged' | 'slurmctld' | 'slurmd';

// Job states after which Slurm changes nothing more (slurm/slurm.h's job_states past
// JOB_SUSPENDED); PENDING, RUNNING, SUSPENDED and the COMPLETING, CONFIGURING, REQUEUED, ... flags
// mean the job is still going.
const FINAL_STATES = new Set(['COMPLETED', 'CANCELLED', 'FAILED', 'TIMEOUT', 'NODE_FAIL', 'PREEMPTED', 'BOOT_FAIL', 'DEADLINE', 'OUT_OF_MEMORY']);

const POLL_MS = 50;
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 15_000;

// Marks the processes of this cluster's jobs: cluster.env carries it into every job (sbatch
// exports the submitter's environment), and slurmd's environment into every slurmstepd.
const MARK = 'ALBERT_EMBED_TEST_SLURM';

// Runs a daemon in the foreground, tethered to this process: Node holds the only write end of the
// wrapper's stdin, so when that closes (stop(), or this process dying in any way, SIGKILL
// included) the reader sends the daemon SIGTERM. The wrapper exits when the daemon does, with its
// status, so an early death is seen at once. With a sweep line ($1, for slurmd) it then kills
// every process whose environment holds that line: slurmstepd outlives slurmd, ignores SIGTERM
// and, with no slurmctld left to take its job's end, retries for an hour; the job's own
// processes are not its children under proctrack/linuxproc. stop() cancels the jobs first, so
// this only finds anything when the test process died.
const TETHER = `sweep=$1
shift
exec 3<&0 </dev/null
"$@" 3<&- &
daemon=$!
( read -r _ <&3; kill -TERM "$daemon" ) 2>/dev/null &
reader=$!
wait "$daemon"
status=$?
kill "$reader" 2>/dev/null
if [ -n "$sweep" ]; then
  for environ in $(grep -lzxF -e "$sweep" /proc/[0-9]*/environ 2>/dev/null); do
    pid=\${environ#/proc/}
    pid=\${pid%/environ}
    [ "$pid" = $$ ] || kill -KILL "$pid" 2>/dev/null
  done
fi
exit $status`;

interface Running {
  child: ChildProcess;
  exited: Promise<number | null>;
  log: string;
}

export async function startSlurm(dir: string): Promise<SlurmCluster> {
  if (process.getuid?.() !== 0) throw new Error('startSlurm: slurmd must run as root (CI runs the tests as root)');
  const socket = join(dir, 'munge', 'munge.socket');
  // A Unix socket's path must fit sockaddr_un's 108 bytes; slurmd's step sockets under spool/ too.
  if (Buffer.byteLength(socket) > 100) throw new Error(`startSlurm: ${dir} is too deep for Unix sockets (${socket})`);
  for (const sub of ['munge', 'state', 'spool', 'jobs']) mkdirSync(join(dir, sub), { recursive: true, mode: 0o700 });

  const daemonEnv = baseEnv(join(dir, 'slurm.conf'));
  const mark = `${MARK}=${dir}`;
  const env: NodeJS.ProcessEnv = { ...daemonEnv, [MARK]: dir };
  const hardware = await nodeHardware(daemonEnv);
  const [ctldPort, slurmdPort] = await freePorts(2);
  writeFileSync(join(dir, 'plugstack.conf'), '');
  writeFileSync(join(dir, 'slurm.conf'), slurmConf({ dir, socket, ...hardware, ctldPort, slurmdPort }));
  writeFileSync(join(dir, 'munge', 'munge.key'), randomBytes(1024), { mode: 0o600 });

  const running = new Map<Daemon, Running>();
  const logTails = () =>
    [...running].map(([name, r]) => `--- ${name} (${r.log}):\n${tail(r.log, 25)}`).join('\n');
  const fail = (what: string): Error => new Error(`Slurm did not start: ${what}\n${logTails()}`);
  const start = (name: Daemon, args: string[], sweep = '') => {
    const log = join(dir, `${name}.log`);
    const fd = openSync(log, 'a');
    // detached: a process group of its own, for halt()'s last resort.
    const child = spawn('sh', ['-c', TETHER, name, sweep, name, ...args], { cwd: dir, env: sweep ? env : daemonEnv, stdio: ['pipe', fd, fd], detached: true });
    closeSync(fd);
    const exited = new Promise<number | null>((resolve) => {
      child.on('exit', (code, signal) => resolve(code ?? (signal ? 128 : null)));
      child.on('error', () => resolve(null));
    });
    running.set(name, { child, exited, log });
  };
  // Polls `ready` until it holds, failing at once when a daemon has already exited.
  const until = async (what: string, ready: () => Promise<boolean>) => {
    const end = Date.now() + START_TIMEOUT_MS;
    for (;;) {
      for (const [name, r] of running) if (!isRunning(r)) throw fail(`${name} exited (${r.child.exitCode ?? r.child.signalCode}) while waiting for ${what}`);
      if (await ready()) return;
      if (Date.now() > end) throw fail(`timed out after ${START_TIMEOUT_MS} ms waiting for ${what}`);
      await sleep(POLL_MS);
    }
  };

  const cluster: SlurmCluster = {
    dir,
    node: hardware.node,
    env,
    pids: { munged: 0, slurmctld: 0, slurmd: 0 },
    async sbatch(args, script) {
      const file = join(dir, 'jobs', `job-${Date.now()}-${randomBytes(3).toString('hex')}.sh`);
      writeFileSync(file, script, { mode: 0o755 });
      const { stdout } = await run('sbatch', ['--parsable', ...args, file], env, dir);
      // --parsable prints `jobid` or `jobid;cluster`.
      const id = Number.parseInt(stdout, 10);
      if (!Number.isInteger(id)) throw new Error(`sbatch printed no job id: ${stdout}`);
      return id;
    },
    async waitForJob(jobId, timeoutMs) {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const { stdout } = await run('scontrol', ['--oneliner', 'show', 'job', String(jobId)], env);
        const tasks = parseJobs(stdout);
        if (tasks.every((t) => t !== undefined && FINAL_STATES.has(t.state))) {
          return (tasks as JobTask[]).sort((a, b) => (a.arrayTaskId ?? 0) - (b.arrayTaskId ?? 0));
        }
        if (Date.now() > end) throw new Error(`job ${jobId} not done after ${timeoutMs} ms:\n${stdout}\n${logTails()}`);
        await sleep(POLL_MS);
      }
    },
    logTails,
    async stop() {
      if (![...running.values()].some(isRunning)) return;
      if (isRunning(running.get('slurmctld'))) {
        // Running job steps (slurmstepd) are not slurmd's children: they end only when cancelled.
        await run('scancel', [`--user=${userInfo().username}`], env).catch(() => {});
        const end = Date.now() + STOP_TIMEOUT_MS;
        while (Date.now() < end && (await run('squeue', ['--noheader', '--format=%i'], env).then((r) => r.stdout.trim() !== '', () => false))) await sleep(POLL_MS);
      }
      // The Slurm daemons first: they talk to munged until they exit.
      await Promise.all([halt(running.get('slurmd')), halt(running.get('slurmctld'))]);
      await halt(running.get('munged'));
      const stillUp = Object.entries(cluster.pids).filter(([, pid]) => pid > 0 && alive(pid));
      if (stillUp.length > 0) throw new Error(`Slurm daemons still running after stop: ${stillUp.map(([n, p]) => `${n} ${p}`).join(', ')}\n${logTails()}`);
    },
  };

  try {
    // --force: munged refuses to run as root, and a socket folder others cannot enter, without it.
    // --origin: munged otherwise resolves this host's name, which CI machines need not resolve.
    start('munged', ['--foreground', '--force', `--socket=${socket}`, `--key-file=${join(dir, 'munge', 'munge.key')}`, `--pid-file=${join(dir, 'munge', 'munged.pid')}`, `--seed-file=${join(dir, 'munge', 'munge.seed')}`, '--origin=127.0.0.1']);
    await until('munged to answer', () => run('munge', [`--socket=${socket}`, '--no-input'], env).then(() => true, () => false));
    cluster.pids.munged = readPid(join(dir, 'munge', 'munged.pid'));
    start('slurmctld', ['-D', '-f', join(dir, 'slurm.conf')]);
    await until('slurmctld to answer a ping', () => run('scontrol', ['ping'], env).then((r) => /\bUP\b/.test(r.stdout), () => false));
    start('slurmd', ['-D', '-f', join(dir, 'slurm.conf'), '-N', hardware.node], mark);
    await until(`node ${hardware.node} to register idle`, async () => {
      const { stdout } = await run('scontrol', ['--oneliner', 'show', 'node', hardware.node], env).catch(() => ({ stdout: '' }));
      const state = /\bState=(\S+)/.exec(stdout)?.[1] ?? '';
      // A node whose registration disagrees with slurm.conf is drained, for good: say why.
      if (/DRAIN|INVAL|FAIL/.test(state)) throw fail(`node ${hardware.node} is ${state}: ${/\bReason=(.*?)(?= \w+=|$)/.exec(stdout)?.[1] ?? ''}`);
      return state === 'IDLE';
    });
    cluster.pids.slurmctld = readPid(join(dir, 'slurmctld.pid'));
    cluster.pids.slurmd = readPid(join(dir, 'slurmd.pid'));
    return cluster;
  } catch (error) {
    await cluster.stop().catch(() => {});
    throw error;
  }
}

function slurmConf(c: { dir: string; socket: string; node: string; hardware: string; ctldPort: number; slurmdPort: number }): string {
  return `# Generated by test/slurm.ts: one node, everything under ${c.dir}.
ClusterName=albert-embed-test
# The address spares slurmctld and slurmd a lookup of this host's name.
SlurmctldHost=${c.node}(127.0.0.1)
SlurmctldPort=${c.ctldPort}
SlurmdPort=${c.slurmdPort}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=${c.socket}
StateSaveLocation=${c.dir}/state
SlurmdSpoolDir=${c.dir}/spool
SlurmctldPidFile=${c.dir}/slurmctld.pid
SlurmdPidFile=${c.dir}/slurmd.pid
# No log files: in the foreground (-D) the daemons log to stderr, which startSlurm writes to
# slurmctld.log and slurmd.log, with what they print before they could open a log file.
# An empty one: no SPANK plugin of this machine's /etc/slurm/plugstack.conf runs in the tests.
PlugStackConfig=${c.dir}/plugstack.conf
# No cgroups: the processes of a job are found through /proc, and tasks are not confined.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
# One CPU per task, so array tasks run side by side.
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
# A DOWN node is usable again once it registers with a valid configuration, whatever set it DOWN.
ReturnToService=2
# Debian installs no mail program; slurmctld complains at start without one.
MailProg=/bin/true
# waitForJob reads finished jobs' states from slurmctld, which forgets them MinJobAge seconds after they end.
MinJobAge=3600
# Schedule a submitted batch job at the next pass of slurmctld's one-second loop, not up to 3 s later.
SchedulerParameters=batch_sched_delay=0
NodeName=${c.node} NodeAddr=127.0.0.1 ${c.hardware} State=UNKNOWN
PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP
`;
}

/** This host as slurmd sees it (`slurmd -C`): its name and the CPUs, sockets, cores, threads and memory it registers with. */
async function nodeHardware(env: NodeJS.ProcessEnv): Promise<{ node: string; hardware: string }> {
  const { stdout } = await run('slurmd', ['-C'], env).catch((error: Error) => {
    throw new Error(`startSlurm: slurmd -C failed (install Debian's slurmd, as .ci/run does): ${error.message}`, { cause: error });
  });
  const m = /^NodeName=(\S+) (.*)$/m.exec(stdout);
  if (!m) throw new Error(`startSlurm: slurmd -C printed no NodeName line: ${stdout}`);
  return { node: m[1], hardware: m[2].trim() };
}

/** `count` distinct TCP ports free right now on every address (as slurmctld and slurmd bind them). */
async function freePorts(count: number): Promise<number[]> {
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const server = createServer();
      servers.push(server);
      await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '0.0.0.0', resolve));
    }
    return servers.map((s) => (s.address() as { port: number }).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  }
}

/** The environment with SLURM_CONF set and no Slurm variables inherited from an enclosing job or shell. */
function baseEnv(conf: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!/^(SLURM|SBATCH|SALLOC|SRUN|SQUEUE|SINFO|SCONTROL|SCANCEL)_/.test(key)) env[key] = value;
  env.SLURM_CONF = conf;
  // The daemons live in /usr/sbin, which a non-login PATH may lack.
  const path = (env.PATH ?? '').split(':');
  env.PATH = [...path, ...['/usr/sbin', '/sbin'].filter((p) => !path.includes(p))].filter(Boolean).join(':');
  return env;
}

/** scontrol --oneliner show job: one record per line; undefined for a not yet split range of pending array tasks. */
function parseJobs(stdout: string): (JobTask | undefined)[] {
  return stdout
    .split('\n')
    .filter((line) => /^JobId=/.test(line))
    .map((line) => {
      const field = (key: string) => new RegExp(`(?:^| )${key}=(\\S*)`).exec(line)?.[1];
      const task = field('ArrayTaskId');
      if (task !== undefined && !/^\d+$/.test(task)) return undefined;
      return { jobId: Number(field('JobId')), arrayTaskId: task === undefined ? undefined : Number(task), state: field('JobState') ?? '', exitCode: field('ExitCode') ?? '' };
    });
}

function isRunning(r: Running | undefined): boolean {
  return r !== undefined && r.child.exitCode === null && r.child.signalCode === null;
}

/** Closes a daemon's tether (SIGTERM) and waits for it to exit; SIGKILL to its wrapper's process group if it does not. */
async function halt(r: Running | undefined): Promise<void> {
  if (!r || !isRunning(r)) return;
  r.child.stdin?.end();
  const timer = new Promise<'late'>((resolve) => setTimeout(resolve, STOP_TIMEOUT_MS, 'late').unref());
  if ((await Promise.race([r.exited, timer])) === 'late') {
    if (r.child.pid !== undefined) process.kill(-r.child.pid, 'SIGKILL');
    await r.exited;
  }
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, cwd?: string): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { env, cwd, encoding: 'utf8', timeout: 20_000 }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${cmd} ${args.join(' ')}: ${(stderr || error.message).trim()}`, { cause: error }));
      else resolve({ stdout, stderr });
    });
  });
}

function readPid(file: string): number {
  const pid = existsSync(file) ? Number.parseInt(readFileSync(file, 'utf8'), 10) : NaN;
  if (!Number.isInteger(pid) || pid <= 0) throw new Error(`startSlurm: no pid in ${file}`);
  return pid;
}

function tail(file: string, lines: number): string {
  if (!existsSync(file)) return '(no log)';
  return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
