#!/bin/sh
# Regenerates testdata/csp/clerk-nextjs-7.9.17.json: the headers
# @clerk/nextjs 7.9.17's createContentSecurityPolicyHeaders builds for
# testdata/csp/cases.json (NODE_ENV=production). That function lives in
# @clerk/nextjs, which needs Next.js and React to install, so it is run here
# from the published tarball with its one import (@clerk/backend/internal's
# header names) stubbed, rather than from testdata/oracle.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
npm pack --silent @clerk/nextjs@7.9.17 >/dev/null
tar xzf clerk-nextjs-7.9.17.tgz
mkdir -p node_modules/@clerk/backend
echo '{"name":"@clerk/backend","type":"module","exports":{"./internal":"./internal.js"}}' >node_modules/@clerk/backend/package.json
echo 'export const constants = { Headers: { ContentSecurityPolicy: "content-security-policy", ContentSecurityPolicyReportOnly: "content-security-policy-report-only", ReportingEndpoints: "reporting-endpoints", Nonce: "x-nonce" } };' >node_modules/@clerk/backend/internal.js
sed 's#^import "../chunk-[A-Z0-9]*.js";##' package/dist/esm/server/content-security-policy.js >csp.mjs
cat >gen.mjs <<'JS'
process.env.NODE_ENV = "production";
const { createContentSecurityPolicyHeaders } = await import("./csp.mjs");
const cases = JSON.parse(await (await import("fs")).promises.readFile(process.argv[2], "utf8"));
const out = cases.map(c => {
  const { headers } = createContentSecurityPolicyHeaders(c.host, c.options);
  const h = Object.fromEntries(headers);
  const nonce = h["x-nonce"];
  for (const k of Object.keys(h)) if (nonce && k !== "x-nonce") h[k] = h[k].split(nonce).join("NONCE");
  delete h["x-nonce"];
  return { ...c, headers: h };
});
console.log(JSON.stringify(out, null, 1));
JS
node gen.mjs "$root/testdata/csp/cases.json" >"$root/testdata/csp/clerk-nextjs-7.9.17.json"
