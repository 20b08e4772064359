// installed_data_slow_test.cpp: the real data sets where scripts/get-data.sh puts them (each test
// skips, naming the path, when its set is not installed): full MNIST (raw IDX) and Fashion-MNIST
// (gzip'd IDX) with their known class counts and the committed slices as their first images, both
// through the DataLoader with 2 workers; GPT-2 ids on all of Moby-Dick and the installed
// tokenizer.json against the committed copy; a cached token stream of Moby-Dick; the SpamAssassin
// and fortunes tasks.
#include <nlohmann/json.hpp>

#include <algorithm>

#include "datasets/bpe_tokenizer.h"
#include "datasets/data_loader.h"
#include "datasets/data_paths.h"
#include "datasets/file_io.h"
#include "datasets/idx.h"
#include "datasets/task_builders.h"
#include "datasets/text_sources.h"
#include "datasets/token_cache.h"
#include "datasets_test_util.h"

using namespace datasets;
using json = nlohmann::json;
using pm_test::fixture;

namespace {

uint64_t fnv_ids(const std::vector<int64_t>& ids) {
  uint64_t h = kFnvOffset;
  for (int64_t id : ids) {
    const int32_t v = static_cast<int32_t>(id);
    h = fnv1a(&v, 4, h);
  }
  return h;
}

LoaderOptions loader_opts(int workers) {
  LoaderOptions o;
  o.batch_size = 500, o.shuffle = true, o.seed = 3, o.num_workers = workers;
  return o;
}

}  // namespace

TEST(InstalledData, MnistRawIdx) {
  PM_REQUIRE_PATH(mnist_dir());
  auto train = open_mnist(mnist_dir(), true);
  ASSERT_EQ(train->size(), 60000);
  EXPECT_EQ(train->get(0).image.shape(), (tensor::Shape{1, 28, 28}));
  std::vector<int64_t> counts(10, 0);
  for (int64_t l : train->labels()) ++counts[l];
  EXPECT_EQ(counts, (std::vector<int64_t>{5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949}));
  // The committed slice is the first eight of this file.
  EXPECT_TRUE(pm_test::tensors_close(train->images().narrow(0, 0, 8).squeeze(1).contiguous(), read_idx(fixture("mnist-8-images-idx3-ubyte")), 0, 0));
  auto test = open_mnist(mnist_dir(), false);
  ASSERT_EQ(test->size(), 10000);
  EXPECT_EQ(std::vector<int64_t>(test->labels().begin(), test->labels().begin() + 10), (std::vector<int64_t>{7, 2, 1, 0, 4, 1, 4, 9, 5, 9}));
}

TEST(InstalledData, FashionMnistGzippedIdx) {
  PM_REQUIRE_PATH(fashion_mnist_dir());
  auto train = open_fashion_mnist(fashion_mnist_dir(), true);
  ASSERT_EQ(train->size(), 60000);
  std::vector<int64_t> counts(10, 0);
  for (int64_t l : train->labels()) ++counts[l];
  EXPECT_EQ(counts, std::vector<int64_t>(10, 6000));
  EXPECT_EQ(std::vector<int64_t>(train->labels().begin(), train->labels().begin() + 10), (std::vector<int64_t>{9, 0, 0, 3, 0, 2, 7, 2, 5, 5}));
  auto test = open_fashion_mnist(fashion_mnist_dir(), false, 3);
  ASSERT_EQ(test->size(), 10000);
  EXPECT_EQ(test->class_names()[test->get(0).label], "Ankle boot");
  EXPECT_EQ(test->get(0).image.shape(), (tensor::Shape{3, 28, 28}));
  tensor::Tensor slice = read_idx(fixture("fashion-8-images-idx3-ubyte.gz"));
  EXPECT_TRUE(pm_test::tensors_close(test->images().narrow(0, 0, 8).select(1, 0).contiguous(), slice, 0, 0));
}

TEST(InstalledData, MnistThroughTheLoaderWithTwoWorkersMatchesInline) {
  PM_REQUIRE_PATH(mnist_dir());
  std::shared_ptr<const ImageSource> train = open_mnist(mnist_dir(), true);
  const Transform aug = compose({random_crop(28, 28, 2), horizontal_flip(), to_float(), normalize({0.1307f}, {0.3081f})});
  auto inline_loader = make_image_loader(train, aug, loader_opts(0));
  auto threaded = make_image_loader(train, aug, loader_opts(2));
  inline_loader->start_epoch(1);
  threaded->start_epoch(1);
  ImageBatch a, b;
  std::vector<bool> seen(60000, false);
  int64_t batches = 0;
  while (threaded->next(b)) {
    ASSERT_TRUE(inline_loader->next(a));
    ASSERT_EQ(a.indices, b.indices);
    if (batches % 20 == 0) {
      EXPECT_TRUE(pm_test::tensors_close(a.images, b.images, 0, 0)) << "batch " << batches;
    }
    for (int64_t i : b.indices) seen[i] = true;
    ++batches;
  }
  EXPECT_FALSE(inline_loader->next(a));
  EXPECT_EQ(batches, 120);
  EXPECT_EQ(std::count(seen.begin(), seen.end(), true), 60000);
}

TEST(InstalledData, Gpt2TokenizerJsonIsTheCommittedOne) {
  PM_REQUIRE_PATH(gpt2_tokenizer_json());
  EXPECT_EQ(read_file(gpt2_tokenizer_json()), read_file_maybe_gzip(fixture("gpt2_tokenizer.json.gz")));
  auto tok = BpeTokenizer::from_file(gpt2_tokenizer_json());
  const json fx = json::parse(read_file(fixture("gpt2_ids.json")));
  for (const auto& c : fx["cases"]) EXPECT_EQ(tok->encode(c["text"].get<std::string>()), c["ids"].get<std::vector<int64_t>>());
}

TEST(InstalledData, Gpt2OnAllOfMobyDick) {
  PM_REQUIRE_PATH(moby_dick_txt());
  PM_REQUIRE_PATH(gpt2_tokenizer_json());
  const json fx = json::parse(read_file(fixture("gpt2_ids.json")));
  ASSERT_TRUE(fx.contains("moby_dick"));
  auto tok = BpeTokenizer::from_file(gpt2_tokenizer_json());
  const std::string text = read_file(moby_dick_txt());
  ASSERT_EQ(static_cast<int64_t>(text.size()), fx["moby_dick"]["bytes"].get<int64_t>());
  const auto ids = tok->encode(text);
  EXPECT_EQ(static_cast<int64_t>(ids.size()), fx["moby_dick"]["count"].get<int64_t>());
  char hex[20];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(fnv_ids(ids)));
  EXPECT_EQ(std::string(hex), fx["moby_dick"]["fnv1a64"].get<std::string>());
  EXPECT_EQ(tok->decode(ids), text);
}

TEST(InstalledData, MobyDickTokenCacheAndWindows) {
  PM_REQUIRE_PATH(moby_dick_txt());
  PM_REQUIRE_PATH(gpt2_tokenizer_json());
  pm_test::TempDir dir;
  auto tok = BpeTokenizer::from_file(gpt2_tokenizer_json());
  const int64_t eos = tok->token_to_id("<|endoftext|>");
  bool hit = true;
  auto ids = std::make_shared<std::vector<int32_t>>(tokenize_corpus({moby_dick_txt()}, *tok, dir / "moby.tok", {eos}, &hit));
  EXPECT_FALSE(hit);
  const json fx = json::parse(read_file(fixture("gpt2_ids.json")));
  EXPECT_EQ(static_cast<int64_t>(ids->size()), fx["moby_dick"]["count"].get<int64_t>() + 1);
  EXPECT_EQ(ids->back(), eos);
  EXPECT_EQ(tokenize_corpus({moby_dick_txt()}, *tok, dir / "moby.tok", {eos}, &hit), *ids);
  EXPECT_TRUE(hit);
  TokenCacheInfo info;
  read_token_cache(dir / "moby.tok", &info);
  EXPECT_EQ(info.token_bytes, 2u);  // 50257 ids fit in 16 bits
  WindowOptions w;
  w.seq_len = 256, w.held_out = 0.05;
  TokenWindows train(ids, w);
  w.validation = true;
  TokenWindows val(ids, w);
  EXPECT_EQ(train.part_end(), val.part_begin());
  EXPECT_EQ(val.part_end(), static_cast<int64_t>(ids->size()));
  Rng rng(0, 0);
  EXPECT_EQ(tok->decode(train.get(0, rng).ids).substr(0, 40), read_file(moby_dick_txt()).substr(0, 40));
}

TEST(InstalledData, SpamAssassinTask) {
  PM_REQUIRE_PATH(spam_assassin_dir());
  pm_test::TempDir dir;
  const TaskReport r = build_spam_assassin_task(spam_assassin_dir(), dir.path());
  EXPECT_EQ(r.train_per_class.at("ham"), 2500 + 250);
  EXPECT_EQ(r.train_per_class.at("spam"), 500);
  EXPECT_EQ(r.test_per_class.at("ham"), 1400);
  EXPECT_EQ(r.test_per_class.at("spam"), 1396);
  ByteTokenizer bytes;
  EXPECT_EQ(PromptAnswerSet(dir / "train.jsonl", bytes).size(), 3250);
  EXPECT_EQ(MultipleChoiceSet(dir / "test_choices.jsonl", bytes).num_docs(), 2796);
}

TEST(InstalledData, FortunesLanguageIdTask) {
  PM_REQUIRE_PATH(fortunes_dir() + "/de");
  pm_test::TempDir dir;
  FortunesTaskOptions opt;
  opt.max_per_class = 200;
  const TaskReport r = build_fortunes_langid_task(fortunes_dir(), dir.path(), opt);
  EXPECT_EQ(r.classes, fortune_languages());
  for (const auto& c : r.classes) EXPECT_GT(r.train_per_class.at(c) + r.test_per_class.at(c), 100) << c;
  ByteTokenizer bytes;
  EXPECT_EQ(PromptAnswerSet(dir / "test.jsonl", bytes).size(), r.test);
}
