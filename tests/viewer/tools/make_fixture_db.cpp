// viewer_fixture_db OUT.db: writes the viewer tests' fixture database (fixture_db.h) for the browser
// test, and prints what it holds as one JSON line: {"traces": N, "steps": {stage: steps, ...}}.
#include <filesystem>
#include <string>
#include <iostream>

#include "../fixture_db.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: viewer_fixture_db OUT.db\n";
    return 2;
  }
  try {
    for (const char* suffix : {"", "-wal", "-shm", ".fts", ".fts-wal", ".fts-shm"}) std::filesystem::remove(std::string(argv[1]) + suffix);
    r1::viewer::testing::write_fixture_db(argv[1]);
  } catch (const std::exception& e) {
    std::cerr << "viewer_fixture_db: " << e.what() << "\n";
    return 1;
  }
  std::cout << "{\"traces\": " << r1::viewer::testing::fixture_trace_count() << ", \"steps\": {";
  const char* separator = "";
  for (const auto& stage : r1::viewer::testing::fixture_stages()) {
    std::cout << separator << "\"" << stage.name << "\": " << stage.steps;
    separator = ", ";
  }
  std::cout << "}}" << std::endl;
  return 0;
}
