// Decides route patterns against paths with Clerk's createPathMatcher
// (@clerk/shared), for clerkauth's differential test.
// stdin:  {"patterns": [...], "paths": [...]}
// stdout: [{"error": "..."} | {"any": "01m…", "exact": "01m…", "strict": "01m…"}]
//         per pattern, one character per path: 1 match, 0 no match,
//         m malformed (400). strict is path-to-regexp's sensitive and
//         strict options: no optional trailing delimiter.
import { createPathMatcher, normalizePath, isMalformedURLError } from '@clerk/shared/pathMatcher';
import { match } from '@clerk/shared/pathToRegexp';

const input = JSON.parse(await new Promise((resolve) => {
  let data = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (c) => { data += c; });
  process.stdin.on('end', () => resolve(data));
}));

const out = input.patterns.map((pattern) => {
  let anyCase, exact, strict;
  try {
    anyCase = createPathMatcher([pattern]);
    // createPathMatcher ignores empty patterns; so does the sensitive twin.
    exact = pattern ? match(pattern, { sensitive: true }) : () => false;
    strict = pattern ? match(pattern, { sensitive: true, strict: true }) : () => false;
  } catch (e) {
    return { error: String(e.message).split('\n').pop() };
  }
  let a = '', x = '', st = '';
  for (const path of input.paths) {
    let normalized;
    try {
      normalized = normalizePath(path);
    } catch (e) {
      if (!isMalformedURLError(e)) throw e;
      a += 'm';
      x += 'm';
      st += 'm';
      continue;
    }
    a += anyCase(path) ? '1' : '0';
    x += exact(normalized) !== false ? '1' : '0';
    st += strict(normalized) !== false ? '1' : '0';
  }
  return { any: a, exact: x, strict: st };
});
process.stdout.write(JSON.stringify(out));
