// The agent on a process's main thread (agent.ts loads it there, and only there): it records the
// run and writes it, or hands it to the CLI in parts, as agent/main.ts says.
import { cpuSinceLoadNs } from './clock'; // first: what the agent's own loading costs is counted
import { ENV, formatCommand, isOnDemand, processStartTime, readAgentConfig, withPid, type AgentConfig } from '../config';
import { MainAgent } from './main';
import { readTreeConfig } from '../part';
import { shortCommand } from '../process-name';
import { notProfiling, warn, writeStart } from './report';
import * as fs from 'node:fs';

export { VERSION } from '../version';

export function startMain(handle: { cancel: () => void }): void {
  // The first Node process to load the agent writes the plain name and marks its environment, so
  // that every Node process started below it (which inherits the mark) inserts its own pid.
  const mark = process.env[ENV.rootPid];
  const root = !mark || mark === String(process.pid);
  if (!mark) process.env[ENV.rootPid] = String(process.pid);
  const command = formatCommand([process.argv0, ...process.execArgv, ...process.argv.slice(1)]);
  const reportDir = process.env[ENV.reportDir] || undefined;
  const startTime = processStartTime('self');
  const who = { pid: process.pid, ppid: process.ppid, root, command, ...(startTime !== undefined ? { startTime } : {}) };

  let cfg: AgentConfig;
  let file: string;
  let tree: ReturnType<typeof readTreeConfig>;
  try {
    cfg = readAgentConfig(process.env, process.pid, process.cwd());
    // Under the CLI (unless --split, or on demand) the process hands its whole-run profile over in
    // parts (handoff.ts) and writes no file of its own.
    tree = isOnDemand(cfg) ? undefined : readTreeConfig(process.env, reportDir);
    file = tree ? '' : root ? cfg.output : withPid(cfg.output, process.pid);
  } catch (err) {
    notProfiling(err, reportDir, { ...who, file: '' });
    return;
  }
  // The mark says to the CLI that this process may be sent the window signal (--signal): only
  // once its listener is there (the signal's default action would end the process).
  let startMark = reportDir && !cfg.signal ? writeStart(reportDir, { ...who, file }) : undefined;
  const name = shortCommand(process.argv0, process.execArgv, process.argv, process.cwd());
  const agent = new MainAgent(cfg, { ...who, file, name }, reportDir, tree);
  try {
    const sampling = require('@ptprof/sampler') as typeof import('@ptprof/sampler');
    if (sampling.replacementAddon) warn(`process ${process.pid}: loaded a replacement addon (PTPROF_ADDON_PATH=${sampling.replacementAddon})`);
    agent.start();
    agent.startCost(cpuSinceLoadNs());
    // (The sampler's drain timer never throws into the program: it counts and reports its errors.)
  } catch (err) {
    agent.cancel();
    notProfiling(err, reportDir, { ...who, file });
    return;
  }
  if (reportDir && cfg.signal) startMark = writeStart(reportDir, { ...who, file });
  handle.cancel = () => {
    agent.cancel();
    if (startMark) fs.rmSync(startMark, { force: true });
  };
}
