// Prints Clerk's reverification 403 body for a level, and whether Clerk's
// front end recognises a given body as a reverification hint.
// stdin:  {"level": {"level": "...", "afterMinutes": N}, "body": "<our body>"}
// stdout: {"clerk": "<Clerk's body>", "hint": true|false}
import { reverificationError, isReverificationHint } from '@clerk/shared/authorization-errors';

const input = JSON.parse(await new Promise((resolve) => {
  let data = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (c) => { data += c; });
  process.stdin.on('end', () => resolve(data));
}));
process.stdout.write(JSON.stringify({
  clerk: JSON.stringify(reverificationError(input.level)),
  hint: isReverificationHint(JSON.parse(input.body)),
}));
