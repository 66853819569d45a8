// Stop signals for a JS thread that may never return to its event loop: @ptprof/timers-native's
// control (its src/control.cc) with signal names. Mechanism only: which signals are taken and what
// is done when one comes are the caller's (the ptprof agent). See timers-native's README.
import * as os from 'node:os';
import { binding as nativeBinding, type ControlBinding, type ControlInfo } from '@ptprof/timers-native';

export type { ControlInfo };

/**
 * Called with the signal, on the main thread: from its event loop (fromInterrupt false), or, when
 * the loop has not turned for graceMs, at an interrupt check of the JavaScript that is running
 * (fromInterrupt true). At an interrupt it must touch only its own state and never return into
 * the interrupted code (end the process), or return false at once: the event loop then delivers
 * the signal when it turns. Returns whether it handled the signal.
 */
export type ControlHandler = (signal: NodeJS.Signals, fromInterrupt: boolean) => boolean;

const NAMES = new Map<number, NodeJS.Signals>();
for (const [name, n] of Object.entries(os.constants.signals)) if (!NAMES.has(n)) NAMES.set(n, name as NodeJS.Signals);

function signalNumber(sig: NodeJS.Signals): number {
  const n = (os.constants.signals as Record<string, number | undefined>)[sig];
  if (!n) throw new Error(`ptprof: unknown signal ${sig}`);
  return n;
}

export class SignalControl {
  constructor(private readonly native: ControlBinding) {}

  /**
   * Takes sig if its action is SIG_DFL, the default recorded before, or (isDefault: the caller
   * knows the program has not taken it) whatever is there now, which becomes the default put back
   * on release. Whether ptprof's handler is on sig now.
   */
  take(sig: NodeJS.Signals, isDefault: boolean): boolean {
    return this.native.controlTake(signalNumber(sig), isDefault);
  }

  release(sig: NodeJS.Signals): void {
    this.native.controlRelease(signalNumber(sig));
  }

  /** sig's default action back, and sig raised on this thread: returns only if the process survived. */
  raise(sig: NodeJS.Signals): void {
    this.native.controlRaise(signalNumber(sig));
  }

  /**
   * How long a signal waits for the event loop before it is delivered at an interrupt (0: never),
   * and before its default action is taken without the handler (0: never).
   */
  arm(graceMs: number, deadlineMs: number): void {
    this.native.controlArm({ graceMs, deadlineMs });
  }

  info(): ControlInfo {
    return this.native.controlInfo();
  }
}

let started: SignalControl | undefined;

/** The process's signal control, delivering to `handler` (on the calling thread, the main thread). Once per process. */
export function startSignalControl(handler: ControlHandler, native: ControlBinding = nativeBinding): SignalControl {
  if (started) throw new Error('ptprof: signal control is already started in this process');
  native.controlStart((signo, fromInterrupt) => {
    const sig = NAMES.get(signo);
    return sig !== undefined && handler(sig, fromInterrupt);
  });
  started = new SignalControl(native);
  return started;
}
