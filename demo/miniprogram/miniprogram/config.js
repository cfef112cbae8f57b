// The one place the demo names its server: `npm start` serves RiskGate (/v1/…)
// and the demo shop backend (/demo/api/…) on the same origin.
// DevTools: http://127.0.0.1:8080 with "do not verify request domains" ticked.
// A phone: an HTTPS origin it can reach, whitelisted as a request domain.
module.exports = {
  server: 'http://127.0.0.1:8080',
};
