// The `r1` command line: each file adds its subcommands to the CLI11 app. Commands throw
// r1::UserError for bad input; main maps it to exit code 2.
#pragma once

#include <functional>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "common/jsonl.h"

namespace r1::cli {

void add_pipeline_commands(CLI::App& app);  // run, stage, status
void add_model_commands(CLI::App& app);     // generate, model info|logprobs, tokenize
void add_reward_commands(CLI::App& app);    // rewards list|score
void add_trace_commands(CLI::App& app);     // traces list|show|search|stats|export|reindex
void add_bench_commands(CLI::App& app);     // bench rollout|learner|rewards|store|tokenizer
void add_serve_commands(CLI::App& app);     // serve (the trace viewer)

// JSON text for output. Model text is bytes, not always valid UTF-8 (a byte tokenizer can split a
// character, a sampled byte can be anything): invalid bytes become U+FFFD instead of throwing.
std::string to_json_text(const nlohmann::json& value, int indent = -1);

// Reads a JSONL file ("-" for stdin) line by line; UserError names the file and line.
using r1::for_each_jsonl;  // common/jsonl.h

}  // namespace r1::cli
