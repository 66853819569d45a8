// ptprof/api: CPU profiles on demand from inside a program, without the ptprof command.
//
//   const ptprof = require('ptprof/api');
//   ptprof.start();                       // timers on, every thread of the process
//   ...
//   const profile = ptprof.stop();        // timers off; the profile of that stretch
//   ptprof.writeProfile('cpu.pb.gz', profile);
//   const p = await ptprof.profileFor(10); // or: the next 10 seconds
//
// It shares the process's one recording with the agent when the agent is loaded too (`node
// --require ptprof/agent`, or under the ptprof command): each gets its own stretch. Configured by
// the same PTPROF_* variables (rate, threads, source maps), or by the options given here.
import type { Profile } from '@ptprof/sampler';
import { formatCommand, readAgentConfig, type Format } from './config';
import { samplerOptions } from './agent/main';
import { labelled } from './agent/output';
import { processRecorder, type Recording } from './agent/recorder';
import { writeProfileSync } from './write-profile';

export type { Profile };

export interface ApiOptions {
  /** Samples per second of each thread's CPU time, 1..10000 (default: PTPROF_HZ, or 100). */
  hz?: number;
}

let current: Recording | undefined;

function config(): ReturnType<typeof readAgentConfig> {
  return readAgentConfig(process.env, process.pid, process.cwd());
}

function recorder(): ReturnType<typeof processRecorder> {
  return processRecorder(() => samplerOptions(config()));
}

/** Whether start() was called and stop() not yet. */
export function isRecording(): boolean {
  return current?.isOpen ?? false;
}

/**
 * Starts recording this process's CPU (every thread). Throws if this API is recording already, or
 * when the process's sampler runs at another rate than `hz` for another recording.
 */
export function start(options: ApiOptions = {}): void {
  if (isRecording()) throw new Error('ptprof: already recording (call stop() first)');
  current = recorder().begin('ptprof/api start()', options.hz);
}

/**
 * Stops recording and returns the profile since start(): frames named through the scripts'
 * source maps (unless PTPROF_SOURCE_MAPS=0), facts about how it was made in `facts`.
 */
export function stop(): Profile {
  const rec = current;
  if (!rec?.isOpen) throw new Error('ptprof: not recording (call start() first)');
  current = undefined;
  const raw = rec.close();
  const command = formatCommand([process.argv0, ...process.execArgv, ...process.argv.slice(1)]);
  return labelled(raw, { root: true, command }, { trigger: 'api' }, config().sourceMaps !== false);
}

/** Records for `seconds` and resolves to the profile of that stretch (start(), wait, stop()). */
export async function profileFor(seconds: number, options: ApiOptions = {}): Promise<Profile> {
  if (!(seconds > 0 && seconds <= 86400)) throw new RangeError(`ptprof: profileFor(seconds): seconds must be in (0, 86400]; got ${seconds}`);
  start(options);
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  return stop();
}

/**
 * Writes a profile: gzipped pprof (for go tool pprof) by default, or folded stacks, speedscope's
 * JSON, Chrome's .cpuprofile. Atomically: a temporary file renamed over `file`.
 */
export function writeProfile(file: string, profile: Profile, format: Format = 'pprof'): void {
  writeProfileSync(file, profile, format);
}

/** The profile as gzipped pprof bytes (what `go tool pprof` and Pyroscope read). */
export function encodeProfile(profile: Profile): Buffer {
  const { encodePprof } = require('@ptprof/pprof-writer') as typeof import('@ptprof/pprof-writer');
  return encodePprof(profile);
}
