// The stop signals (SIGINT, SIGTERM, SIGHUP): when the program does not listen to one, the agent
// writes the profile and the process ends by that signal (exit status 128 + N), as it would have
// without ptprof, only with its profile. This must hold when the program's JavaScript never
// returns to its event loop (a loop, Atomics.wait), where no JS signal listener can ever run: so
// the signal is taken by the addon's control (timers-native's src/control.cc), which delivers it
// from the event loop when the loop turns, and otherwise, after GRACE_MS, at the next interrupt
// check of the running JavaScript. A program that listens to the signal decides for itself: while
// it listens, Node's handler (libuv's) owns the signal, not ours; when its last listener goes,
// the signal is taken again.
import { SIGNALS } from '../config';
import { message, warn } from './report';
import type { SignalControl } from '@ptprof/sampler';

/** How long a stop signal waits for the event loop before it is delivered at an interrupt. */
export const GRACE_MS = 100;
/**
 * How long it waits for the JS thread at all: past it (a native call or a system call that does
 * not return, where no interrupt check runs), the process ends by the signal without its profile
 * (and says so), as it would have without ptprof, rather than not at all.
 */
export const DEADLINE_MS = 2000;

export interface StopHooks {
  /** Writes everything the process owes before it ends (idempotent). */
  finish(end: string): void;
  /** The agent's own code is what runs now (then it is not re-entered at an interrupt). */
  busy(): boolean;
}

export interface StopSignals {
  /** The agent is writing for another reason (the process exits): a signal now waits for it. */
  pause(): void;
  /** Gives the signals back to the program (the ptprof command itself stands the agent down). */
  cancel(): void;
}

/**
 * Listeners that signal-exit (v3 and v4, used by execa, nyc, ink...) put on each signal: it kills
 * the process only when its listeners are the only ones, so the agent's own listener (the
 * fallback below) must not make it believe the program handles the signal, nor the other way.
 */
function signalExitListeners(): number {
  let n = 0;
  const v4 = (globalThis as Record<symbol, unknown>)[Symbol.for('signal-exit emitter')] as { count?: unknown } | undefined;
  if (v4 && typeof v4.count === 'number') n += v4.count;
  const v3 = (process as unknown as { __signal_exit_emitter__?: { count?: unknown } }).__signal_exit_emitter__;
  if (v3 && typeof v3.count === 'number') n += v3.count;
  return n;
}

export function watchStopSignals(hooks: StopHooks): StopSignals {
  let control: SignalControl;
  try {
    const { startSignalControl } = require('@ptprof/sampler') as typeof import('@ptprof/sampler');
    control = startSignalControl((sig, fromInterrupt) => onSignal(sig, fromInterrupt));
  } catch {
    // An addon without the control (a development build from before it, PTPROF_ADDON_PATH):
    // JS listeners, which a program stuck in a loop never runs.
    return listenStopSignals(hooks);
  }
  let cancelled = false;
  const onSignal = (sig: NodeJS.Signals, fromInterrupt: boolean): boolean => {
    if (cancelled) return true;
    // At an interrupt inside the agent's own code (a drain, a window being written): let that
    // finish; the event loop delivers the signal right after.
    if (fromInterrupt && hooks.busy()) return false;
    try {
      hooks.finish(sig);
    } catch (err) {
      warn(`on ${sig}: ${message(err)}`);
    }
    // Node's own action back (it restores the terminal and dies by the signal), and the signal
    // again, on this thread: nothing of the program runs after this. (A program that started to
    // listen since gets the signal instead, and decides.)
    control.raise(sig);
    return true;
  };
  const take = (sig: NodeJS.Signals, isDefault: boolean): void => {
    try {
      control.take(sig, isDefault);
    } catch (err) {
      warn(`cannot take ${sig}: ${message(err)}`);
    }
  };
  // A program that listens already (or a module preloaded before the agent) keeps the signal.
  for (const sig of SIGNALS) if (process.listenerCount(sig) === 0) take(sig, true);
  // Node puts SIG_DFL back when the last listener goes (its own removeListener hook, added at
  // bootstrap, runs before this one): the signal is ours again at once, before another can come.
  const removed = (event: string | symbol): void => {
    if ((SIGNALS as readonly (string | symbol)[]).includes(event) && process.listenerCount(event) === 0) take(event as NodeJS.Signals, false);
  };
  process.on('removeListener', removed);
  control.arm(GRACE_MS, DEADLINE_MS);
  return {
    pause: () => control.arm(0, 0),
    cancel: () => {
      cancelled = true;
      process.removeListener('removeListener', removed);
      control.arm(0, 0);
      for (const sig of SIGNALS) control.release(sig);
    },
  };
}

/** The fallback: a JS listener per stop signal (the program's own listener, if any, decides). */
function listenStopSignals(hooks: StopHooks): StopSignals {
  const listeners: [NodeJS.Signals, () => void][] = [];
  for (const sig of SIGNALS) {
    const onSignal = (): void => {
      try {
        // The program listens to this signal itself: it decides what happens ('exit' writes).
        if (process.listenerCount(sig) - 1 > signalExitListeners()) return;
        hooks.finish(sig);
        process.removeListener(sig, onSignal);
        // With no listener left, Node restores the default action: the process dies by the same
        // signal. (When signal-exit's listeners remain, they now see themselves alone and kill.)
        process.kill(process.pid, sig);
      } catch (err) {
        warn(`on ${sig}: ${message(err)}`);
      }
    };
    process.on(sig, onSignal);
    listeners.push([sig, onSignal]);
  }
  return {
    pause: () => {},
    cancel: () => {
      for (const [sig, fn] of listeners) process.removeListener(sig, fn);
    },
  };
}
