// One self-contained HTML page: the template (page/view.html), its style (page/view.css), its
// scripts (page/*.ts, compiled to dist/page/*.js) and the data, all inline. Nothing is fetched when
// the page opens: it works from file:// on a machine without a network.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { PageData } from './page-data';

/** The page's scripts, in the order they are concatenated (each uses what the ones before define). */
export const PAGE_SCRIPTS = ['decode', 'tree', 'flame', 'table', 'main'] as const;

/** The package's own directory (this file is dist/src/html.js). */
const PACKAGE_DIR = path.resolve(__dirname, '..', '..');

interface Assets {
  template: string;
  css: string;
  js: string;
}

let assets: Assets | undefined;

function readAsset(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (e) {
    throw new Error(`@ptprof/view is incomplete: cannot read ${file} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); reinstall it, or build it with "tsc -b"`);
  }
}

/** The template, style and scripts, read once from the installed package. */
export function pageAssets(): Assets {
  if (!assets) {
    // The compiled scripts are global scripts (page/tsconfig.json): each starts with "use strict";
    // together they run inside one function, so that nothing leaks into the page's globals.
    const js = PAGE_SCRIPTS.map((n) => readAsset(path.join(PACKAGE_DIR, 'dist', 'page', `${n}.js`)).replace(/^"use strict";\n/, ''))
      .join('\n');
    assets = {
      template: readAsset(path.join(PACKAGE_DIR, 'page', 'view.html')),
      css: readAsset(path.join(PACKAGE_DIR, 'page', 'view.css')),
      js: `(function () {\n"use strict";\n${js}\n})();\n`,
    };
  }
  return assets;
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * JSON that can sit inside <script type="application/json">: '<' is written \u003c, so that no
 * name in the profile (`</script>`, `<!--`) can end the element early.
 */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

/** The page: one HTML string with everything inline. */
export function renderHtml(data: PageData): string {
  const a = pageAssets();
  const parts: Record<string, string> = {
    TITLE: escapeHtml(data.title),
    CSS: a.css.replace(/<\/style/gi, '<\\/style'),
    DATA: scriptJson(data),
    JS: a.js.replace(/<\/script/gi, '<\\/script'),
  };
  // A function replacer: the parts may hold '$' sequences that String.replace would interpret.
  return a.template.replace(/\{\{(TITLE|CSS|DATA|JS)\}\}/g, (_, k: string) => parts[k]!);
}
