// corpus.h: the text corpora pretrain_lm reads, by name (what scripts/get-data.sh installs) or path,
// and the training / validation split of their token stream.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace pretrain_lm {

// Corpus names: moby-dick, sotu, fortunes-en, kjv, gcide (see ../shared/docs/data-sources.md), or a
// path to a text file or a folder of *.txt files. Throws std::invalid_argument naming the corpus and
// the get-data.sh set that installs it when it is absent.
std::vector<std::string> corpus_files(const std::string& name_or_path);
const std::vector<std::string>& corpus_names();

// Splits a token stream into blocks of `block` tokens; every block whose index i has
// floor((i + 1) * held_out) > floor(i * held_out) goes to validation (a held_out fraction spread over
// the whole stream, so every corpus is represented), the rest to training.
void split_stream(const std::vector<int32_t>& tokens, double held_out, int64_t block, std::vector<int32_t>& train,
                  std::vector<int32_t>& valid);

}  // namespace pretrain_lm
