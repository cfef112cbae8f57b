/**
 * Debian's Chromium for the browser tests, and the flags every headless run
 * uses. Without the background-networking flags Chromium keeps trying hosts
 * this machine cannot reach (component updates, sync), which slows its start
 * and can stall its shutdown.
 */
export const CHROMIUM = '/usr/bin/chromium';

export const HEADLESS_CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
