// bad_input_test.cpp: the five bad-input cases, each checked for the same contract: a
// DataError whose message is ONE line that starts with the offending file (and ":<line>" for JSONL),
// so a program can print it as "<program>: error: <message>". Also the flag that skips undecodable
// images and reports how many it skipped.
#include <nlohmann/json.hpp>

#include "datasets/bpe_tokenizer.h"
#include "datasets/errors.h"
#include "datasets/file_io.h"
#include "datasets/idx.h"
#include "datasets/image_folder.h"
#include "datasets/text_sources.h"
#include "datasets_test_util.h"

using namespace datasets;
using pm_test::fixture;

namespace {

// Runs f; passes when it throws a DataError for `path` (and `line` when > 0) whose message is one
// line starting with "path: " (or "path:line: ") and containing `what`.
template <typename F>
::testing::AssertionResult one_line_error(F&& f, const std::string& path, int64_t line, const std::string& what) {
  try {
    f();
  } catch (const DataError& e) {
    const std::string msg = e.what();
    const std::string head = line > 0 ? path + ":" + std::to_string(line) + ": " : path + ": ";
    if (msg.find('\n') != std::string::npos || msg.find('\r') != std::string::npos)
      return ::testing::AssertionFailure() << "message spans lines: " << msg;
    if (msg.rfind(head, 0) != 0) return ::testing::AssertionFailure() << "message '" << msg << "' does not start with '" << head << "'";
    if (msg.find(what) == std::string::npos) return ::testing::AssertionFailure() << "message '" << msg << "' lacks '" << what << "'";
    if (e.path() != path || e.line() != line)
      return ::testing::AssertionFailure() << "DataError names " << e.path() << ":" << e.line() << ", expected " << path << ":" << line;
    return ::testing::AssertionSuccess() << msg;
  } catch (const std::exception& e) {
    return ::testing::AssertionFailure() << "threw a non-DataError: " << e.what();
  }
  return ::testing::AssertionFailure() << "no exception thrown";
}

}  // namespace

TEST(BadInput, TruncatedIdx) {
  pm_test::TempDir dir;
  const std::string good = read_file(fixture("mnist-8-images-idx3-ubyte"));
  pm_test::write_text(dir / "train-images-idx3-ubyte", good.substr(0, 1000));
  EXPECT_TRUE(one_line_error([&] { read_idx(dir / "train-images-idx3-ubyte"); }, dir / "train-images-idx3-ubyte", 0, "truncated IDX"));
  // Through the MNIST opener too, and gzip'd (the stream itself cut short).
  pm_test::copy_file(fixture("mnist-8-labels-idx1-ubyte"), dir / "train-labels-idx1-ubyte");
  EXPECT_TRUE(one_line_error([&] { open_mnist(dir.path(), true); }, dir / "train-images-idx3-ubyte", 0, "truncated IDX"));
  const std::string gz = read_file(fixture("fashion-8-images-idx3-ubyte.gz"));
  pm_test::write_text(dir / "cut.gz", gz.substr(0, gz.size() - 40));
  EXPECT_TRUE(one_line_error([&] { read_idx(dir / "cut.gz"); }, dir / "cut.gz", 0, "truncated gzip stream"));
}

TEST(BadInput, ImageThatFailsToDecode) {
  pm_test::TempDir dir;
  const std::string png = read_file(fixture("images/python.png"));
  pm_test::write_text(dir / "cat/ok.png", png);
  pm_test::write_text(dir / "cat/cut.png", png.substr(0, 60));
  pm_test::write_text(dir / "dog/fake.jpg", "GIF89a, not a JPEG\n\nsecond line");
  ImageFolder f(dir.path());
  EXPECT_TRUE(one_line_error([&] { f.get(0); }, dir / "cat/cut.png", 0, "cannot decode image"));
  EXPECT_TRUE(one_line_error([&] { f.get(2); }, dir / "dog/fake.jpg", 0, "cannot decode image"));
}

TEST(BadInput, EmptyClassFolder) {
  pm_test::TempDir dir;
  pm_test::write_text(dir / "cat/ok.png", read_file(fixture("images/python.png")));
  pm_test::write_text(dir / "dog/notes.txt", "no images here");
  EXPECT_TRUE(one_line_error([&] { ImageFolder f(dir.path()); }, dir / "dog", 0, "empty class folder"));
}

TEST(BadInput, JsonlLineMissingAField) {
  pm_test::TempDir dir;
  ByteTokenizer bytes;
  pm_test::write_text(dir / "train.jsonl", "{\"prompt\": \"a\", \"answer\": \"b\"}\n{\"prompt\": \"x\\ny\"}\n");
  EXPECT_TRUE(one_line_error([&] { PromptAnswerSet(dir / "train.jsonl", bytes); }, dir / "train.jsonl", 2, "missing field \"answer\""));
  pm_test::write_text(dir / "mc.jsonl", "\n\n{\"context\": \"c\", \"label\": 0}\n");
  EXPECT_TRUE(one_line_error([&] { MultipleChoiceSet(dir / "mc.jsonl", bytes); }, dir / "mc.jsonl", 3, "missing field \"choices\""));
}

TEST(BadInput, TokenizerJsonOfAnUnsupportedModelType) {
  pm_test::TempDir dir;
  nlohmann::json j = nlohmann::json::parse(read_file(fixture("tiny_bpe_tokenizer.json")));
  j["model"]["type"] = "Unigram";
  pm_test::write_text(dir / "tokenizer.json", j.dump(1));
  EXPECT_TRUE(one_line_error([&] { load_tokenizer(dir / "tokenizer.json"); }, dir / "tokenizer.json", 0,
                             "unsupported tokenizer model type \"Unigram\""));
  j["model"]["type"] = "WordPiece";
  pm_test::write_text(dir / "wordpiece.json", j.dump(1));
  EXPECT_TRUE(one_line_error([&] { BpeTokenizer::from_file(dir / "wordpiece.json"); }, dir / "wordpiece.json", 0,
                             "unsupported tokenizer model type \"WordPiece\""));
}

TEST(BadInput, SkipUndecodableFlagReportsHowMany) {
  pm_test::TempDir dir;
  const std::string png = read_file(fixture("images/python.png"));
  pm_test::write_text(dir / "a/1.png", png);
  pm_test::write_text(dir / "a/2.png", "broken");
  pm_test::write_text(dir / "b/3.png", png);
  pm_test::write_text(dir / "b/4.bmp", png.substr(0, 10));
  ImageFolderOptions opt;
  opt.skip_undecodable = true;
  ImageFolder f(dir.path(), opt);
  EXPECT_EQ(f.size(), 2);
  EXPECT_EQ(f.skipped(), 2);
  EXPECT_EQ(f.skipped_files(), (std::vector<std::string>{dir / "a/2.png", dir / "b/4.bmp"}));
}
