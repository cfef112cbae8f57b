/**
 * Where the demo page's files are, whether the demo runs from the TypeScript
 * sources (tests) or from dist/ (npm start): demo/web in the project.
 */
import { join } from 'node:path';
import { PROJECT_ROOT } from '../server/index.js';

/** index.html, app.js and styles.css of the demo shop. */
export const DEMO_WEB_DIR = join(PROJECT_ROOT, 'demo', 'web');
