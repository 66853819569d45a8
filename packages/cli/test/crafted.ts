// Crafted pprof files, made with pprof-format the way a hostile or broken producer would: names
// with terminal escapes, numbers no CPU profile has, indices past the string table.
import { Function as PFunction, Label, Line, Location, Profile, Sample, StringTable, ValueType } from 'pprof-format';

export interface CraftOptions {
  /** Function names (one location each; sample i has function i as its leaf). */
  names?: string[];
  /** CPU value of each sample (ns). */
  cpu?: (number | bigint)[];
  comments?: string[];
  thread?: string;
  /** Last word: change anything in the decoded shape before it is encoded. */
  edit?: (p: Profile, str: (s: string) => number) => void;
}

/** An encoded (not gzipped) pprof profile with samples/count and cpu/nanoseconds. */
export function craftPprof(o: CraftOptions = {}): Uint8Array {
  const st = new StringTable();
  const str = (s: string): number => st.dedup(s);
  const names = o.names ?? ['hot'];
  const cpu = o.cpu ?? names.map(() => 10_000_000);
  const p = new Profile({
    sampleType: [new ValueType({ type: str('samples'), unit: str('count') }), new ValueType({ type: str('cpu'), unit: str('nanoseconds') })],
    stringTable: st,
    function: names.map((n, i) => new PFunction({ id: i + 1, name: str(n), systemName: str(n), filename: str('/app/x.js') })),
    location: names.map((_, i) => new Location({ id: i + 1, line: [new Line({ functionId: i + 1 })] })),
    sample: names.map((_, i) => new Sample({
      locationId: [i + 1],
      value: [1, cpu[i] ?? 0],
      label: [new Label({ key: str('thread_name'), str: str(o.thread ?? 'main') }), new Label({ key: str('thread_kind'), str: str('js') })],
    })),
    comment: (o.comments ?? []).map(str),
    durationNanos: 1_000_000_000,
  });
  o.edit?.(p, str);
  return p.encode();
}
