// Starts RiskGate once, as early as possible: the SDK fetches the server key
// and reads the device while the user looks at the first page.
const { init } = require('riskgate');
const { server } = require('./config.js');
const { get } = require('./utils/http.js');

App({
  onLaunch() {
    // The demo backend says which app key to use (as the web demo's /demo/api/config does).
    this.riskGate = get(`${server}/demo/api/config`).then((config) => init({ appKey: config.app_key, endpoint: server }));
    this.riskGate.catch((error) => console.error('RiskGate did not start:', error));
  },
});
