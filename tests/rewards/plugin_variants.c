/* Shared-library reward plug-ins that break the rules of rewards/r1_reward_plugin.h, one entry
 * function each, for test_shared_library_reward.cpp to check that r1 refuses or records each one
 * (chosen there with the `symbol` option). Built as libr1_test_plugin_variants.so. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <time.h>

#include "rewards/r1_reward_plugin.h"

static int score_half(void* state, const r1_reward_item* item, r1_reward_verdict* verdict) {
  verdict->score = 0.5;
  return 0;
}

static int score_fails(void* state, const r1_reward_item* item, r1_reward_verdict* verdict) {
  verdict->set_reason(verdict->host, "the judge's model file is missing");
  return 7;
}

static int score_nan(void* state, const r1_reward_item* item, r1_reward_verdict* verdict) {
  verdict->score = NAN;
  return 0;
}

static int score_nan_component(void* state, const r1_reward_item* item, r1_reward_verdict* verdict) {
  verdict->score = 1.0;
  verdict->add_component(verdict->host, "part", INFINITY);
  return 0;
}

static int score_bad_outcome(void* state, const r1_reward_item* item, r1_reward_verdict* verdict) {
  verdict->outcome = 9;
  return 0;
}

static int score_slow(void* state, const r1_reward_item* item, r1_reward_verdict* verdict) {
  struct timespec pause = {0, 400 * 1000 * 1000}; /* 400 ms, past the test's 100 ms limit */
  nanosleep(&pause, NULL);
  verdict->score = 1.0;
  return 0;
}

/* Echoes the metadata JSON and the sizes it was given, to check what crosses the boundary. */
static int score_echo(void* state, const r1_reward_item* item, r1_reward_verdict* verdict) {
  char reason[512];
  snprintf(reason, sizeof(reason), "%zu %zu %zu %s", item->prompt.size, item->completion.size,
           item->reference.size, item->metadata_json.data);
  verdict->set_reason(verdict->host, reason);
  verdict->add_component(verdict->host, "completion_bytes", (double)item->completion.size);
  verdict->score = (double)item->completion.size;
  return 0;
}

static void* refuse_silently(const char* options_json, char* error, size_t error_size) { return NULL; }

#define ENTRY(name, table_init)                                      \
  R1_REWARD_PLUGIN_EXPORT const r1_reward_plugin* name(void) {       \
    static const r1_reward_plugin table = table_init;                \
    return &table;                                                   \
  }

#define TABLE(version, create, score) {version, "a test variant", create, score, NULL}

ENTRY(variant_half, TABLE(R1_REWARD_PLUGIN_ABI_VERSION, NULL, score_half))
ENTRY(variant_old_abi, TABLE(R1_REWARD_PLUGIN_ABI_VERSION + 1, NULL, score_half))
ENTRY(variant_no_score, TABLE(R1_REWARD_PLUGIN_ABI_VERSION, NULL, NULL))
ENTRY(variant_fails, TABLE(R1_REWARD_PLUGIN_ABI_VERSION, NULL, score_fails))
ENTRY(variant_nan, TABLE(R1_REWARD_PLUGIN_ABI_VERSION, NULL, score_nan))
ENTRY(variant_nan_component, TABLE(R1_REWARD_PLUGIN_ABI_VERSION, NULL, score_nan_component))
ENTRY(variant_bad_outcome, TABLE(R1_REWARD_PLUGIN_ABI_VERSION, NULL, score_bad_outcome))
ENTRY(variant_slow, TABLE(R1_REWARD_PLUGIN_ABI_VERSION, NULL, score_slow))
ENTRY(variant_echo, TABLE(R1_REWARD_PLUGIN_ABI_VERSION, NULL, score_echo))
ENTRY(variant_refuses, TABLE(R1_REWARD_PLUGIN_ABI_VERSION, refuse_silently, score_half))

R1_REWARD_PLUGIN_EXPORT const r1_reward_plugin* variant_null(void) { return NULL; }
