// task_builders_test.cpp: SpamAssassin and fortunes tasks on small generated trees, read back
// through the text sources (the installed corpora: installed_data_slow_test.cpp).
#include <nlohmann/json.hpp>
#include <sstream>

#include "datasets/errors.h"
#include "datasets/file_io.h"
#include "datasets/task_builders.h"
#include "datasets/text_sources.h"
#include "datasets_test_util.h"

using namespace datasets;
using pm_test::throws_with;

namespace {
std::vector<nlohmann::json> jsonl(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::istringstream in(read_file(path));
  std::string line;
  while (std::getline(in, line)) out.push_back(nlohmann::json::parse(line));
  return out;
}
}  // namespace

TEST(TaskBuilders, SpamAssassinSplitsByGroup) {
  pm_test::TempDir dir;
  pm_test::write_text(dir / "data/easy-ham-1/00001.aa.txt", "From: a\nSubject: hi\n\nlunch?");
  pm_test::write_text(dir / "data/easy-ham-1/00001.aa.json", "{}");
  pm_test::write_text(dir / "data/hard-ham-1/00001.bb.txt", "From: b\n\nnewsletter \xff\xfe bytes");
  pm_test::write_text(dir / "data/spam-1/00001.cc.txt", "From: c\n\nWIN $$$ " + std::string(5000, 'x'));
  pm_test::write_text(dir / "data/easy-ham-2/00001.dd.txt", "From: d\n\nmeeting");
  pm_test::write_text(dir / "data/spam-2/00001.ee.txt", "From: e\n\ncheap pills");
  pm_test::write_text(dir / "data/spam-2/00002.ff.txt", "From: f\n\nmore pills");
  SpamTaskOptions opt;
  opt.max_bytes = 100;
  const TaskReport r = build_spam_assassin_task(dir / "data", dir / "out", opt);
  EXPECT_EQ(r.train, 3);
  EXPECT_EQ(r.test, 3);
  EXPECT_EQ(r.classes, (std::vector<std::string>{"ham", "spam"}));
  EXPECT_EQ(r.train_per_class.at("ham"), 2);
  EXPECT_EQ(r.test_per_class.at("spam"), 2);
  const auto train = jsonl(dir / "out/train.jsonl");
  EXPECT_EQ(train[0]["prompt"], "Email:\nFrom: a\nSubject: hi\n\nlunch?\nLabel:");
  EXPECT_EQ(train[0]["answer"], " ham");
  EXPECT_EQ(train[2]["answer"], " spam");
  EXPECT_EQ(train[2]["prompt"].get<std::string>().size(), 100u + 7 + 7);
  EXPECT_NE(train[1]["prompt"].get<std::string>().find("\xEF\xBF\xBD"), std::string::npos);  // invalid bytes -> U+FFFD
  const auto mc = jsonl(dir / "out/test_choices.jsonl");
  EXPECT_EQ(mc[1]["choices"], nlohmann::json::array({"ham", "spam"}));
  EXPECT_EQ(mc[1]["label"], 1);
  EXPECT_EQ(read_file(dir / "out/classes.txt"), "ham\nspam\n");
  ByteTokenizer bytes;
  EXPECT_EQ(PromptAnswerSet(dir / "out/train.jsonl", bytes).size(), 3);
  EXPECT_EQ(MultipleChoiceSet(dir / "out/test_choices.jsonl", bytes).num_docs(), 3);
  opt.body_only = true;
  build_spam_assassin_task(dir / "data", dir / "body", opt);
  EXPECT_EQ(jsonl(dir / "body/train.jsonl")[0]["prompt"], "Email:\nlunch?\nLabel:");
  EXPECT_TRUE(throws_with([&] { build_spam_assassin_task(dir / "nope", dir / "o"); }, {dir / "nope", "not a folder"}));
  std::filesystem::remove_all(dir / "data/spam-2");
  EXPECT_TRUE(throws_with([&] { build_spam_assassin_task(dir / "data", dir / "o"); }, {dir / "data/spam-2", "missing SpamAssassin group folder"}));
}

TEST(TaskBuilders, FortunesLanguageId) {
  pm_test::TempDir dir;
  const std::string f = dir / "fortunes";
  std::string en, de;
  for (int i = 0; i < 20; ++i) en += "English fortune " + std::to_string(i) + "\n\t-- someone\n%\n";
  for (int i = 0; i < 10; ++i) de += "Deutsches Sprichwort " + std::to_string(i) + "\n%\n";
  pm_test::write_text(f + "/wisdom", en);
  pm_test::write_text(f + "/wisdom.dat", "index");
  pm_test::write_text(f + "/de/sprueche", de);
  pm_test::write_text(f + "/de/sprueche.dat", "index");
  pm_test::write_text(f + "/brasil", "Provérbio\n%\nOutro\n");
  std::filesystem::create_symlink("de/sprueche", f + "/linked");  // top-level symlinks are not English
  EXPECT_EQ(fortune_files(f, "en"), (std::vector<std::string>{f + "/wisdom"}));
  EXPECT_EQ(fortune_files(f, "de"), (std::vector<std::string>{f + "/de/sprueche"}));
  EXPECT_EQ(read_fortunes(f + "/brasil"), (std::vector<std::string>{"Provérbio", "Outro"}));
  FortunesTaskOptions opt;
  opt.languages = {"en", "de", "pt"};
  opt.test_fraction = 0.2;
  opt.max_per_class = 15;
  const TaskReport r = build_fortunes_langid_task(f, dir / "out", opt);
  EXPECT_EQ(r.train_per_class.at("en") + r.test_per_class.at("en"), 15);
  EXPECT_EQ(r.test_per_class.at("en"), 3);
  EXPECT_EQ(r.test_per_class.at("de"), 2);
  EXPECT_EQ(r.test_per_class.at("pt"), 1);
  const auto test = jsonl(dir / "out/test.jsonl");
  EXPECT_EQ(test[0]["answer"], " en");
  EXPECT_EQ(test[0]["prompt"].get<std::string>().rfind("Text:\nEnglish fortune ", 0), 0u);
  // Seeded: the same split twice.
  build_fortunes_langid_task(f, dir / "again", opt);
  EXPECT_EQ(read_file(dir / "again/train.jsonl"), read_file(dir / "out/train.jsonl"));
  opt.languages = {"ga"};
  EXPECT_TRUE(throws_with([&] { build_fortunes_langid_task(f, dir / "o", opt); }, {f, "no fortunes for language 'ga'"}));
  EXPECT_TRUE(throws_with([&] { fortune_files(f, "xx"); }, {"unknown language 'xx'"}));
}
