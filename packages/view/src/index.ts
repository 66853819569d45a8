// @ptprof/view: a profile (pprof or folded) -> one self-contained HTML page; and the same profile
// as speedscope JSON and Chrome .cpuprofile files. Reads with @ptprof/pprof-writer; no native code.
export { readProfiles, addProfileFile, addPprof, addFolded, viewOfPprof, valueIndex, ProfileFileError } from './read';
export type { ProfileSource } from './read';
export { ViewBuilder, threadKind, isJsThread } from './model';
export type { ViewProfile, ViewFrame, ViewThread, ViewStack, ViewProcess, ThreadKind, ValueUnit } from './model';
export { pageData, selections, processFacts, threadOrder, frameKind, FRAME_KINDS } from './page-data';
export type { PageData, PageThread, PageProcess, Selection, FrameKind, Fact } from './page-data';
export { renderHtml, pageAssets, scriptJson, PAGE_SCRIPTS } from './html';
export { toSpeedscope, threadNames } from './speedscope';
export type { SpeedscopeFile } from './speedscope';
export { toCpuprofiles } from './cpuprofile';
export type { CpuProfile, CpuProfileNode } from './cpuprofile';
export { outputFiles, writeOutputFiles, outputNextTo, withTag, OUTPUT_FORMATS, EXTENSIONS } from './convert';
export type { OutputFormat, OutputFile, OutputOptions } from './convert';
export { encodeVarints, VarintWriter } from './varint';
export { VERSION } from './version';
