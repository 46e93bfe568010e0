// Decides requests with @clerk/backend's own authenticateRequest, for
// clerkauth's machine-token differential test. Both sides use the same fake
// Backend API (apiUrl), which also serves the instance's keys at /v1/jwks.
// stdin:  {"options": {secretKey, machineSecretKey, publishableKey, apiUrl},
//          "cases": [{"acceptsToken": [...], "authorization": "Bearer …" | null, "audience"?: [...]}]}
// stdout: one result per case: {status, reason, tokenType, isAuthenticated,
//          subject, scopes, userId, orgId, machineId, clientId, name, id}
import { createClerkClient } from '@clerk/backend';

// Clerk logs some outcomes (a refused machine secret key, …) to the
// console: keep stdout for the answer.
for (const level of ['log', 'info', 'warn', 'debug']) {
  console[level] = (...args) => process.stderr.write(args.join(' ') + '\n');
}

const input = JSON.parse(await new Promise((resolve) => {
  let data = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (c) => { data += c; });
  process.stdin.on('end', () => resolve(data));
}));

const clerk = createClerkClient(input.options);
const out = [];
for (const c of input.cases) {
  const headers = new Headers({ host: 'api.example.test' });
  if (c.authorization !== null) headers.set('authorization', c.authorization);
  const req = new Request('https://api.example.test/api/data', { headers });
  try {
    const state = await clerk.authenticateRequest(req, { acceptsToken: c.acceptsToken, audience: c.audience ?? undefined });
    const auth = state.toAuth ? state.toAuth() : null;
    out.push({
      status: state.status,
      reason: state.reason ?? null,
      tokenType: state.tokenType ?? null,
      isAuthenticated: state.isAuthenticated,
      subject: auth?.subject ?? (state.isAuthenticated && state.tokenType === 'session_token' ? auth?.userId : null) ?? null,
      scopes: auth?.scopes ?? null,
      userId: auth?.userId ?? null,
      orgId: auth?.orgId ?? null,
      machineId: auth?.machineId ?? null,
      clientId: auth?.clientId ?? null,
      name: auth?.name ?? null,
      id: auth?.id ?? null,
    });
  } catch (e) {
    out.push({ status: 'throws', reason: String(e && e.message || e) });
  }
}
process.stdout.write(JSON.stringify(out));
