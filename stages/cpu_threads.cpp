// CPU thread settings.
#include "stages/cpu_threads.h"

#include <dlfcn.h>

#include <torch/torch.h>

namespace r1::stages {

void configure_cpu_threads(int threads, int blas_threads) {
  torch::set_num_threads(threads);
  using SetThreads = void (*)(int);
  if (auto set_blas = reinterpret_cast<SetThreads>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads")))
    set_blas(blas_threads);
}

}  // namespace r1::stages
