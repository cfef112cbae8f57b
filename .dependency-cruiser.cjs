/**
 * The layering of ARCHITECTURE.md, checked on every import (type-only ones
 * too) by test/layers.test.ts in `npm test`: a violation fails the run and
 * names its rule. Also `npx depcruise server client shared demo --config
 * .dependency-cruiser.cjs` on the command line.
 */
const STORE_AND_WEB_PACKAGES = '(^|/)node_modules/(fastify|@fastify/[^/]+|fastify-[^/]+|ioredis|pg|pg-[^/]+|better-sqlite3)/';
const IO_BUILTINS = '^(node:)?(fs|fs/promises|http|https|http2|net|tls|dns|dgram|worker_threads|child_process|cluster)$';
/** Files directly in server/: the composition root and the entry points. */
const COMPOSITION_ROOT = '^server/[^/]+$';
const NPM = ['npm', 'npm-dev', 'npm-optional', 'npm-peer', 'npm-no-pkg', 'npm-unknown'];

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'engine-is-pure',
      comment: 'server/engine is the domain: no web framework, no store driver, no file, network or thread. Pass I/O in as functions or interfaces.',
      severity: 'error',
      from: { path: '^server/engine/' },
      to: { path: [STORE_AND_WEB_PACKAGES, IO_BUILTINS] },
    },
    {
      name: 'engine-knows-no-shell',
      comment: 'server/engine imports nothing from the layers around it (adapters, services, http, config, observability, the composition root).',
      severity: 'error',
      from: { path: '^server/engine/' },
      to: { path: '^server/', pathNot: '^server/engine/' },
    },
    {
      name: 'services-know-no-transport',
      comment: 'server/services (evaluator, challenges, enrollment) use the engine and the adapters\' interfaces; HTTP is the http layer\'s.',
      severity: 'error',
      from: { path: '^server/services/' },
      to: { path: ['(^|/)node_modules/(fastify|@fastify/[^/]+)/', '^server/http/', COMPOSITION_ROOT] },
    },
    {
      name: 'adapters-know-no-service',
      comment: 'server/adapters (stores, keys, SMS, decode workers, the rule book) never reach up into services, HTTP or the composition root.',
      severity: 'error',
      from: { path: '^server/adapters/' },
      to: { path: ['(^|/)node_modules/(fastify|@fastify/[^/]+)/', '^server/(services|http)/', COMPOSITION_ROOT] },
    },
    {
      name: 'server-not-demo',
      comment: 'The demo composes the server (demo/main.ts through server/index.ts), never the reverse.',
      severity: 'error',
      from: { path: '^server/' },
      to: { path: '^demo/' },
    },
    {
      name: 'client-not-server',
      comment: 'The SDKs and the Node client ship to other machines: nothing from server/, demo/, bench/ or test/.',
      severity: 'error',
      from: { path: '^client/' },
      to: { path: '^(server|demo|bench|test)/' },
    },
    {
      name: 'sdk-core-is-platform-free',
      comment: 'client/core is shared by the web SDK and the mini-program: it imports neither (nor the Node client).',
      severity: 'error',
      from: { path: '^client/core/' },
      to: { path: '^client/(web|miniprogram|node)/' },
    },
    {
      name: 'sdk-core-no-packages',
      comment: 'client/core runs in browsers and mini-programs alike: no npm package, no Node built-in.',
      severity: 'error',
      from: { path: '^client/core/' },
      to: { dependencyTypes: [...NPM, 'core'] },
    },
    {
      name: 'sdk-platforms-apart',
      comment: 'The web SDK and the mini-program SDK share client/core, never each other.',
      severity: 'error',
      from: { path: '^client/(web|miniprogram)/' },
      to: { path: '^client/(web|miniprogram)/', pathNot: '^client/$1/' },
    },
    {
      name: 'web-sdk-packages',
      comment: 'What the script-tag bundle may carry: FingerprintJS, and @noble/hashes for the challenge UI.',
      severity: 'error',
      from: { path: '^client/web/' },
      to: { dependencyTypes: [...NPM, 'core'], pathNot: '(^|/)node_modules/(@fingerprintjs/fingerprintjs|@noble/hashes)/' },
    },
    {
      name: 'miniprogram-sdk-packages',
      comment: 'What the mini-program package may carry: @noble (its crypto).',
      severity: 'error',
      from: { path: '^client/miniprogram/src/' },
      to: { dependencyTypes: [...NPM, 'core'], pathNot: '(^|/)node_modules/@noble/(curves|ciphers|hashes)/' },
    },
    {
      name: 'shared-imports-neither',
      comment: 'shared/ holds the contracts both sides use: it imports from neither side.',
      severity: 'error',
      from: { path: '^shared/' },
      to: { path: '^(server|client|demo|bench|test)/' },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'An import that resolves to nothing (the mini-program files that import the built package are checked by their build tests).',
      severity: 'error',
      from: { pathNot: '^(demo/miniprogram|client/miniprogram/components)/' },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^dist/' },
    // Type-only imports count: a type from another layer carries its assumptions in.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.mjs', '.cjs', '.d.ts'],
    },
  },
};
