// The page's data (src/page-data.ts) decoded into typed arrays. A global script: the page's
// scripts are concatenated in the order of src/html.ts PAGE_SCRIPTS and run in one function.

/** What src/page-data.ts PageData holds (the JSON in <script id="ptprof-data">). */
interface RawData {
  format: string;
  title: string;
  unit: string;
  sampleType: string;
  strings: string[];
  frames: string;
  threads: { name: string; tid?: number; process: number; kind: string; total: number }[];
  nodes: string;
  self: string;
  selections: { label: string; group: string; threads: number[] }[];
  processes: { label: string; facts: ([string, string] | [string, number, string])[]; comments: string[] }[];
  generator: string;
}

/** Same order as FRAME_KINDS in src/page-data.ts. */
const KIND_NAMES = ['js', 'node', 'native', 'v8', 'meta'];

interface Decoded {
  raw: RawData;
  nFrames: number;
  frameName: Int32Array;
  frameFile: Int32Array;
  frameLine: Int32Array;
  frameKind: Int32Array;
  nThreads: number;
  nNodes: number;
  /** -1 for a thread's root. */
  nodeParent: Int32Array;
  /** The frame; for a root, the thread. */
  nodeFrame: Int32Array;
  nodeSelf: Float64Array;
}

/** Base64 of LEB128 varints -> numbers (up to 2^53, hence multiplication rather than shifts). */
function decodeVarints(b64: string): Float64Array {
  const bin = atob(b64);
  let n = 0;
  for (let i = 0; i < bin.length; i++) if (bin.charCodeAt(i) < 128) n++;
  const out = new Float64Array(n);
  let v = 0;
  let mul = 1;
  let k = 0;
  for (let i = 0; i < bin.length; i++) {
    const c = bin.charCodeAt(i);
    v += (c & 127) * mul;
    if (c < 128) {
      out[k++] = v;
      v = 0;
      mul = 1;
    } else {
      mul *= 128;
    }
  }
  return out;
}

function decodeData(raw: RawData): Decoded {
  if (raw.format !== 'ptprof-view 1') throw new Error(`this page's data is in format '${raw.format}', not 'ptprof-view 1'`);
  const f = decodeVarints(raw.frames);
  const nFrames = f.length / 4;
  const frameName = new Int32Array(nFrames);
  const frameFile = new Int32Array(nFrames);
  const frameLine = new Int32Array(nFrames);
  const frameKind = new Int32Array(nFrames);
  for (let i = 0; i < nFrames; i++) {
    frameName[i] = f[4 * i];
    frameFile[i] = f[4 * i + 1];
    frameLine[i] = f[4 * i + 2];
    frameKind[i] = f[4 * i + 3];
  }
  const nd = decodeVarints(raw.nodes);
  const nNodes = nd.length / 2;
  const nodeParent = new Int32Array(nNodes);
  const nodeFrame = new Int32Array(nNodes);
  for (let i = 0; i < nNodes; i++) {
    const back = nd[2 * i];
    nodeParent[i] = back === 0 ? -1 : i - back;
    nodeFrame[i] = nd[2 * i + 1];
  }
  const nodeSelf = decodeVarints(raw.self);
  if (nodeSelf.length !== nNodes) throw new Error(`the page's data is damaged: ${nNodes} nodes, ${nodeSelf.length} values`);
  return { raw, nFrames, frameName, frameFile, frameLine, frameKind, nThreads: raw.threads.length, nNodes, nodeParent, nodeFrame, nodeSelf };
}
