// ESM entry: the named exports of the CommonJS build, re-exported. One implementation serves both
// `import` and `require`, so the two can never disagree (and `validSIGPROF` is the same function).
import cjs from '../dist/src/index.js';

export const {
  SI_KERNEL,
  SI_TIMER,
  SI_TKILL,
  SI_USER,
  SI_QUEUE,
  validSIGPROF,
  classify,
  filterSIGPROF,
  countSIGPROF,
} = cjs;
