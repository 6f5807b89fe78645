// Include first in tests that use LibTorch: Debian's c10 pulls in glog, whose CHECK macros
// would silently replace doctest's (aborting instead of reporting). Undefine them, then let
// doctest define its own.
#pragma once

#include <torch/torch.h>

#undef CHECK
#undef CHECK_EQ
#undef CHECK_NE
#undef CHECK_LT
#undef CHECK_LE
#undef CHECK_GT
#undef CHECK_GE
#undef CHECK_NOTNULL

#include <doctest/doctest.h>
