// CPU thread settings for LibTorch and the BLAS library behind it.
#pragma once

namespace r1::stages {

// LibTorch intra-op threads = `threads`. OpenBLAS (Debian's fast libblas.so.3 alternative) keeps
// its own thread pool that spins beside LibTorch's OpenMP pool; on few cores they fight, so BLAS
// gets `blas_threads`. Found at run time (dlsym), so any BLAS works.
void configure_cpu_threads(int threads, int blas_threads);

}  // namespace r1::stages
