// task_builders.h: turn installed corpora into JSONL tasks the text sources read:
//   train.jsonl / test.jsonl   {"prompt", "answer"} (PromptAnswerSet: loss on the answer only)
//   test_choices.jsonl         {"context", "choices", "label"} (MultipleChoiceSet: acc / acc_norm)
//   classes.txt                one class name per line, in label order
// SpamAssassin ham/spam: train on the *-1 groups, test on the *-2 groups (collected later).
// Fortunes language identification: one class per language package, a seeded per-class split.
// The command-line front end is apps/build_tasks (`build_tasks spam|fortunes`).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace datasets {

struct TaskReport {
  std::string out_dir;
  std::vector<std::string> classes;
  int64_t train = 0, test = 0;
  std::map<std::string, int64_t> train_per_class, test_per_class;
};

struct SpamTaskOptions {
  int64_t max_bytes = 2000;  // each message is cut to this many bytes (at a UTF-8 boundary); 0: whole
  bool body_only = false;    // drop the RFC-822 headers (everything before the first blank line)
};

// data_dir: the package's data/ folder (easy-ham-1, easy-ham-2, hard-ham-1, spam-1, spam-2, each of
// <n>.<md5>.txt files). Prompt "Email:\n<text>\nLabel:", answer " ham" / " spam".
TaskReport build_spam_assassin_task(const std::string& data_dir, const std::string& out_dir, const SpamTaskOptions& opt = {});

struct FortunesTaskOptions {
  // Languages to use (codes below); empty: all 12. en de es it ru pl cs pt zh eo bg ga.
  std::vector<std::string> languages;
  int64_t max_per_class = 2000;  // fortunes kept per language (before the split); 0: all
  double test_fraction = 0.1;
  uint64_t seed = 0;
  int64_t max_bytes = 600;       // each fortune cut to this many bytes; 0: whole
};

// Fortune files of each language under `fortunes_dir` (/usr/share/games/fortunes): English = the
// regular files at the top (not the pt/zh ones, not symlinks), the others from their folders or
// files. Items are separated by lines holding only "%". Prompt "Text:\n<fortune>\nLanguage:",
// answer " <code>".
TaskReport build_fortunes_langid_task(const std::string& fortunes_dir, const std::string& out_dir, const FortunesTaskOptions& opt = {});
// The language codes, in label order: en de es it ru pl cs pt zh eo bg ga.
const std::vector<std::string>& fortune_languages();
// The fortune files of one language code (for inspection and tests).
std::vector<std::string> fortune_files(const std::string& fortunes_dir, const std::string& language);
// The "%"-separated items of one fortune file.
std::vector<std::string> read_fortunes(const std::string& path);

}  // namespace datasets
