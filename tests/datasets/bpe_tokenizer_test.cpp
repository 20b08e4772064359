// bpe_tokenizer_test.cpp: the byte-level BPE tokenizer against ids from Hugging Face tokenizers (and
// two other GPT-2 implementations that agree with it; tests/reference/make_tokenizer_fixtures.js) on
// the real GPT-2 tokenizer.json, a hand-made tokenizer.json with added tokens, one laid out like
// GPT-NeoX-20B's, the split pattern, decoding, the byte-level tokenizer.json writer, and every
// refused configuration.
#include <nlohmann/json.hpp>

#include <set>
#include <thread>

#include "datasets/bpe_tokenizer.h"
#include "datasets/byte_level.h"
#include "datasets/errors.h"
#include "datasets/unicode.h"
#include "datasets/file_io.h"
#include "datasets_test_util.h"

using namespace datasets;
using json = nlohmann::json;
using pm_test::fixture;
using pm_test::throws_with;

namespace {

std::vector<int64_t> ids_of(const json& j) { return j.get<std::vector<int64_t>>(); }

std::vector<std::string> pieces(const std::string& s) {
  std::vector<std::string> out;
  for (const auto& [b, e] : byte_level_split(s)) out.push_back(s.substr(b, e - b));
  return out;
}

json tiny_json() { return json::parse(read_file(fixture("tiny_bpe_tokenizer.json"))); }

std::shared_ptr<BpeTokenizer> from(const json& j) { return BpeTokenizer::from_json(j.dump(), "test.json"); }

}  // namespace

TEST(ByteLevel, MapIsAReversibleBijection) {
  std::set<std::string> seen;
  for (int b = 0; b < 256; ++b) {
    const std::string& s = byte_to_unicode(static_cast<unsigned char>(b));
    seen.insert(s);
    const auto u = utf8_units(s);
    ASSERT_EQ(u.size(), 1u);
    EXPECT_EQ(unicode_to_byte(u[0].cp), b);
  }
  EXPECT_EQ(seen.size(), 256u);
  EXPECT_EQ(byte_to_unicode(' '), "\xC4\xA0");   // U+0120 'Ġ'
  EXPECT_EQ(byte_to_unicode('\n'), "\xC4\x8A");  // U+010A 'Ċ'
  EXPECT_EQ(byte_to_unicode('A'), "A");
  EXPECT_EQ(unicode_to_byte(U' '), -1);
}

TEST(ByteLevel, SplitPattern) {
  using V = std::vector<std::string>;
  EXPECT_EQ(pieces("Hello world"), (V{"Hello", " world"}));
  EXPECT_EQ(pieces("I'm here, they're"), (V{"I", "'m", " here", ",", " they", "'re"}));
  EXPECT_EQ(pieces("'S 's 'll 've 'd 't"), (V{"'", "S", " '", "s", " '", "ll", " '", "ve", " '", "d", " '", "t"}));
  EXPECT_EQ(pieces("  hi"), (V{" ", " hi"}));
  EXPECT_EQ(pieces("a  \n\n b"), (V{"a", "  \n\n", " b"}));
  EXPECT_EQ(pieces("a\nb"), (V{"a", "\n", "b"}));
  EXPECT_EQ(pieces("end  "), (V{"end", "  "}));
  EXPECT_EQ(pieces("x!!! ?"), (V{"x", "!!!", " ?"}));
  EXPECT_EQ(pieces("3.14 abc123"), (V{"3", ".", "14", " abc", "123"}));
  EXPECT_EQ(pieces("?'s"), (V{"?'", "s"}));
  EXPECT_EQ(pieces("caf\xC3\xA9 \xE6\x97\xA5\xE6\x9C\xAC"), (V{"caf\xC3\xA9", " \xE6\x97\xA5\xE6\x9C\xAC"}));
  EXPECT_EQ(pieces("\xC2\xA0x"), (V{"\xC2\xA0", "x"}));  // NBSP is white space but not the optional ' '
  EXPECT_EQ(pieces("\xFF\xFE" "ab \xFF"), (V{"\xFF\xFE", "ab", " \xFF"}));
  EXPECT_TRUE(pieces("").empty());
}

TEST(BpeTokenizer, Gpt2IdsMatchTheReferenceImplementations) {
  auto tok = BpeTokenizer::from_file(fixture("gpt2_tokenizer.json.gz"));
  EXPECT_EQ(tok->vocab_size(), 50257);
  EXPECT_EQ(tok->num_merges(), 50000);
  EXPECT_EQ(tok->token_to_id("<|endoftext|>"), 50256);
  const json fx = json::parse(read_file(fixture("gpt2_ids.json")));
  int checked = 0;
  for (const auto& c : fx["cases"]) {
    const std::string text = c["text"].get<std::string>();
    const std::vector<int64_t> want = ids_of(c["ids"]);
    EXPECT_EQ(tok->encode(text), want) << "text: " << text.substr(0, 80);
    EXPECT_EQ(tok->decode(want), text);
    ++checked;
  }
  EXPECT_EQ(checked, 13);
  EXPECT_EQ(tok->decode({50256, 15496}, true), "Hello");
  EXPECT_EQ(tok->decode({50256, 15496}), "<|endoftext|>Hello");
}

TEST(BpeTokenizer, HandMadeTokenizerWithAddedTokens) {
  auto tok = BpeTokenizer::from_file(fixture("tiny_bpe_tokenizer.json"));
  EXPECT_EQ(tok->vocab_size(), 286);
  EXPECT_EQ(tok->added_tokens().size(), 4u);
  const json fx = json::parse(read_file(fixture("tiny_bpe_ids.json")));
  for (const auto& c : fx["cases"]) {
    const std::string text = c["text"].get<std::string>();
    EXPECT_EQ(tok->encode(text), ids_of(c["ids"])) << "text: " << text;
  }
  // lstrip / rstrip added tokens swallow the white space beside them, so decoding drops it.
  EXPECT_EQ(tok->decode(tok->encode("a [MASK] b")), "a[MASK] b");
  EXPECT_EQ(tok->decode(tok->encode("x<|endoftext|>y")), "x<|endoftext|>y");
  EXPECT_EQ(tok->decode(tok->encode("x<|endoftext|>y"), true), "xy");
  EXPECT_EQ(tok->decode(tok->encode("left <sep>   right"), true), "left <sep>right");  // <sep> is not special
  EXPECT_EQ(tok->token_to_id("<pad>"), 283);
  EXPECT_EQ(tok->token_to_id("nope"), -1);
  EXPECT_TRUE(throws_with([&] { tok->decode({286}); }, {"id 286 out of range", "286"}));
}

TEST(BpeTokenizer, NeoxShapedTokenizerMatchesHfTokenizers) {
  // No package carries GPT-NeoX-20B's tokenizer.json (Mamba's); this small one has its layout (NFC,
  // special tokens 0 and 1 inside the vocabulary, runs of spaces and tabs as normalized added
  // tokens, ByteLevel without the newer keys), with ids from HF tokenizers (make_tokenizer_fixtures.js).
  auto tok = BpeTokenizer::from_file(fixture("neox_style_tokenizer.json"));
  EXPECT_TRUE(tok->uses_nfc());
  EXPECT_EQ(tok->token_to_id("<|endoftext|>"), 0);
  EXPECT_EQ(tok->token_to_id("<|padding|>"), 1);
  EXPECT_EQ(tok->added_tokens().size(), 12u);
  const json fx = json::parse(read_file(fixture("neox_style_ids.json")));
  int checked = 0;
  for (const auto& c : fx["cases"]) {
    const std::string text = c["text"].get<std::string>();
    const std::vector<int64_t> want = ids_of(c["ids"]);
    EXPECT_EQ(tok->encode(text), want) << "text: " << text;
    EXPECT_EQ(tok->decode(want), c["decoded"].get<std::string>()) << "text: " << text;
    ++checked;
  }
  EXPECT_EQ(checked, 9);
  EXPECT_EQ(tok->decode(tok->encode("<|endoftext|>a<|padding|>"), true), "a");
  // With added tokens that NFC changes (normalized ones match the NFC text, the others the raw
  // text) and an lstrip / rstrip one next to the normalized runs of spaces.
  json j = json::parse(read_file(fixture("neox_style_tokenizer.json")));
  for (const auto& a : fx["extra_added_tokens"]) j["added_tokens"].push_back(a);
  auto extra = from(j);
  for (const auto& c : fx["extra_cases"]) {
    const std::string text = c["text"].get<std::string>();
    EXPECT_EQ(extra->encode(text), ids_of(c["ids"])) << "text: " << text;
    ++checked;
  }
  EXPECT_EQ(checked, 13);
}

TEST(BpeTokenizer, AddedTokenIdsAreAssignedAsTokenizersDoes) {
  // tokenizers 0.23 gives added tokens that are not in the model's vocabulary the ids after it, in
  // order, whatever "id" the file says (seen: ids 300..303 written, 282..285 used).
  json j = tiny_json();
  for (size_t k = 0; k < j["added_tokens"].size(); ++k) j["added_tokens"][k]["id"] = 300 + static_cast<int>(k);
  auto tok = from(j);
  EXPECT_EQ(tok->encode("x<|endoftext|>y <pad> z"), (std::vector<int64_t>{87, 282, 88, 220, 283, 220, 89}));
  EXPECT_EQ(tok->vocab_size(), 286);
  // A token already in the model's vocabulary keeps the model's id (GPT-2's <|endoftext|>).
  json k = tiny_json();
  k["added_tokens"][0]["content"] = "he";
  EXPECT_EQ(from(k)->encode("he"), (std::vector<int64_t>{from(k)->token_to_id("he")}));
  EXPECT_EQ(from(k)->added_tokens()[0].id, tiny_json()["model"]["vocab"]["he"].get<int64_t>());
}

TEST(BpeTokenizer, MergesAsPairsGiveTheSameIds) {
  json j = tiny_json();
  json pairs = json::array();
  for (const auto& m : j["model"]["merges"]) {
    const std::string s = m.get<std::string>();
    pairs.push_back({s.substr(0, s.find(' ')), s.substr(s.find(' ') + 1)});
  }
  j["model"]["merges"] = pairs;
  auto a = from(j), b = BpeTokenizer::from_file(fixture("tiny_bpe_tokenizer.json"));
  for (const char* s : {"the lowest and", "aaaa 1234 caf\xC3\xA9"}) EXPECT_EQ(a->encode(s), b->encode(s));
}

TEST(BpeTokenizer, NfcNormalizerPrefixSpaceAndIgnoreMerges) {
  json j = tiny_json();
  j["normalizer"] = {{"type", "NFC"}};
  auto nfc_tok = from(j);
  EXPECT_TRUE(nfc_tok->uses_nfc());
  EXPECT_EQ(nfc_tok->encode("cafe\xCC\x81"), nfc_tok->encode("caf\xC3\xA9"));  // e + combining acute == é
  json seq = tiny_json();
  seq["normalizer"] = {{"type", "Sequence"}, {"normalizers", json::array({{{"type", "NFC"}}})}};
  EXPECT_TRUE(from(seq)->uses_nfc());

  auto plain = BpeTokenizer::from_file(fixture("tiny_bpe_tokenizer.json"));
  json p = tiny_json();
  p["pre_tokenizer"]["add_prefix_space"] = true;
  EXPECT_EQ(from(p)->encode("the lower"), plain->encode(" the lower"));

  json im = tiny_json();
  im["model"]["vocab"]["xyz"] = 290;
  EXPECT_EQ(from(im)->encode("xyz").size(), 3u);
  im["model"]["ignore_merges"] = true;
  EXPECT_EQ(from(im)->encode("xyz"), (std::vector<int64_t>{290}));

  json nr = tiny_json();
  nr["pre_tokenizer"]["use_regex"] = false;
  // One word: the two spaces merge ("Ġ Ġ"), where the split pattern keeps them apart.
  EXPECT_EQ(from(nr)->encode("a  b").size(), 3u);
  EXPECT_EQ(plain->encode("a  b").size(), 4u);
}

TEST(BpeTokenizer, DecodeIsExactOnArbitraryBytes) {
  auto tok = BpeTokenizer::from_file(fixture("gpt2_tokenizer.json.gz"));
  std::string bytes;
  for (int i = 0; i < 512; ++i) bytes += static_cast<char>((i * 37 + 11) & 0xFF);
  EXPECT_EQ(tok->decode(tok->encode(bytes)), bytes);
}

TEST(BpeTokenizer, ConcurrentEncodesAgree) {
  auto tok = BpeTokenizer::from_file(fixture("gpt2_tokenizer.json.gz"));
  const std::string text = read_file(fixture("moby_dick_head.txt"));
  const auto want = tok->encode(text);
  std::vector<std::thread> ts;
  std::vector<int> ok(4, 0);
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&, t] {
      for (int r = 0; r < 5; ++r) ok[t] += tok->encode(text) == want;
    });
  for (auto& t : ts) t.join();
  EXPECT_EQ(ok, (std::vector<int>{5, 5, 5, 5}));
}

TEST(BpeTokenizerErrors, UnsupportedConfigurationsNameTheFile) {
  auto expect_refused = [](json j, const std::vector<std::string>& parts) {
    std::vector<std::string> all = {"test.json: "};
    all.insert(all.end(), parts.begin(), parts.end());
    EXPECT_TRUE(throws_with([&] { from(j); }, all)) << j.dump().substr(0, 100);
  };
  json j = tiny_json();
  j["model"]["type"] = "Unigram";
  expect_refused(j, {"unsupported tokenizer model type \"Unigram\"", "only byte-level BPE"});
  j["model"]["type"] = "WordPiece";
  expect_refused(j, {"unsupported tokenizer model type \"WordPiece\""});
  j = tiny_json();
  j["normalizer"] = {{"type", "Lowercase"}};
  expect_refused(j, {"unsupported normalizer type \"Lowercase\""});
  j = tiny_json();
  j["pre_tokenizer"] = {{"type", "Metaspace"}};
  expect_refused(j, {"unsupported pre_tokenizer \"Metaspace\"", "only ByteLevel"});
  j["pre_tokenizer"] = nullptr;
  expect_refused(j, {"unsupported pre_tokenizer \"null\""});
  j = tiny_json();
  j["decoder"] = {{"type", "WordPiece"}};
  expect_refused(j, {"unsupported decoder type \"WordPiece\""});
  j = tiny_json();
  j["post_processor"] = {{"type", "TemplateProcessing"}};
  expect_refused(j, {"unsupported post_processor type \"TemplateProcessing\""});
  j = tiny_json();
  j["model"]["dropout"] = 0.1;
  expect_refused(j, {"BPE dropout is not supported"});
  j = tiny_json();
  j["model"]["byte_fallback"] = true;
  expect_refused(j, {"byte_fallback is not supported"});
  j = tiny_json();
  j["model"]["continuing_subword_prefix"] = "##";
  expect_refused(j, {"continuing_subword_prefix is not supported"});
  j = tiny_json();
  j["model"]["merges"].push_back("q \xE2\x82\xAC");
  expect_refused(j, {"merge 26 uses token", "not in the vocabulary"});
  j = tiny_json();
  j["model"]["merges"].push_back("a b c");
  expect_refused(j, {"merge 26 \"a b c\" is not two tokens"});
  j = tiny_json();
  j["added_tokens"].push_back({{"id", 5}});
  expect_refused(j, {"every added token needs an integer \"id\" and a string \"content\""});
  j = tiny_json();
  j["added_tokens"][0]["special"] = "yes";
  expect_refused(j, {"malformed tokenizer.json"});
  EXPECT_TRUE(throws_with([] { BpeTokenizer::from_json("{\"model\": ", "broken.json"); }, {"broken.json: invalid JSON"}));
  EXPECT_TRUE(throws_with([] { BpeTokenizer::from_json("[1, 2]", "list.json"); }, {"list.json: a tokenizer.json must be a JSON object"}));
  EXPECT_TRUE(throws_with([] { BpeTokenizer::from_json("{}", "empty.json"); }, {"empty.json: no \"model\" object"}));
  EXPECT_TRUE(throws_with([] { BpeTokenizer::from_file("/nonexistent/tokenizer.json"); }, {"/nonexistent/tokenizer.json: cannot open"}));
  // A vocabulary without every byte cannot encode that byte.
  j = tiny_json();
  j["model"]["vocab"].erase("z");
  j["model"]["merges"] = json::array();
  EXPECT_TRUE(throws_with([&] { from(j)->encode("zz"); }, {"test.json: the vocabulary has no token for byte 0x7a"}));
}

TEST(ByteLevelTokenizerJson, WriterOutputLoadsAndMapsBytes) {
  // The committed copy was checked to load in HF tokenizers and @lenml/tokenizers (make_tokenizer_fixtures.js).
  EXPECT_EQ(byte_level_tokenizer_json({"<|endoftext|>"}), read_file(fixture("byte_level_tokenizer.json")));
  pm_test::TempDir dir;
  write_byte_level_tokenizer_json(dir / "tok/tokenizer.json", {"<|endoftext|>"});
  auto tok = BpeTokenizer::from_file(dir / "tok/tokenizer.json");
  EXPECT_EQ(tok->vocab_size(), 257);
  EXPECT_EQ(tok->num_merges(), 0);
  std::string bytes;
  for (int b = 0; b < 256; ++b) bytes += static_cast<char>(b);
  bytes += "caf\xC3\xA9 \t\n";
  const auto ids = tok->encode(bytes);
  ASSERT_EQ(ids.size(), bytes.size());
  for (size_t i = 0; i < ids.size(); ++i) EXPECT_EQ(ids[i], static_cast<unsigned char>(bytes[i]));
  EXPECT_EQ(ByteTokenizer().encode(bytes), ids);
  EXPECT_EQ(tok->encode("a<|endoftext|>"), (std::vector<int64_t>{97, 256}));
  EXPECT_EQ(tok->decode(ids), bytes);
  EXPECT_EQ(BpeTokenizer::from_json(byte_level_tokenizer_json(), "x")->vocab_size(), 256);
}

TEST(ByteTokenizer, EncodeDecodeAndLoadByName) {
  ByteTokenizer t;
  EXPECT_EQ(t.encode("A\xFF"), (std::vector<int64_t>{65, 255}));
  EXPECT_EQ(t.decode({104, 105}), "hi");
  EXPECT_EQ(t.token_to_id("a"), 97);
  EXPECT_EQ(t.token_to_id("ab"), -1);
  EXPECT_TRUE(throws_with([&] { t.decode({256}); }, {"ByteTokenizer::decode", "id 256 out of range"}));
  EXPECT_EQ(load_tokenizer("bytes")->vocab_size(), 256);
  EXPECT_EQ(load_tokenizer(fixture("tiny_bpe_tokenizer.json"))->vocab_size(), 286);
}
