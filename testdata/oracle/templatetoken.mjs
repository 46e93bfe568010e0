// Asks for JWT-template tokens with @clerk/backend's own
// sessions.getToken(sessionId, template), for clerkauth's TemplateToken
// differential test: both sides call the same recording Backend API.
// stdin:  {"options": {secretKey, apiUrl}, "cases": [{"sid", "template"}]}
// stdout: one result per case: {"jwt"} or {"error": status}
import { createClerkClient } from '@clerk/backend';
import { input, answer } from './stdio.mjs';

const clerk = createClerkClient(input.options);
const out = [];
for (const c of input.cases) {
  try {
    const token = await clerk.sessions.getToken(c.sid, c.template);
    out.push({ jwt: token.jwt });
  } catch (e) {
    out.push({ error: e && e.status ? e.status : String(e && e.message || e) });
  }
}
answer(out);
