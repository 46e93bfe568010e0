// Decides authorization checks with Clerk's own has() (@clerk/shared's
// createCheckAuthorization, fed by its JWT payload parser exactly as
// @clerk/backend's signedInAuthObject feeds it), for clerkauth's
// differential test.
// stdin:  {"cases": [{"claims": {...}, "checks": [{"role": "admin"}, ...]}]}
// stdout: [{"throws": true} | {"results": [true, false, ...]}] per case.
import { createCheckAuthorization } from '@clerk/shared/authorization';
import { __experimental_JWTPayloadToAuthObjectProperties as parseClaims } from '@clerk/shared/jwtPayloadParser';

const input = JSON.parse(await new Promise((resolve) => {
  let data = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (c) => { data += c; });
  process.stdin.on('end', () => resolve(data));
}));

const out = input.cases.map(({ claims, checks }) => {
  let p;
  try {
    p = parseClaims(claims);
  } catch {
    return { throws: true };
  }
  const has = createCheckAuthorization({
    orgId: p.orgId,
    orgRole: p.orgRole,
    orgPermissions: p.orgPermissions,
    userId: p.userId,
    factorVerificationAge: p.factorVerificationAge,
    features: claims.fea || '',
    plans: claims.pla || '',
  });
  return { results: checks.map((c) => has(c)), orgPermissions: p.orgPermissions ?? null };
});
process.stdout.write(JSON.stringify(out));
