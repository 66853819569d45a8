// A fake @ptprof/timers-native binding that records every call, for lifecycle tests.
import { binding as realBinding, type Binding, type RawDrain } from '@ptprof/timers-native';

export interface Call {
  fn: string;
  args: unknown[];
}

export class FakeBackend {
  calls: Call[] = [];
  nextId = 1;
  /** timer id -> { tid, armed first/period, deleted } */
  timers = new Map<number, { tid: number; first: number; period: number; deleted: boolean }>();
  valid = new Map<number, boolean>();
  known = new Map<number, { js: boolean; name: string }>();
  period = 0;
  itimer = 0;
  enabled = false;
  failCreateFor = new Set<number>();
  /** tids with a live timer */
  live = new Set<number>();
  /** tids whose thread has exited: their timers read 0/0, as the kernel's do */
  exited = new Set<number>();
  /** What the next drains return, in order (then empty ones). */
  drains: RawDrain[] = [];

  private log(fn: string, ...args: unknown[]): void {
    this.calls.push({ fn, args });
  }

  binding(): Binding {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the fake binding's functions read the backend's state
    const self = this;
    const emptyDrain = (): RawDrain => ({
      count: 0,
      ints: new Int32Array(0),
      nums: new Float64Array(0),
      frames: new Float64Array(0),
      events: new Float64Array(0),
      inline: new Float64Array(0),
      nameText: new Uint8Array(0),
      threads: [],
      counters: { signals: 0, handlerNs: 0, foreign: 0, disabled: 0, ringDrops: 0, sharedDrops: 0, codeDrops: 0, filteredSetitimer: 0, filteredTimer: 0, itimerSuspensions: 0, sigprofReinstalls: 0, collectorError: 0,
        inlineTables: 0, inlineFailures: 0, inlineSkipped: 0, inlineNs: 0 },
    });
    return {
      installHandler: () => (self.log('installHandler'), 'default'),
      currentHandler: () => 'ptprof',
      guardSigprof: () => self.log('guardSigprof'),
      yieldSigprof: (y) => self.log('yieldSigprof', y),
      signalInfo: () => ({ timerSignal: 40, timerSignalName: 'SIGRTMIN+6', sigprof: 'ptprof', itimerArmed: self.itimer > 0,
        itimerPeriodNs: self.itimer, itimerSuspensions: 0, sigprofReinstalls: 0, sigprofYielded: false }),
      layout: realBinding.layout,
      inlineStatus: () => ({ enabled: true, reason: '' }),
      register(opts) {
        self.log('register', opts);
        self.known.set(1000, { js: true, name: opts?.name ?? '' });
        return { tid: 1000, isolateId: 1, slot: 0 };
      },
      unregister: () => true,
      claimThread(tid) {
        self.log('claimThread', tid);
        if (!self.known.has(tid)) self.known.set(tid, { js: false, name: '' });
        return 1;
      },
      releaseThread(tid) {
        self.log('releaseThread', tid);
        return self.known.delete(tid);
      },
      setTimerValid(tid, v) {
        self.log('setTimerValid', tid, v);
        self.valid.set(tid, v);
        return true;
      },
      timerCreate(tid, exclusive, tag) {
        self.log('timerCreate', tid, exclusive, tag);
        if (self.failCreateFor.has(tid)) throw Object.assign(new Error(`timer_create(tid=${tid}): ESRCH`), { code: 'ESRCH' });
        if (exclusive && self.live.has(tid)) return -1;
        self.live.add(tid);
        const id = self.nextId++;
        self.timers.set(id, { tid, first: 0, period: 0, deleted: false });
        return id;
      },
      timerSettime(id, first, period) {
        self.log('timerSettime', id, first, period);
        const t = self.timers.get(id);
        if (!t || t.deleted) throw new Error(`timer_settime(id=${id}): EINVAL`);
        t.first = first;
        t.period = period;
      },
      timerDelete(id) {
        self.log('timerDelete', id);
        const t = self.timers.get(id);
        if (!t || t.deleted) throw new Error(`timer_delete(id=${id}): EINVAL`);
        t.deleted = true;
        self.live.delete(t.tid);
      },
      timerGetoverrun: () => 0,
      timerCount: () => [...self.timers.values()].filter((t) => !t.deleted).length,
      setitimer(ns) {
        self.log('setitimer', ns);
        self.itimer = ns;
      },
      getitimer: () => ({ valueNs: self.itimer, intervalNs: self.itimer }),
      gettid: () => 1000,
      threadCpuNs: () => 0,
      processCpuNs: () => 0,
      monotonicNs: () => Number(process.hrtime.bigint()),
      setEnabled(on) {
        self.log('setEnabled', on);
        self.enabled = on;
        return { collector: true, collectorError: '' };
      },
      configure: (o) => self.log('configure', o),
      demangle: (names) => names,
      elfFunctions: (p) => realBinding.elfFunctions(p),
      threads: () => [...self.known].map(([tid, k], slot) => ({ tid, slot, isolateId: k.js ? 1 : 0, js: k.js, name: k.name, timerValid: !!self.valid.get(tid), registerCpuNs: 0 })),
      timers: () => [...self.timers].filter(([, t]) => !t.deleted).map(([id, t]) => ({ id, tid: t.tid, valueNs: self.exited.has(t.tid) ? 0 : t.first, intervalNs: self.exited.has(t.tid) ? 0 : t.period })),
      setSamplingPeriod(ns) {
        self.log('setSamplingPeriod', ns);
        self.period = ns;
      },
      samplingPeriod: () => self.period,
      sharedPending: () => 0,
      signalCount: () => 0,
      drain: () => (self.log('drain'), self.drains.shift() ?? emptyDrain()),
    };
  }

  /** Index of the first call matching fn (and tid as first arg, if given) after `from`. */
  indexOf(fn: string, arg0?: unknown, from = 0): number {
    for (let i = from; i < this.calls.length; i++) {
      const c = this.calls[i];
      if (c.fn === fn && (arg0 === undefined || c.args[0] === arg0)) return i;
    }
    return -1;
  }
}
