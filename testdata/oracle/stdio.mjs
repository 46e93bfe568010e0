// What every oracle script shares: Clerk's console output kept off stdout
// (which carries the answer), and the JSON input read from stdin.
for (const level of ['log', 'info', 'warn', 'debug', 'error']) {
  console[level] = (...args) => process.stderr.write(args.map(String).join(' ') + '\n');
}

export const input = JSON.parse(await new Promise((resolve) => {
  let data = '';
  process.stdin.setEncoding('utf8');
  process.stdin.on('data', (c) => { data += c; });
  process.stdin.on('end', () => resolve(data));
}));

export function answer(out) {
  process.stdout.write(JSON.stringify(out));
}
