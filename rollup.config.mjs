// The web SDK builds (fingerprintjs's layout): a minified IIFE for the script
// tag with every dependency inlined, ESM and CJS for npm with dependencies
// external, and one bundled .d.ts. Output: dist/sdk/.
//
// The web SDK is client/web on top of the platform-free client/core. The
// challenge UI (slider and SMS dialog) is a separate IIFE,
// riskgate-challenge.min.js, that every build loads on first use from
// {endpoint}/sdk/ (client/web/challenge/loader.ts): the main bundle carries
// only the loader, and the npm builds need no code splitting.
import { readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, relative } from 'node:path';
import { nodeResolve } from '@rollup/plugin-node-resolve';
import terser from '@rollup/plugin-terser';
import typescript from '@rollup/plugin-typescript';
import { dts } from 'rollup-plugin-dts';

const input = 'client/web/index.ts';
const outDir = 'dist/sdk';
const banner = '/*! RiskGate web SDK | MIT | bundles FingerprintJS (MIT, (c) FingerprintJS, Inc) */';
const challengeBanner = '/*! RiskGate challenge UI | MIT | bundles @noble/hashes (MIT, (c) Paul Miller) */';

/** The SDK's own sources must not pull in zod or server code; shared/constants.ts is the one exception. */
const browserOnly = {
  name: 'riskgate-browser-only',
  resolveId(source, importer) {
    if (source === 'zod' || source.startsWith('zod/') || /[\\/]server[\\/]/.test(source) || /schemas(\.js)?$/.test(source)) {
      // Type-only imports are erased before this hook runs; anything left here would ship.
      this.error(`the browser SDK must not import "${source}" (from ${importer})`);
    }
    return null;
  },
};

// client/tsconfig.json: no Node types, ES2020, no declarations (the dts pass below makes them).
const ts = () => typescript({ tsconfig: 'client/tsconfig.json', include: ['client/core/**/*.ts', 'client/web/**/*.ts', 'shared/constants.ts'] });

/**
 * FingerprintJS's `domBlockers` source carries a list of ~200 ad-blocker CSS
 * selectors (4 KB of the bundle gzipped) and runs only in Safari and Android
 * browsers. The SDK leaves that component out of the visitor id and the token
 * (client/web/sources/fingerprint.ts), so the script-tag bundle drops the list:
 * `getFilters` returns no filters, and the source finds nothing to check.
 */
const noDomBlockerList = {
  name: 'riskgate-no-dom-blocker-list',
  transform(code, id) {
    if (!/[\\/]@fingerprintjs[\\/]fingerprintjs[\\/]dist[\\/]fp\.esm\.js$/.test(id)) return null;
    const trimmed = code.replace(/\nfunction getFilters\(\) \{\n[^]*?\n\}\n/, '\nfunction getFilters() {\n    return {};\n}\n');
    if (trimmed === code) this.error('FingerprintJS changed: getFilters() not found in fp.esm.js');
    return { code: trimmed, map: null };
  },
};

const isDependency = (id) => /^@fingerprintjs\//.test(id);
const minify = () => terser({ ecma: 2020, compress: { passes: 2 }, format: { comments: /^!|^# allFunctionsCalledOnLoad$/ } });

// V8's explicit compile hint (Chrome 136+): the script-tag bundle runs almost
// all of its code at init, so compiling it eagerly (on a background thread
// while the script streams in) saves ~10 ms of main thread per page load.
const compileHint = '//# allFunctionsCalledOnLoad';

// The mini-program build (client/miniprogram → dist/miniprogram, the package's
// `miniprogram` field): WeChat DevTools' "build npm" copies that folder as it
// is, so it must hold everything: index.js (CommonJS, every dependency
// inlined), the noble crypto chunk it requires on first use, and the
// components (wxml, wxss, js, json) copied beside them.
const miniprogramDir = 'dist/miniprogram';
const miniprogramComponents = 'client/miniprogram/components';
const miniprogramBanner = '/*! RiskGate mini-program SDK | MIT | bundles @noble/curves, @noble/ciphers, @noble/hashes (MIT, (c) Paul Miller) */';

/** A mini-program has no Node: a built-in module anywhere in the graph is a mistake. */
const noNodeBuiltins = {
  name: 'riskgate-no-node-builtins',
  resolveId(source, importer) {
    if (source.startsWith('node:') || builtinModules.includes(source)) this.error(`the mini-program SDK must not import "${source}" (from ${importer})`);
    return null;
  },
};

const filesUnder = (dir) => readdirSync(dir, { withFileTypes: true }).flatMap((entry) => (entry.isDirectory() ? filesUnder(join(dir, entry.name)) : [join(dir, entry.name)]));

/** Emits the components as assets (dist/miniprogram/components/…), and a package.json saying CommonJS. */
const copyMiniprogramComponents = {
  name: 'riskgate-miniprogram-components',
  buildStart() {
    for (const file of filesUnder(miniprogramComponents)) this.addWatchFile(file);
  },
  generateBundle() {
    // WeChat treats every .js as CommonJS; Node needs telling, as the root package.json says "module".
    this.emitFile({ type: 'asset', fileName: 'package.json', source: `${JSON.stringify({ type: 'commonjs' }, null, 2)}\n` });
    for (const file of filesUnder(miniprogramComponents)) {
      this.emitFile({ type: 'asset', fileName: join('components', relative(miniprogramComponents, file)).replace(/\\/g, '/'), source: readFileSync(file) });
    }
  },
};

export default [
  {
    input,
    plugins: [browserOnly, nodeResolve({ browser: true }), noDomBlockerList, ts()],
    output: {
      file: `${outDir}/riskgate.min.js`,
      format: 'iife',
      name: 'RiskGate',
      banner: `${banner}\n${compileHint}`,
      plugins: [minify()],
    },
  },
  {
    input: 'client/web/challenge/index.ts',
    plugins: [browserOnly, nodeResolve({ browser: true }), ts()],
    output: {
      file: `${outDir}/riskgate-challenge.min.js`,
      format: 'iife',
      banner: challengeBanner,
      plugins: [minify()],
    },
  },
  {
    input,
    external: isDependency,
    plugins: [browserOnly, ts()],
    output: [
      { file: `${outDir}/riskgate.mjs`, format: 'es' },
      { file: `${outDir}/riskgate.cjs`, format: 'cjs', exports: 'named' },
    ],
  },
  {
    input,
    external: isDependency,
    plugins: [dts({ tsconfig: 'client/tsconfig.json' })],
    output: { file: `${outDir}/riskgate.d.ts`, format: 'es' },
  },
  {
    input: { index: 'client/miniprogram/src/index.ts' },
    plugins: [
      browserOnly,
      noNodeBuiltins,
      nodeResolve({ browser: true, preferBuiltins: false }),
      typescript({ tsconfig: 'client/miniprogram/tsconfig.json', include: ['client/miniprogram/src/**/*.ts', 'client/core/**/*.ts', 'shared/constants.ts'] }),
      copyMiniprogramComponents,
    ],
    output: {
      dir: miniprogramDir,
      format: 'cjs',
      exports: 'named',
      entryFileNames: '[name].js',
      // The crypto chunk is required on first use, not at import: `require('./riskgate-crypto.js')`.
      chunkFileNames: 'riskgate-[name].js',
      dynamicImportInCjs: false,
      banner: miniprogramBanner,
      plugins: [minify()],
    },
  },
];
