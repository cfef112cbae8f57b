/** The SDK version, sent as `sdk: "web/<version>"`; kept equal to package.json's by test/browser/sdk.build.test.ts. */
export const VERSION = '0.1.0';
