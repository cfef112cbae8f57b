// The web SDK builds (fingerprintjs's layout): a minified IIFE for the script
// tag with every dependency inlined, ESM and CJS for npm with dependencies
// external, and one bundled .d.ts. Output: dist/sdk/.
import { nodeResolve } from '@rollup/plugin-node-resolve';
import terser from '@rollup/plugin-terser';
import typescript from '@rollup/plugin-typescript';
import { dts } from 'rollup-plugin-dts';

const input = 'client/src/index.ts';
const outDir = 'dist/sdk';
const banner = '/*! RiskGate web SDK | MIT | bundles FingerprintJS (MIT, (c) FingerprintJS, Inc) */';

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
const ts = () => typescript({ tsconfig: 'client/tsconfig.json', include: ['client/src/**/*.ts', 'shared/constants.ts'] });

const isDependency = (id) => /^@fingerprintjs\//.test(id);

export default [
  {
    input,
    plugins: [browserOnly, nodeResolve({ browser: true }), ts()],
    output: {
      file: `${outDir}/riskgate.min.js`,
      format: 'iife',
      name: 'RiskGate',
      banner,
      plugins: [terser({ ecma: 2020, compress: { passes: 2 }, format: { comments: /^!/ } })],
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
];
