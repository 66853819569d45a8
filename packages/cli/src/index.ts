// ptprof as a library: the CLI's entry point and the pieces it is made of.
export { main, AGENT_PATH, EXIT_USAGE, checkOutput, checkScript, childEnv } from './cli';
export { parseArgs, UsageError, USAGE, isNodeCommand, nodeScript } from './args';
export type { Command, RunCommand, TopCommand } from './args';
export {
  ENV, DEFAULT_HZ, MIN_HZ, MAX_HZ, defaultOutput, withPid, splitExt, outputPattern, quoteNodeOption, nodeOptionsWithAgent,
  readAgentConfig, formatCommand, FORMATS,
} from './config';
export type { AgentConfig, AgentReport, Format, ThreadsMode } from './config';
export { topOfFile, topOfFolded, topReport, formatThreads, commentNumbers } from './summary';
export { VERSION } from './version';
export { parseCommandLine, VIEW_USAGE, CONVERT_USAGE } from './view-args';
export type { ViewCommand, ConvertCommand } from './view-args';
