/* Example `shared_library` reward plug-in, in C: the same judge as the command and HTTP examples.
 * Score `score_if_found` (option, default 1) when the text after the last </think> contains the
 * reference answer, else 0 with a reason. Built as libr1_example_shared_library_reward.so; used as
 *   rewards: {contains: {reward: shared_library, path: path/to/libr1_example_shared_library_reward.so,
 *                        options: {score_if_found: 1.0}}}
 * It also exports a second entry, r1_example_strict_get, the same judge requiring the answer to be
 * the whole text after </think> (spaces aside): one library may hold several rewards, chosen in
 * config with `symbol`. Everything here is reentrant: score() runs on several threads at once. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rewards/r1_reward_plugin.h"

typedef struct options {
  double score_if_found;
  int strict;
} options;

static const char* skip_space(const char* p) {
  while (*p != '\0' && isspace((unsigned char)*p)) ++p;
  return p;
}

/* Reads the options object, which r1 hands over as compact JSON text: {} or {"score_if_found": N}.
 * A real plug-in would use a JSON library; this one knows its one key and refuses anything else,
 * as every reward should (a misspelt option must stop the run, not be ignored). */
static void* create_with(const char* json, char* error, size_t error_size, int strict) {
  options parsed = {1.0, strict};
  const char* p = skip_space(json);
  if (*p++ != '{') goto malformed;
  p = skip_space(p);
  if (*p == '"') {
    static const char key[] = "\"score_if_found\"";
    char* end = NULL;
    if (strncmp(p, key, sizeof(key) - 1) != 0) {
      snprintf(error, error_size, "unknown option in %s; the only option is score_if_found", json);
      return NULL;
    }
    p = skip_space(p + sizeof(key) - 1);
    if (*p++ != ':') goto malformed;
    parsed.score_if_found = strtod(p, &end);
    if (end == p) goto malformed;
    p = skip_space(end);
  }
  if (*p++ != '}' || *skip_space(p) != '\0') goto malformed;
  {
    options* state = malloc(sizeof(options));
    if (state == NULL) {
      snprintf(error, error_size, "out of memory");
      return NULL;
    }
    *state = parsed;
    return state;
  }
malformed:
  snprintf(error, error_size, "options must be {} or {\"score_if_found\": number}, got %s", json);
  return NULL;
}

static void* create(const char* json, char* error, size_t error_size) {
  return create_with(json, error, error_size, 0);
}

static void* create_strict(const char* json, char* error, size_t error_size) {
  return create_with(json, error, error_size, 1);
}

static void destroy(void* state) { free(state); }

/* The text after the last "</think>" (all of it without one). */
static const char* answer_part(const r1_reward_text* completion) {
  const char* answer = completion->data;
  const char* found = completion->data;
  while ((found = strstr(found, "</think>")) != NULL) {
    found += strlen("</think>");
    answer = found;
  }
  return answer;
}

static int score(void* state, const r1_reward_item* item, r1_reward_verdict* verdict) {
  const options* opts = (const options*)state;
  const char* answer = answer_part(&item->completion);
  const char* expected = item->reference.data;
  int found;
  if (item->reference.size == 0) {
    verdict->outcome = R1_REWARD_ERROR; /* judged "cannot judge": not a failure of the plug-in */
    verdict->set_reason(verdict->host, "the reference answer is empty");
    return 0;
  }
  if (opts->strict) {
    const char* begin = skip_space(answer);
    size_t length = strlen(begin);
    while (length > 0 && isspace((unsigned char)begin[length - 1])) --length;
    found = length == item->reference.size && strncmp(begin, expected, length) == 0;
  } else {
    found = strstr(answer, expected) != NULL;
  }
  verdict->score = found ? opts->score_if_found : 0.0;
  verdict->outcome = found ? R1_REWARD_PASS : R1_REWARD_FAIL;
  verdict->add_component(verdict->host, opts->strict ? "is_answer" : "contains_answer", found ? 1.0 : 0.0);
  if (!found) {
    char reason[160];
    snprintf(reason, sizeof(reason), "the answer does not %s %.100s", opts->strict ? "equal" : "contain",
             expected);
    verdict->set_reason(verdict->host, reason);
  }
  return 0;
}

static const r1_reward_plugin contains_plugin = {
    R1_REWARD_PLUGIN_ABI_VERSION, "the answer after </think> contains the reference", create, score, destroy};

static const r1_reward_plugin strict_plugin = {
    R1_REWARD_PLUGIN_ABI_VERSION, "the answer after </think> is the reference", create_strict, score, destroy};

R1_REWARD_PLUGIN_EXPORT const r1_reward_plugin* r1_reward_plugin_get(void) { return &contains_plugin; }

R1_REWARD_PLUGIN_EXPORT const r1_reward_plugin* r1_example_strict_get(void) { return &strict_plugin; }
