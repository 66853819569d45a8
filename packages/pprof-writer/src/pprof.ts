// ProfileInput -> pprof Profile (pprof-format) -> gzipped protobuf.
import * as zlib from 'node:zlib';
import { Function as PprofFunction, Label, Line, Location, Mapping, Profile, Sample, StringTable, ValueType } from 'pprof-format';
import { normalize } from './model';
import type { ProfileInput } from './types';

/**
 * Builds a pprof Profile: sample types [samples/count, cpu/nanoseconds], period type
 * cpu/nanoseconds, one mapping (id 1), one function per distinct (name, file, line), one location
 * per distinct (name, file, line, column). Identical stacks with identical labels are merged.
 * Throws a TypeError naming the field on invalid input.
 */
export function toPprof(input: ProfileInput): Profile {
  const norm = normalize(input);
  const strings = new StringTable(); // holds '' at index 0
  const str = (s: string): number => strings.dedup(s);

  const samplesType = new ValueType({ type: str('samples'), unit: str('count') });
  const cpuType = new ValueType({ type: str('cpu'), unit: str('nanoseconds') });

  const mapping = new Mapping({
    id: 1,
    filename: str(norm.mappingFile),
    hasFunctions: true,
    hasFilenames: true,
    hasLineNumbers: true,
  });

  // Location i + 1 is distinct frame i (name, file, line, column); functions are the distinct
  // (name, file, line), both numbered in order of first appearance.
  const functions: PprofFunction[] = [];
  const functionIds = new Map<string, number>();
  const locations: Location[] = norm.frames.map((f, i) => {
    const fkey = `${f.line}:${f.file.length}:${f.file}${f.name}`;
    let fid = functionIds.get(fkey);
    if (fid === undefined) {
      fid = functions.length + 1;
      functionIds.set(fkey, fid);
      const name = str(f.name);
      functions.push(new PprofFunction({ id: fid, name, systemName: name, filename: str(f.file), startLine: f.line }));
    }
    return new Location({ id: i + 1, mappingId: 1, line: [new Line({ functionId: fid, line: f.line, column: f.column })] });
  });

  const samples: Sample[] = norm.rows.map((row) => {
    const label = row.labels.map(([k, v]) =>
      typeof v === 'number' ? new Label({ key: str(k), num: v }) : new Label({ key: str(k), str: str(v) }));
    return new Sample({ locationId: row.frameIds.map((id) => id + 1), value: [row.count, Math.round(row.cpuNanos)], label });
  });

  const comment = norm.comments.map(str);
  const defaultSampleType = str('cpu');

  return new Profile({
    sampleType: [samplesType, cpuType],
    sample: samples,
    mapping: [mapping],
    location: locations,
    function: functions,
    stringTable: strings,
    timeNanos: norm.startTimeNanos,
    durationNanos: norm.durationNanos,
    periodType: new ValueType({ type: str('cpu'), unit: str('nanoseconds') }),
    period: norm.periodNanos,
    comment,
    defaultSampleType,
  });
}

// Duck-typed rather than instanceof, so that a Profile from another copy of pprof-format works too.
export function isProfile(v: ProfileInput | Profile): v is Profile {
  return typeof (v as Profile).encode === 'function' && typeof (v as Profile).stringTable === 'object';
}

/** Serialises a Profile (or builds one from ProfileInput) to gzipped protobuf bytes. */
export function encodePprof(input: ProfileInput | Profile): Buffer {
  const profile = isProfile(input) ? input : toPprof(input);
  return zlib.gzipSync(profile.encode());
}

/** As encodePprof, with the compression done off the main thread. */
export async function encodePprofAsync(input: ProfileInput | Profile): Promise<Buffer> {
  const profile = isProfile(input) ? input : toPprof(input);
  const raw = await profile.encodeAsync();
  return new Promise((resolve, reject) => {
    zlib.gzip(raw, (err, out) => (err ? reject(err) : resolve(out)));
  });
}
