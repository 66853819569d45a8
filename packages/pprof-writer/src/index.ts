// @ptprof/pprof-writer: profile model -> pprof Profile (pprof-format) -> gzip; folded stacks;
// reading profiles back (top, per-thread totals, facts), bounded and checked. Knows nothing about
// signals or the sampler.
export type { FrameInput, SampleInput, ProfileInput, FoldedOptions } from './types';
export { toPprof, encodePprof, encodePprofAsync } from './pprof';
export { encodeProfile } from './encode';
export { writePprofFile, writePprofFileSync } from './write';
export {
  toFolded, writeFoldedFile, writeFoldedFileSync, escapeFoldedName, NO_STACK_FRAME, parseFolded, parseFoldedFrame, topOfFolded,
} from './folded';
export type { FoldedStack, FoldedProfile } from './folded';
export {
  decodePprof, topFunctions, rankTopRows, formatTop, formatValue, threadTotals, sampleThread, sampleTotal, sampleTypeIndex, stringAt, toNumber,
  gunzipBounded, isGzip, isPprofBytes, ProfileReadError, MAX_NAME_CHARS,
} from './read';
export type { TopRow, TopOptions, FormatTopOptions, ThreadTotal, SampleThread, SampleTypeName, DecodeOptions, ProfileReadErrorCode } from './read';
export { readProfileFile, validateProfile, formatBytes, DEFAULT_MAX_READ_BYTES } from './readfile';
export type { ReadProfileOptions, ProfileFile } from './readfile';
export { formatFacts, parseFacts, parseFactsLine, numberFact, stringFact } from './facts';
export type { Facts, FactValue } from './facts';
export { printable, hasControlChars } from './text';
export { writeFileAtomicSync, writeFileAtomic, tempPathFor } from './atomic';
export type { FileIdentity } from './atomic';
export { mergeProfiles, fromPprof, fromFolded, readProcesses, processFrame, parseProcessFrame, treeRootFrames, MERGE_LABELS } from './merge';
export type { MergeInput, MergeOptions, MergeResult, MergedProcess, MergeValues } from './merge';
export { Profile } from 'pprof-format';
