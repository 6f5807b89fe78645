/* r1_reward_plugin.h: the C ABI of r1's shared-library reward plug-ins (reward `shared_library`).
 *
 * A plug-in is a shared object that exports one function returning a pointer to a static
 * r1_reward_plugin table. r1 dlopen()s it by the path given in config, looks the function up by
 * name (R1_REWARD_PLUGIN_ENTRY unless the config names another, so one library can hold several
 * rewards), checks abi_version, and calls the table's functions. Only C types cross this
 * boundary: plain structs, pointers, size_t, double, int. Nothing the plug-in allocates is freed by
 * r1 and nothing r1 allocates is freed by the plug-in; variable-length results (components, the
 * reason) go back through callbacks that copy them before returning.
 *
 * Rules for the plug-in:
 *   - score() is called from several threads at once on the same state: it must be thread-safe
 *     (pure, or locking what it shares) and bounded in time; r1's scoring time limit abandons a
 *     call that runs over, but cannot stop its thread.
 *   - Nothing may unwind across the boundary: a C++ plug-in catches every exception inside score()
 *     and reports it by returning nonzero. A crash (SIGSEGV, abort) inside the plug-in takes r1
 *     down with it, because it runs in r1's process; code that may crash belongs in a `command`
 *     reward (a child process, restarted when it dies).
 *   - The library stays loaded until r1 exits (a call abandoned past its limit may still be running
 *     its code), so it need not survive dlclose().
 *
 * The ABI is versioned as a whole: a change to any struct or function below bumps
 * R1_REWARD_PLUGIN_ABI_VERSION, and r1 refuses a plug-in built against another version.
 * examples/shared_library_reward/ is a complete plug-in in C.
 */
#ifndef R1_REWARD_PLUGIN_H
#define R1_REWARD_PLUGIN_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define R1_REWARD_PLUGIN_ABI_VERSION 1
#define R1_REWARD_PLUGIN_ENTRY "r1_reward_plugin_get" /* the default symbol r1 looks up */

/* Marks the entry function as exported, also when the library is built with hidden visibility:
 *   R1_REWARD_PLUGIN_EXPORT const r1_reward_plugin* r1_reward_plugin_get(void) { return &table; } */
#define R1_REWARD_PLUGIN_EXPORT __attribute__((visibility("default")))

/* Outcomes of a judgement (the verdict's outcome field). */
#define R1_REWARD_PASS 0
#define R1_REWARD_FAIL 1
#define R1_REWARD_ERROR 2 /* it ran but could not judge the item: no answer found, bad reference */

/* Text owned by r1 for the duration of one call: `size` bytes of UTF-8, and a NUL after them. */
typedef struct r1_reward_text {
  const char* data;
  size_t size;
} r1_reward_text;

/* One completion to score. */
typedef struct r1_reward_item {
  r1_reward_text prompt;        /* the question as the user asked it (no chat template) */
  r1_reward_text completion;    /* the model's text after the template's assistant prefix */
  r1_reward_text reference;     /* the reference answer, e.g. "42" */
  r1_reward_text metadata_json; /* free-form JSON object: task kind, numbers, target language, ... */
} r1_reward_item;

/* What score() fills in. r1 sets score 0 and outcome R1_REWARD_PASS before the call. */
typedef struct r1_reward_verdict {
  double score;  /* the reward; must be finite */
  int outcome;   /* R1_REWARD_PASS, R1_REWARD_FAIL or R1_REWARD_ERROR */
  /* r1's side of this verdict: pass `host` as the first argument of the two functions below. */
  void* host;
  /* Records a named component (an unweighted part of the score, shown in traces). NUL-terminated
   * name; the last value given for a name counts. Without any, the score is recorded under the
   * reward's entry name. */
  void (*add_component)(void* host, const char* name, double value);
  /* Why: "no answer found", or, when score() returns nonzero, what went wrong. NUL-terminated. */
  void (*set_reason)(void* host, const char* reason);
} r1_reward_verdict;

typedef struct r1_reward_plugin {
  unsigned abi_version;    /* R1_REWARD_PLUGIN_ABI_VERSION, as the plug-in was compiled */
  const char* description; /* one line, for error messages and logs; may be NULL */
  /* Builds the state score() gets, from the reward's `options` in config as a JSON text ("{}"
   * when there are none). To refuse the options, return NULL after writing a NUL-terminated message
   * of at most error_size bytes into `error`; r1 then stops with a config error naming the entry.
   * May be NULL itself: the state is then NULL. */
  void* (*create)(const char* options_json, char* error, size_t error_size);
  /* Scores one item into `verdict`. Returns 0 when it judged (pass, fail, or could not judge), and
   * nonzero when it failed to run at all: the item is then a recorded failure with the reason set
   * through set_reason, under the run's failure policy (score 0, or stop the run). Required. */
  int (*score)(void* state, const r1_reward_item* item, r1_reward_verdict* verdict);
  /* Frees what create() built; called once, after the last score(). May be NULL. */
  void (*destroy)(void* state);
} r1_reward_plugin;

/* The type of the exported entry function: returns the plug-in's table, which must live as long
 * as the library (a static const object), or NULL if the plug-in cannot work here at all. */
typedef const r1_reward_plugin* (*r1_reward_plugin_entry)(void);

#ifdef __cplusplus
}
#endif

#endif /* R1_REWARD_PLUGIN_H */
