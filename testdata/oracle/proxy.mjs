// Answers requests with @clerk/backend/proxy's own clerkFrontendApiProxy,
// for clerkauth's Frontend API proxy differential test. Both sides proxy to
// the same fake Frontend API (fapiUrl, a loopback URL), which records what
// it receives.
// stdin:  {"options": {proxyPath, publishableKey, secretKey, fapiUrl},
//          "cases": [{"method", "url", "headers": [[name, value], …],
//                     "body": base64 | null}]}
// stdout: one response per case: {status, headers: [[name, value], …]
//          (lower-case names, Set-Cookie one entry per cookie), body: base64}
import { clerkFrontendApiProxy } from '@clerk/backend/proxy';
import { input, answer } from './stdio.mjs';

const out = [];
for (const c of input.cases) {
  const headers = new Headers();
  for (const [k, v] of c.headers) headers.append(k, v);
  const init = { method: c.method, headers };
  if (c.body !== null) {
    init.body = Buffer.from(c.body, 'base64');
  }
  const res = await clerkFrontendApiProxy(new Request(c.url, init), input.options);
  const hs = [];
  res.headers.forEach((v, k) => { if (k !== 'set-cookie') hs.push([k, v]); });
  for (const v of res.headers.getSetCookie()) hs.push(['set-cookie', v]);
  const body = Buffer.from(await res.arrayBuffer()).toString('base64');
  out.push({ status: res.status, headers: hs, body });
}
answer(out);
