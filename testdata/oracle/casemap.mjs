// Lists the code points whose full case mappings in JavaScript
// (toUpperCase, toLowerCase, and the Turkish and Lithuanian locales'),
// unlike Go's rune-by-rune ones, turn one character into several that are
// all ASCII letters (ß → SS, ﬁ → FI), for clerkauth's route matcher test.
// stdin: {} ; stdout: {"<code point>": "<ascii letters, upper case>"}
import { answer } from './stdio.mjs';

const out = {};
for (let cp = 0x80; cp <= 0x10ffff; cp++) {
  if (cp >= 0xd800 && cp <= 0xdfff) continue;
  const c = String.fromCodePoint(cp);
  for (const m of [c.toUpperCase(), c.toLowerCase(), c.toLocaleUpperCase('tr'), c.toLocaleLowerCase('tr'), c.toLocaleUpperCase('lt'), c.toLocaleLowerCase('lt')]) {
    if (m.length > 1 && /^[A-Za-z]+$/.test(m)) out[cp] = m.toUpperCase();
  }
}
answer(out);
