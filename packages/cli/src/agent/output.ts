// What every recording of the agent becomes: the profile named through its scripts' source maps,
// with who made it and why, written in the format asked for, and the numbers the CLI's summary
// prints about it.
import type { FileIdentity } from '@ptprof/pprof-writer';
import type { Profile, ProfileFacts } from '@ptprof/sampler';
import type { AgentReport, Format } from '../config';
import { withSourceMaps } from '../sourcemaps';
import { VERSION } from '../version';
import { writeProfileSync } from '../write-profile';

/** Who writes: the process, where it stands in the run, its command line. */
export interface Who {
  root: boolean;
  command: string;
  /** The short command line (process-name.ts): the `process` label of a merged profile. */
  name?: string;
}

/**
 * The profile as it is handed on: frames named through their source maps once, here, before any
 * writer runs (every format gets the same frames, and the source_maps facts say what was and was
 * not mapped); then who wrote it and `facts` (how the process ended, which window...), the
 * sampler's own facts, and the command line last (it is long). pprof-writer writes them as the
 * profile's comments (facts.ts).
 */
export function labelled(raw: Profile, who: Who, facts: ProfileFacts, sourceMaps: boolean): Profile {
  const profile = withSourceMaps(raw, sourceMaps);
  profile.facts = {
    ptprof: VERSION, pid: process.pid, ppid: process.ppid, process: who.root ? 'root' : 'descendant',
    ...facts, ...profile.facts, ...(who.name !== undefined ? { process_name: who.name } : {}), cmd: who.command,
  };
  return profile;
}

export type ReportNumbers = Pick<AgentReport, 'hz' | 'mode' | 'durationNanos' | 'profiledNanos' | 'osCpuNanos' | 'samples' | 'threads' | 'facts'>;

/** What the summary says of a profile. */
export function reportNumbers(profile: Profile): ReportNumbers {
  let profiledNanos = 0;
  let samples = 0;
  for (const s of profile.samples) {
    profiledNanos += s.cpuNanos;
    samples += s.count;
  }
  return {
    hz: profile.hz,
    mode: profile.mode,
    durationNanos: profile.durationNanos,
    profiledNanos,
    // The OS's count for the process over the same interval (CLOCK_PROCESS_CPUTIME_ID).
    osCpuNanos: profile.processCpuNanos,
    samples,
    threads: profile.threads.map((t) => ({ name: t.name, js: t.js, cpuNanos: t.cpuNanos })),
    facts: profile.facts,
  };
}

export interface Written {
  files: string[];
  written: FileIdentity;
  numbers: ReportNumbers;
}

/** Writes `profile` to `file` (several files for cpuprofile). Throws with the reason. */
export function writeOut(file: string, profile: Profile, format: Format): Written {
  const { files, written } = writeProfileSync(file, profile, format);
  return { files, written, numbers: reportNumbers(profile) };
}
