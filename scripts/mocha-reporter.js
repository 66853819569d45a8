'use strict';
// Spec output for people, plus the run's counts written to $PTPROF_TEST_STATS for scripts/test.js,
// which runs every test file in its own process (a profiler's state is process-wide) and sums them.
const fs = require('node:fs');
const Mocha = require('mocha');

class PtprofReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    runner.once(Mocha.Runner.constants.EVENT_RUN_END, () => {
      const out = process.env.PTPROF_TEST_STATS;
      if (!out) return;
      const { passes, failures, pending } = this.stats;
      // Each failure's title and the first line of its error, so that the summary at the end of a
      // long run (and a CI log that keeps only its tail) says what failed, not just where.
      const failed = this.failures.map((t) => `${t.fullTitle()}: ${String(t.err?.message ?? t.err).split('\n')[0].slice(0, 300)}`);
      fs.writeFileSync(out, JSON.stringify({ passes, failures, pending, failed }));
    });
  }
}
module.exports = PtprofReporter;
