// The input model of @ptprof/pprof-writer. It is this package's own: it knows nothing about
// signals, timers or V8; whoever samples produces rows of this shape (see README.md).

/** One stack frame. `line`/`column` are 1-based; absent or 0 means unknown. */
export interface FrameInput {
  /** Function name; '' is written as '(anonymous)'. */
  name: string;
  /** Script path or URL; absent or '' means unknown. */
  file?: string;
  /**
   * The line this frame was executing (pprof `Line.line`), or the function's own first line when
   * the executing line is not known (V8's code events give only that).
   */
  line?: number;
  column?: number;
  /** The function's first line (pprof `Function.start_line`); default `line`. */
  startLine?: number;
  /**
   * The function's first column, when `line`/`column` are the executing position. pprof has no
   * field for it, so it is checked and not written; it is for whoever maps the frame before it is
   * written (@ptprof/sourcemaps finds a function's start on a minified line by it).
   */
  startColumn?: number;
  /**
   * The function's name as the runtime knows it, when `name` is another one (e.g. the bundle's
   * `app2` for a source-mapped `renderTable`): pprof `Function.system_name`. Default `name`.
   */
  systemName?: string;
  /**
   * The compiler inlined this frame into the next one (its caller, frames[i + 1]): both ran at the
   * same machine address, so they share one pprof Location, innermost Line first, as the Go runtime
   * writes inlined calls. `go tool pprof` then shows both functions, and `-addresses`-style views
   * keep them together.
   */
  inlined?: boolean;
}

/** One row of the profile: a stack, how many samples it stands for, and its labels. */
export interface SampleInput {
  /**
   * Leaf first: frames[0] is where the CPU was. An empty array is a sample without a stack; it is
   * written with the single frame '(no stack)' (go tool pprof hides stackless samples in -raw/-tags).
   */
  frames: FrameInput[];
  /** Number of samples (signals) this row stands for; a non-negative integer. */
  count: number;
  /** CPU time this row stands for, in nanoseconds; non-negative, rounded to whole ns when written. */
  cpuNanos: number;
  /**
   * e.g. `{ thread_id: 1234, thread_name: 'main' }`. Numbers (integers) become pprof numeric
   * labels (`num`), strings become string labels (`str`). A label whose value is '' is left out
   * (pprof cannot tell it from the number 0).
   */
  labels?: Record<string, string | number>;
}

export interface ProfileInput {
  samples: SampleInput[];
  /** CPU nanoseconds of one sample period (1e9 / hz); > 0. */
  periodNanos: number;
  /** Wall-clock start of the profile, ns since the epoch. */
  startTimeNanos?: bigint | number;
  /** Wall-clock duration of the profile, ns. */
  durationNanos?: number;
  /**
   * Named facts about the profile (`{ hz: 100, mode: 'all', dropped: 0 }`), written as the first
   * comments in `key=value` form (see facts.ts) and read back with parseFacts.
   */
  facts?: Record<string, string | number | boolean>;
  /** Free-form comments, written after the facts. */
  comments?: string[];
  /** Main binary path for the single mapping; default `process.execPath`. */
  mappingFile?: string;
}

/** Options of `toFolded` / `writeFoldedFile`. */
export interface FoldedOptions {
  /** Which number ends each line: the sample count (default) or CPU nanoseconds. */
  value?: 'samples' | 'cpu';
  /**
   * When set, the value of this label (e.g. 'thread_name') becomes an extra root frame written
   * `[value]`, so that each thread gets its own tower in a flame graph. Rows without the label
   * get `[?]`.
   */
  rootLabel?: string;
  /**
   * More general than rootLabel (which it replaces when both are given): the root frames of a
   * row, outermost first, from its labels; each is written `[text]`. A merged profile of a process
   * tree writes its process, then its thread (merge.ts's treeRootFrames).
   */
  rootFrames?: (labels: Readonly<Record<string, string | number>>) => readonly string[];
}
