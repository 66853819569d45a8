// Profile facts: named numbers and strings about how a profile was made (its rate, the OS's CPU
// count, drop counters, the command line), written into pprof's comments as `key=value` pairs so
// that `go tool pprof` shows them, and parsed back by whoever reads the file. One writer and one
// reader, so that nobody matches comments with regexes of their own. What the facts mean is the
// producer's business; this module only formats and parses them.
//
//   hz=100 period_nanos=10000000 mode=all
//   cmd="node /app/server.js --port 8080"
//
// A key is [A-Za-z_][A-Za-z0-9_.]*. A value is written bare when that reads back the same (a
// finite number, true/false, or a string without spaces, quotes, '=' or control characters that
// does not look like a number or a boolean), else as a JSON string literal. A comment line is a
// facts line only when it is made of such pairs and nothing else: free-form comments are left alone.

export type FactValue = string | number | boolean;
export type Facts = Record<string, FactValue>;

const KEY = /^[A-Za-z_][A-Za-z0-9_.]*$/;
const BARE = /^[^\s"'=\\\u0000-\u001f\u007f-\u009f]+$/;
const NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;
const LINE_WIDTH = 100;

function formatValue(key: string, v: FactValue): string {
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new TypeError(`pprof-writer: fact ${key} must be a finite number, got ${v}`);
    return String(v);
  }
  if (typeof v === 'boolean') return String(v);
  if (typeof v !== 'string') throw new TypeError(`pprof-writer: fact ${key} must be a string, a number or a boolean`);
  return BARE.test(v) && !NUMBER.test(v) && v !== 'true' && v !== 'false' ? v : JSON.stringify(v);
}

/**
 * The comment lines for `facts`, in their order: pairs joined by one space, a new line when one
 * would pass 100 characters. Throws a TypeError for a bad key or value.
 */
export function formatFacts(facts: Facts): string[] {
  const lines: string[] = [];
  let line = '';
  for (const [k, v] of Object.entries(facts)) {
    if (!KEY.test(k)) throw new TypeError(`pprof-writer: fact name ${JSON.stringify(k)} must match ${KEY.source}`);
    const pair = `${k}=${formatValue(k, v)}`;
    if (line && line.length + 1 + pair.length > LINE_WIDTH) {
      lines.push(line);
      line = pair;
    } else {
      line = line ? `${line} ${pair}` : pair;
    }
  }
  if (line) lines.push(line);
  return lines;
}

const PAIR = /([A-Za-z_][A-Za-z0-9_.]*)=("(?:[^"\\\u0000-\u001f]|\\.)*"|[^\s"]+)(?: |$)/y;

/** The facts of one comment line, or undefined when the line is not a facts line. */
export function parseFactsLine(line: string): Facts | undefined {
  if (line === '') return undefined;
  const out = Object.create(null) as Facts; // a key named __proto__ stays a key
  PAIR.lastIndex = 0;
  let at = 0;
  while (at < line.length) {
    PAIR.lastIndex = at;
    const m = PAIR.exec(line);
    if (!m) return undefined;
    const raw = m[2];
    let v: FactValue;
    if (raw.startsWith('"')) {
      try {
        v = JSON.parse(raw) as string;
      } catch {
        return undefined;
      }
    } else if (NUMBER.test(raw)) v = Number(raw);
    else if (raw === 'true' || raw === 'false') v = raw === 'true';
    else v = raw;
    out[m[1]] = v;
    at = PAIR.lastIndex;
    if (m[0].endsWith(' ') && at === line.length) return undefined; // a trailing space: not ours
  }
  return out;
}

/** Every fact in these comments (later lines win over earlier ones for the same key). */
export function parseFacts(comments: readonly string[]): Facts {
  const out = Object.create(null) as Facts;
  for (const c of comments) Object.assign(out, parseFactsLine(c) ?? {});
  return out;
}

/** A number fact, or undefined when it is absent or not a number. */
export function numberFact(facts: Facts, key: string): number | undefined {
  const v = facts[key];
  return typeof v === 'number' ? v : undefined;
}

/** A string fact, or undefined when it is absent or not a string. */
export function stringFact(facts: Facts, key: string): string | undefined {
  const v = facts[key];
  return typeof v === 'string' ? v : undefined;
}
