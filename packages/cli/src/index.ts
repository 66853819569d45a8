// ptprof as a library: the CLI's entry point and the pieces it is made of.
export {
  main, AGENT_PATH, EXIT_USAGE, EXIT_NO_PROFILE, checkOutput, checkScript, checkEnvironment, childEnv, resolveOutput, standDownAgent,
} from './cli';
export { parseArgs, UsageError, USAGE, isNodeCommand, nodeScript } from './args';
export type { Command, RunCommand, TopCommand } from './args';
export {
  ENV, TUNING_ENV, SIGNALS, DEFAULT_HZ, MIN_HZ, MAX_HZ, defaultOutput, withPid, splitExt, outputPattern, quoteNodeOption,
  nodeOptionsWithAgent, readAgentConfig, formatCommand, FORMATS,
} from './config';
export type { AgentConfig, AgentReport, AgentStart, Format, ThreadsMode } from './config';
export { topOfFile, topReport, formatThreads, readReports } from './summary';
export type { RunReports, WrittenProfile } from './summary';
/** Folded stacks are read by @ptprof/pprof-writer (re-exported here for the library's users). */
export { topOfFolded } from '@ptprof/pprof-writer';
export { VERSION } from './version';
export { parseCommandLine, VIEW_USAGE, CONVERT_USAGE } from './view-args';
export type { ViewCommand, ConvertCommand } from './view-args';
/** A process tree's profile: the parts its processes hand over, merged (profile() is the tree so far). */
export { TreeCollector } from './tree';
export type { TreeProcess } from './tree';
export { parseMerge, runMerge, MERGE_USAGE } from './merge-cmd';
export type { MergeCommand } from './merge-cmd';
