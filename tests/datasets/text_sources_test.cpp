// text_sources_test.cpp: the token cache (format, validation, reuse), token windows, JSONL
// prompt/answer and multiple-choice sets (masks, the lm-eval-harness encoding rules, bad lines),
// and acc / acc_norm scoring.
#include <set>

#include "datasets/bpe_tokenizer.h"
#include "datasets/data_paths.h"
#include "datasets/errors.h"
#include "datasets/file_io.h"
#include "datasets/text_sources.h"
#include "datasets/token_cache.h"
#include "datasets_test_util.h"

using namespace datasets;
using pm_test::fixture;
using pm_test::throws_with;

TEST(TokenCache, RoundTripAndWidths) {
  pm_test::TempDir dir;
  const std::vector<int32_t> small = {0, 5, 65535, 7};
  write_token_cache(dir / "a.bin", small, 65536, 99);
  TokenCacheInfo info;
  EXPECT_EQ(read_token_cache(dir / "a.bin", &info), small);
  EXPECT_EQ(info.token_bytes, 2u);
  EXPECT_EQ(info.source_hash, 99u);
  EXPECT_EQ(read_file(dir / "a.bin").size(), 64u + 8u);
  const std::vector<int32_t> big = {70000, 1, 100000};
  write_token_cache(dir / "b.bin", big, 100001, 1);
  EXPECT_EQ(read_token_cache(dir / "b.bin", &info), big);
  EXPECT_EQ(info.token_bytes, 4u);
  EXPECT_TRUE(throws_with([&] { write_token_cache(dir / "c.bin", {3}, 3, 0); }, {"write_token_cache", "outside the vocabulary of 3"}));
}

TEST(TokenCache, HeaderValidationNamesTheFile) {
  pm_test::TempDir dir;
  write_token_cache(dir / "good.bin", {1, 2, 3, 4}, 256, 7);
  const std::string good = read_file(dir / "good.bin");
  pm_test::write_text(dir / "short.bin", good.substr(0, 40));
  EXPECT_TRUE(throws_with([&] { read_token_cache(dir / "short.bin"); }, {dir / "short.bin", "truncated token cache (40 bytes"}));
  pm_test::write_text(dir / "cut.bin", good.substr(0, good.size() - 2));
  EXPECT_TRUE(throws_with([&] { read_token_cache(dir / "cut.bin"); }, {dir / "cut.bin", "header says 4 tokens x 2 bytes", "6 payload bytes"}));
  std::string magic = good;
  magic[0] = 'X';
  pm_test::write_text(dir / "magic.bin", magic);
  EXPECT_TRUE(throws_with([&] { read_token_cache(dir / "magic.bin"); }, {dir / "magic.bin", "not a token cache"}));
  std::string flipped = good;
  flipped[66] ^= 1;
  pm_test::write_text(dir / "flip.bin", flipped);
  EXPECT_TRUE(throws_with([&] { read_token_cache(dir / "flip.bin"); }, {dir / "flip.bin", "payload checksum mismatch"}));
  std::string version = good;
  version[8] = 9;
  pm_test::write_text(dir / "version.bin", version);
  EXPECT_TRUE(throws_with([&] { read_token_cache(dir / "version.bin"); }, {dir / "version.bin", "version 9"}));
  std::string width = good;
  width[12] = 3;
  pm_test::write_text(dir / "width.bin", width);
  EXPECT_TRUE(throws_with([&] { read_token_cache(dir / "width.bin"); }, {dir / "width.bin", "3-byte tokens"}));
  write_token_cache(dir / "v.bin", {1, 200}, 256, 0);
  std::string vocab = read_file(dir / "v.bin");
  vocab[24] = 100, vocab[25] = 0;  // vocabulary size 100 < token 200 (the checksum covers only the payload)
  pm_test::write_text(dir / "vocab.bin", vocab);
  EXPECT_TRUE(throws_with([&] { read_token_cache(dir / "vocab.bin"); }, {dir / "vocab.bin", "token 1 is 200, vocabulary size 100"}));
}

TEST(TokenCache, TokenizeCorpusOnceThenReuse) {
  pm_test::TempDir dir;
  pm_test::write_text(dir / "a.txt", "hello world\n");
  pm_test::write_text(dir / "b.txt", "second file");
  ByteTokenizer bytes;
  bool hit = true;
  const auto t1 = tokenize_corpus({dir / "a.txt", dir / "b.txt"}, bytes, dir / "cache/corpus.tok", {0}, &hit);
  EXPECT_FALSE(hit);
  EXPECT_EQ(t1.size(), 12u + 1 + 11 + 1);
  EXPECT_EQ(t1[12], 0);
  const auto t2 = tokenize_corpus({dir / "a.txt", dir / "b.txt"}, bytes, dir / "cache/corpus.tok", {0}, &hit);
  EXPECT_TRUE(hit);
  EXPECT_EQ(t1, t2);
  // A changed source, another separator or another tokenizer rebuilds.
  pm_test::write_text(dir / "b.txt", "second file, edited");
  tokenize_corpus({dir / "a.txt", dir / "b.txt"}, bytes, dir / "cache/corpus.tok", {0}, &hit);
  EXPECT_FALSE(hit);
  tokenize_corpus({dir / "a.txt", dir / "b.txt"}, bytes, dir / "cache/corpus.tok", {}, &hit);
  EXPECT_FALSE(hit);
  auto bpe = BpeTokenizer::from_file(fixture("tiny_bpe_tokenizer.json"));
  const auto t3 = tokenize_corpus({dir / "a.txt", dir / "b.txt"}, *bpe, dir / "cache/corpus.tok", {}, &hit);
  EXPECT_FALSE(hit);
  EXPECT_EQ(read_token_cache(dir / "cache/corpus.tok"), t3);
  EXPECT_EQ(corpus_source_hash({dir / "a.txt", dir / "b.txt"}, *bpe, {}), [&] {
    TokenCacheInfo i;
    read_token_cache(dir / "cache/corpus.tok", &i);
    return i.source_hash;
  }());
  // Something that is not a cache is never overwritten.
  pm_test::write_text(dir / "notes.txt", "my notes");
  EXPECT_TRUE(throws_with([&] { tokenize_corpus({dir / "a.txt"}, bytes, dir / "notes.txt"); }, {dir / "notes.txt", "not a token cache"}));
  EXPECT_EQ(read_file(dir / "notes.txt"), "my notes");
}

TEST(TokenWindows, ContiguousRandomAndHeldOut) {
  auto tokens = std::make_shared<std::vector<int32_t>>();
  for (int i = 0; i < 100; ++i) tokens->push_back(i);
  WindowOptions o;
  o.seq_len = 9;
  o.held_out = 0.2;
  TokenWindows train(tokens, o);
  EXPECT_EQ(train.part_end(), 80);
  EXPECT_EQ(train.size(), (80 - 10) / 9 + 1);
  Rng rng(0, 0);
  TextExample ex = train.get(2, rng);
  EXPECT_EQ(ex.ids.front(), 18);
  EXPECT_EQ(ex.ids.size(), 10u);
  EXPECT_EQ(ex.loss_mask, (std::vector<uint8_t>{0, 1, 1, 1, 1, 1, 1, 1, 1, 1}));
  EXPECT_LE(train.get(train.size() - 1, rng).ids.back(), 79);
  o.validation = true;
  TokenWindows val(tokens, o);
  EXPECT_EQ(val.part_begin(), 80);
  EXPECT_EQ(val.size(), 2);
  EXPECT_EQ(val.get(0, rng).ids.front(), 80);
  o.validation = false;
  o.random = true;
  o.windows_per_epoch = 50;
  TokenWindows rnd(tokens, o);
  EXPECT_EQ(rnd.size(), 50);
  std::set<int64_t> starts;
  for (int64_t i = 0; i < 50; ++i) {
    Rng r = Rng::for_example(5, 0, i), r2 = Rng::for_example(5, 0, i);
    const auto a = rnd.get(i, r);
    EXPECT_EQ(a.ids, rnd.get(i, r2).ids);
    EXPECT_GE(a.ids.front(), 0);
    EXPECT_LE(a.ids.back(), 79);  // never crosses into the held-out tail
    EXPECT_EQ(a.ids.back() - a.ids.front(), 9);
    starts.insert(a.ids.front());
  }
  EXPECT_GT(starts.size(), 20u);
  o.random = false;
  o.stride = 5;
  EXPECT_EQ(TokenWindows(tokens, o).size(), (80 - 10) / 5 + 1);
  o.seq_len = 80;
  EXPECT_TRUE(throws_with([&] { TokenWindows(tokens, o); }, {"TokenWindows", "training part has 80 tokens, fewer than seq_len + 1 = 81"}));
  o.seq_len = 4;
  o.held_out = 1.0;
  EXPECT_TRUE(throws_with([&] { TokenWindows(tokens, o); }, {"TokenWindows", "held_out must be in [0, 1)"}));
}

TEST(PromptAnswerSet, AnswerOnlyLossMask) {
  pm_test::TempDir dir;
  pm_test::write_text(dir / "t.jsonl", "{\"prompt\": \"Q: 2+2?\\nA:\", \"answer\": \" 4\"}\n\n  \r\n{\"answer\": \"b\", \"prompt\": \"a\", \"extra\": 1}\r\n");
  ByteTokenizer bytes;
  PromptAnswerOptions opt;
  opt.eos_id = 0;
  PromptAnswerSet set(dir / "t.jsonl", bytes, opt);
  ASSERT_EQ(set.size(), 2);
  Rng rng(0, 0);
  const TextExample ex = set.get(0, rng);
  EXPECT_EQ(bytes.decode(std::vector<int64_t>(ex.ids.begin(), ex.ids.end() - 1)), "Q: 2+2?\nA: 4");
  EXPECT_EQ(ex.ids.back(), 0);
  std::vector<uint8_t> mask(10, 0);
  mask.insert(mask.end(), {1, 1, 1});
  EXPECT_EQ(ex.loss_mask, mask);
  EXPECT_EQ(set.items()[1].prompt, "a");
  // max_len drops prompt tokens from the front first, keeping one.
  opt.max_len = 6;
  opt.bos_id = 1;
  PromptAnswerSet cut(dir / "t.jsonl", bytes, opt);
  const TextExample c = cut.get(0, rng);
  EXPECT_EQ(c.ids, (std::vector<int64_t>{1, 'A', ':', ' ', '4', 0}));
  EXPECT_EQ(c.loss_mask, (std::vector<uint8_t>{0, 0, 0, 1, 1, 1}));
}

TEST(PromptAnswerSet, BadLinesNameFileAndLine) {
  pm_test::TempDir dir;
  ByteTokenizer bytes;
  pm_test::write_text(dir / "missing.jsonl", "{\"prompt\": \"a\", \"answer\": \"b\"}\n\n{\"prompt\": \"c\"}\n");
  EXPECT_TRUE(throws_with([&] { PromptAnswerSet(dir / "missing.jsonl", bytes); }, {dir / "missing.jsonl:3: missing field \"answer\""}));
  pm_test::write_text(dir / "type.jsonl", "{\"prompt\": 5, \"answer\": \"b\"}\n");
  EXPECT_TRUE(throws_with([&] { PromptAnswerSet(dir / "type.jsonl", bytes); }, {dir / "type.jsonl:1: field \"prompt\" must be a string, got number"}));
  pm_test::write_text(dir / "json.jsonl", "{\"prompt\": \"a\", \"answer\": \"b\"}\n{\"prompt\": \"a\",\n");
  EXPECT_TRUE(throws_with([&] { PromptAnswerSet(dir / "json.jsonl", bytes); }, {dir / "json.jsonl:2: invalid JSON"}));
  pm_test::write_text(dir / "array.jsonl", "[1, 2]\n");
  EXPECT_TRUE(throws_with([&] { PromptAnswerSet(dir / "array.jsonl", bytes); }, {dir / "array.jsonl:1: expected a JSON object, got array"}));
  pm_test::write_text(dir / "empty.jsonl", "{\"prompt\": \"a\", \"answer\": \"\"}\n");
  EXPECT_TRUE(throws_with([&] { PromptAnswerSet(dir / "empty.jsonl", bytes); }, {dir / "empty.jsonl:1: the answer has no tokens"}));
  EXPECT_TRUE(throws_with([&] { PromptAnswerSet(dir / "none.jsonl", bytes); }, {dir / "none.jsonl: cannot open"}));
}

TEST(MultipleChoiceSet, RequestsFollowLmEvalHarness) {
  pm_test::TempDir dir;
  pm_test::write_text(dir / "mc.jsonl",
                      "{\"context\": \"The sky is \", \"choices\": [\"blue\", \"green\"], \"label\": 0}\n"
                      "{\"context\": \"2+2=\", \"choices\": [\"3\", \"4\", \"5\"], \"label\": 1}\n");
  auto gpt2 = BpeTokenizer::from_file(fixture("gpt2_tokenizer.json.gz"));
  MultipleChoiceSet set(dir / "mc.jsonl", *gpt2);
  EXPECT_EQ(set.num_docs(), 2);
  EXPECT_EQ(set.size(), 5);
  EXPECT_EQ(set.first_request(1), 2);
  Rng rng(0, 0);
  // The context's trailing space moves to the continuation: "The sky is" + "  blue" (two spaces:
  // the moved one and the delimiter), so the context tokens are those of "The sky is".
  const TextExample r0 = set.get(0, rng);
  const auto ctx = gpt2->encode("The sky is");
  const auto whole = gpt2->encode("The sky is  blue");
  EXPECT_EQ(std::vector<int64_t>(r0.ids.begin(), r0.ids.begin() + ctx.size()), ctx);
  EXPECT_EQ(r0.ids, whole);
  EXPECT_EQ(r0.label, 0);
  EXPECT_EQ(set.continuation_tokens(0), static_cast<int64_t>(whole.size() - ctx.size()));
  for (size_t i = 0; i < r0.ids.size(); ++i) EXPECT_EQ(r0.loss_mask[i], i >= ctx.size() ? 1 : 0);
  const TextExample r3 = set.get(3, rng);
  EXPECT_EQ(r3.label, 1);
  EXPECT_EQ(gpt2->decode(r3.ids), "2+2= 4");
}

TEST(MultipleChoiceSet, BadLinesNameFileAndLine) {
  pm_test::TempDir dir;
  ByteTokenizer bytes;
  auto refused = [&](const std::string& line, const std::vector<std::string>& parts) {
    pm_test::write_text(dir / "x.jsonl", "{\"context\": \"c\", \"choices\": [\"a\"], \"label\": 0}\n" + line + "\n");
    std::vector<std::string> all = {dir / "x.jsonl:2: "};
    all.insert(all.end(), parts.begin(), parts.end());
    EXPECT_TRUE(throws_with([&] { MultipleChoiceSet(dir / "x.jsonl", bytes); }, all)) << line;
  };
  refused("{\"choices\": [\"a\"], \"label\": 0}", {"missing field \"context\""});
  refused("{\"context\": \"c\", \"label\": 0}", {"missing field \"choices\""});
  refused("{\"context\": \"c\", \"choices\": [], \"label\": 0}", {"\"choices\" must be a non-empty array of strings"});
  refused("{\"context\": \"c\", \"choices\": [\"a\", 3], \"label\": 0}", {"\"choices\" must be a non-empty array of strings"});
  refused("{\"context\": \"c\", \"choices\": [\"a\"]}", {"missing field \"label\""});
  refused("{\"context\": \"c\", \"choices\": [\"a\"], \"label\": \"0\"}", {"\"label\" must be an integer, got string"});
  refused("{\"context\": \"c\", \"choices\": [\"a\", \"b\"], \"label\": 2}", {"label 2 out of range for 2 choices"});
  refused("{\"context\": \"\", \"choices\": [\"a\"], \"label\": 0}", {"empty context", "prefix_id"});
  MultipleChoiceOptions opt;
  opt.prefix_id = 0;
  pm_test::write_text(dir / "y.jsonl", "{\"context\": \"\", \"choices\": [\"a\"], \"label\": 0}\n");
  Rng rng(0, 0);
  EXPECT_EQ(MultipleChoiceSet(dir / "y.jsonl", bytes, opt).get(0, rng).ids, (std::vector<int64_t>{0, ' ', 'a'}));
}

TEST(MultipleChoiceScoring, AccAndAccNormAsLmEvalHarness) {
  // Summed log-likelihoods favour the short choice; per-character they favour the long one.
  ChoiceResult r = score_choices({-3.0, -8.0}, {2, 10}, 1);
  EXPECT_EQ(r.pred, 0);
  EXPECT_EQ(r.pred_norm, 1);
  EXPECT_FALSE(r.correct);
  EXPECT_TRUE(r.correct_norm);
  // Ties go to the first (numpy.argmax).
  EXPECT_EQ(score_choices({-1.0, -1.0}, {1, 1}, 1).pred, 0);
  EXPECT_TRUE(throws_with([] { score_choices({-1.0}, {1, 2}, 0); }, {"score_choices", "got 1 and 2"}));
  MultipleChoiceDoc d{"ctx", {"caf\xC3\xA9", "ab"}, 0};
  EXPECT_EQ(choice_char_lengths(d), (std::vector<double>{4, 2}));

  pm_test::TempDir dir;
  pm_test::write_text(dir / "mc.jsonl",
                      "{\"context\": \"q1\", \"choices\": [\"yes\", \"no\"], \"label\": 0}\n"
                      "{\"context\": \"q2\", \"choices\": [\"a\", \"bbbbbbbb\"], \"label\": 1}\n");
  ByteTokenizer bytes;
  MultipleChoiceSet set(dir / "mc.jsonl", bytes);
  const MultipleChoiceScores s = score_multiple_choice(set, {-2.0, -3.0, -1.0, -4.0});
  EXPECT_EQ(s.docs, 2);
  EXPECT_DOUBLE_EQ(s.acc, 0.5);       // doc 0 right, doc 1 picks "a"
  EXPECT_DOUBLE_EQ(s.acc_norm, 1.0);  // doc 0: -2/3 vs -3/2 -> yes; doc 1: -1/1 vs -4/8 -> bbbbbbbb
  EXPECT_DOUBLE_EQ(score_multiple_choice(set, {-2.0, -3.0, -1.0, -4.0}, true).acc_norm, 1.0);  // same here: 1 token per byte + delimiter
  EXPECT_TRUE(throws_with([&] { score_multiple_choice(set, {1.0}); }, {"score_multiple_choice", "1 log-likelihoods for 4 requests"}));
}
