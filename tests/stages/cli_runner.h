// Runs the real `r1` executable as a user would, capturing its output and exit code.
#pragma once

#include <string>

#include "tests/stages/test_support.h"

inline CommandResult r1(const std::string& args) { return run_command(std::string(R1_BINARY) + " " + args); }
