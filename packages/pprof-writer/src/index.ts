// @ptprof/pprof-writer: profile model -> pprof Profile (pprof-format) -> gzip; folded stacks;
// reading profiles back (top, per-thread totals). Knows nothing about signals or the sampler.
export type { FrameInput, SampleInput, ProfileInput, FoldedOptions } from './types';
export { toPprof, encodePprof, encodePprofAsync } from './pprof';
export { writePprofFile, writePprofFileSync } from './write';
export { toFolded, writeFoldedFile, writeFoldedFileSync, escapeFoldedName, NO_STACK_FRAME } from './folded';
export {
  decodePprof, topFunctions, rankTopRows, formatTop, formatValue, threadTotals, sampleTotal, sampleTypeIndex, stringAt, toNumber,
} from './read';
export type { TopRow, TopOptions, FormatTopOptions, ThreadTotal, SampleTypeName } from './read';
export { parseFolded, parseFoldedFrame, isPprofBytes } from './read-folded';
export { writeFileAtomicSync } from './atomic';
export type { FoldedStack, FoldedProfile } from './read-folded';
export { Profile } from 'pprof-format';
