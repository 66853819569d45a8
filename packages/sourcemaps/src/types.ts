// The model @ptprof/sourcemaps reads and writes: @ptprof/pprof-writer's ProfileInput (its frames
// and facts; the sampler's Profile has the same shape), of which only the types are imported.
import type { Facts, FrameInput } from '@ptprof/pprof-writer';

/**
 * A frame as pprof-writer takes it. A frame is mapped when its `file` is an absolute path or a
 * file: URL and its `line` is known (other frames are left alone). `line`/`column` are the
 * function's start (V8's code events) unless `startLine` is given, and then the executing position;
 * `startColumn` places the function's start on its line (without it, the first mapping of
 * `startLine`: exact for unbundled code, approximate for minified code with many functions on one line).
 */
export type MappableFrame = FrameInput;

export interface MappableSample {
  /** Leaf first. */
  frames: readonly MappableFrame[];
}

export interface MappableProfile {
  samples: readonly MappableSample[];
  /** Named facts about the profile (pprof-writer writes them as key=value comments); the stats are added here. */
  facts?: Readonly<Facts>;
}

/** What Node's `module.findSourceMap(path)` returns (the parts this package reads). */
export interface NodeSourceMap {
  payload: unknown;
  /** The generated code's line lengths (Node >= 20): tells whether the file on disk is what ran. */
  lineLengths?: readonly number[];
}

export interface SourceMapOptions {
  /** false: map nothing (the profile gets the fact `source_maps.enabled=false`). Default true. */
  enabled?: boolean;
  /** Original files under this directory are written relative to it. Default process.cwd(). */
  cwd?: string;
  /**
   * The source maps the running process holds (Node's cache, filled when the program enabled source
   * maps: --enable-source-maps, process.setSourceMapsEnabled, module.setSourceMapsSupport, or a
   * loader such as tsx). Default: `module.findSourceMap` of this process; null: not asked.
   */
  findSourceMap?: ((file: string) => NodeSourceMap | undefined) | null;
  /** A map file larger than this is not read (counted as unreadable). Default 128 MiB. */
  maxMapBytes?: number;
  /** Add the stats to the profile's facts (the `source_maps.*` group, see statsFacts). Default true. */
  facts?: boolean;
  /**
   * Scripts whose frames are left as they ran, their maps not read nor counted: a tool's own code
   * (ptprof's agent passes its own compiled files, whose frames sit under the (ptprof) root).
   */
  skipScript?: (script: string) => boolean;
}

/**
 * Why a script's declared map was not used: the file is missing, cannot be read (or is larger than
 * maxMapBytes, or a data: URL that does not decode), is not JSON, is not a version 3 source map
 * (or a URL this package does not fetch), or points outside its sources (a source index it does
 * not list, or a line past the end of the source).
 */
export type FailureKind = 'missing' | 'unreadable' | 'invalid_json' | 'unsupported' | 'outside';

export const FAILURE_KINDS: readonly FailureKind[] = ['missing', 'unreadable', 'invalid_json', 'unsupported', 'outside'];

export interface SourceMapFailure {
  kind: FailureKind;
  /** The script, as displayed (relative to cwd when under it). */
  script: string;
  /** Where its map was looked for: a path, or 'inline' for a data: URL. */
  map: string;
  /** One line: the error code or message. */
  reason: string;
}

export interface SourceMapStats {
  enabled: boolean;
  /** Scripts of the profile whose map named at least one frame. */
  scripts: number;
  /** Distinct frames (function positions) named from a map. */
  mappedFrames: number;
  /** Distinct frames of scripts with a usable map at positions that map does not cover. */
  unmappedFrames: number;
  /** One per script whose map could not be used (in full or, for 'outside', in part). */
  failed: SourceMapFailure[];
  /** Bytes of map JSON read and parsed. */
  mapBytes: number;
  /** Wall time spent mapping, ms. */
  ms: number;
}
