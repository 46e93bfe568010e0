// Decides cookie-side requests (sessions, __client_uat, dev browser,
// handshake returns, refresh) with @clerk/backend's own
// authenticateRequest, for clerkauth's handshake differential test.
// stdin:  {"instances": {name: {secretKey, publishableKey, apiUrl, jwtKey, proxyUrl?,
//            isSatellite?, domain?, signInUrl?, satelliteAutoSync?,
//            organizationSyncOptions?: {organizationPatterns, personalAccountPatterns},
//            authorizedParties?}},
//          "cases": [{"instance", "url", "method", "headers": {...}}]}
// stdout: one result per case: {status, reason, userId, location, setCookie: [...]}
import { createClerkClient } from '@clerk/backend';

for (const level of ['log', 'info', 'warn', 'debug', 'error']) {
  console[level] = (...args) => process.stderr.write(args.map(String).join(' ') + '\n');
}

const input = JSON.parse(await new Promise((resolve) => {
  let data = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (c) => { data += c; });
  process.stdin.on('end', () => resolve(data));
}));

// The options an instance may carry into authenticateRequest (besides
// the client's keys): satellites, organization sync, a proxy.
const requestOptionNames = ['proxyUrl', 'isSatellite', 'domain', 'signInUrl', 'satelliteAutoSync',
  'organizationSyncOptions', 'authorizedParties'];
const clients = {};
const requestOptions = {};
for (const [name, opts] of Object.entries(input.instances)) {
  clients[name] = createClerkClient(opts);
  requestOptions[name] = {};
  for (const key of requestOptionNames) {
    if (opts[key] !== undefined) {
      requestOptions[name][key] = opts[key];
    }
  }
}
const out = [];
for (const c of input.cases) {
  const req = new Request(c.url, { method: c.method, headers: new Headers(c.headers) });
  try {
    const state = await clients[c.instance].authenticateRequest(req, requestOptions[c.instance]);
    let userId = null;
    if (state.status === 'signed-in') {
      const auth = state.toAuth();
      userId = auth?.userId ?? null;
    }
    out.push({
      status: state.status,
      reason: state.reason ?? null,
      userId,
      location: state.headers.get('location'),
      setCookie: state.headers.getSetCookie(),
    });
  } catch (e) {
    out.push({ status: 'throws', reason: String(e && e.message || e) });
  }
}
process.stdout.write(JSON.stringify(out));
