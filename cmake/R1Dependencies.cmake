# Finds what r1 builds against. Every dependency is a Debian package (scripts/setup installs them);
# LibTorch may instead be a LibTorch distribution that ships TorchConfig.cmake (e.g. a CUDA build).

find_package(yaml-cpp REQUIRED)
find_package(nlohmann_json REQUIRED)
find_package(SQLite3 REQUIRED)
find_package(CLI11 REQUIRED)
find_package(Threads REQUIRED)
# PCRE2 (8-bit, UTF + UCP) runs the pre-tokenizer regexes of Hugging Face tokenizer.json files,
# whose Unicode classes (\p{L}, \p{N}) std::regex cannot express.
find_package(PkgConfig REQUIRED)
pkg_check_modules(PCRE2 REQUIRED IMPORTED_TARGET libpcre2-8)
# ICU: the Unicode normalizers (NFC, NFKC, ...) and lower-casing those files may declare.
pkg_check_modules(ICU REQUIRED IMPORTED_TARGET icu-uc)

# --- LibTorch -> interface target r1_torch -------------------------------------------------------
# Debian's libtorch-dev installs a TorchConfig.cmake whose install prefix resolves to "/", so it
# cannot be used; we find its headers and libraries directly. A LibTorch named through
# CMAKE_PREFIX_PATH or Torch_DIR (pip's torch, the CUDA LibTorch zip) is used through its config.
add_library(r1_torch INTERFACE)
if(DEFINED Torch_DIR OR DEFINED ENV{Torch_DIR} OR CMAKE_PREFIX_PATH OR DEFINED ENV{CMAKE_PREFIX_PATH})
  find_package(Torch CONFIG REQUIRED)
  target_link_libraries(r1_torch INTERFACE ${TORCH_LIBRARIES})
  target_include_directories(r1_torch INTERFACE ${TORCH_INCLUDE_DIRS})
  # TORCH_CXX_FLAGS carries the _GLIBCXX_USE_CXX11_ABI choice the library was built with.
  separate_arguments(r1_torch_flags UNIX_COMMAND "${TORCH_CXX_FLAGS}")
  target_compile_options(r1_torch INTERFACE ${r1_torch_flags})
  set(R1_TORCH_SOURCE "TorchConfig.cmake in ${Torch_DIR}")
  # A CUDA LibTorch: code that must hand LibTorch's cached device memory back (bench rollout,
  # before the CUDA runner allocates with cudaMalloc) compiles that call in.
  if(TARGET c10_cuda)
    target_compile_definitions(r1_torch INTERFACE R1_TORCH_CUDA)
  endif()
else()
  find_path(R1_TORCH_API_INCLUDE torch/torch.h PATH_SUFFIXES torch/csrc/api/include)
  find_path(R1_TORCH_INCLUDE torch/csrc/api/include/torch/torch.h)
  find_library(R1_TORCH_LIB torch)
  find_library(R1_TORCH_CPU_LIB torch_cpu)
  find_library(R1_C10_LIB c10)
  if(NOT R1_TORCH_API_INCLUDE OR NOT R1_TORCH_LIB OR NOT R1_TORCH_CPU_LIB OR NOT R1_C10_LIB)
    message(FATAL_ERROR "LibTorch not found: run scripts/setup (Debian's libtorch-dev), "
                        "or pass -DCMAKE_PREFIX_PATH=<libtorch> for a LibTorch with TorchConfig.cmake")
  endif()
  target_include_directories(r1_torch INTERFACE ${R1_TORCH_INCLUDE} ${R1_TORCH_API_INCLUDE})
  target_link_libraries(r1_torch INTERFACE ${R1_TORCH_LIB} ${R1_TORCH_CPU_LIB} ${R1_C10_LIB} Threads::Threads)
  # Debian builds c10 with glog: its logging macros, inlined into our code, call into libglog.
  find_library(R1_GLOG_LIB glog)
  if(R1_GLOG_LIB)
    target_link_libraries(r1_torch INTERFACE ${R1_GLOG_LIB})
  endif()
  set(R1_TORCH_SOURCE "headers and libraries (${R1_TORCH_LIB})")
endif()
message(STATUS "r1: LibTorch from ${R1_TORCH_SOURCE}")

# --- CUDA: compiled only where a toolkit is found ------------------------------------------------
# R1_DISABLE_CUDA=ON skips it. check_language() probes the toolchain in a throw-away sub-project,
# so a missing or broken nvcc leaves CMAKE_CUDA_COMPILER NOTFOUND and the CPU build goes on.
option(R1_DISABLE_CUDA "Do not compile the CUDA sources even where a toolkit is found" OFF)
set(R1_HAVE_CUDA OFF)
if(NOT R1_DISABLE_CUDA)
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    # A100 and H100, chosen before enable_language(): left unset, CMake builds for nvcc's own
    # default (sm_75 on CUDA 13; older recipes name sm_52 and below, which CUDA 13 dropped). Only
    # the architectures this nvcc lists are kept, because enable_language() is fatal on one it
    # refuses (sm_90 needs CUDA 11.8). A -DCMAKE_CUDA_ARCHITECTURES value is used as given.
    if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
      execute_process(COMMAND ${CMAKE_CUDA_COMPILER} --list-gpu-code
                      OUTPUT_VARIABLE r1_nvcc_codes RESULT_VARIABLE r1_nvcc_rc ERROR_QUIET)
      set(r1_cuda_archs "")
      foreach(r1_arch 80 90)
        if(r1_nvcc_rc EQUAL 0 AND "${r1_nvcc_codes}\n" MATCHES "sm_${r1_arch}\n")
          list(APPEND r1_cuda_archs ${r1_arch})
        endif()
      endforeach()
      if(r1_cuda_archs)
        set(CMAKE_CUDA_ARCHITECTURES "${r1_cuda_archs}" CACHE STRING "CUDA architectures to build for")
      endif()
    endif()
    if(NOT "${CMAKE_CUDA_ARCHITECTURES}" STREQUAL "")
      enable_language(CUDA)
      # .cu files are C++17: unset, the CUDA dialect follows CMAKE_CXX_STANDARD (20), for which
      # CMake 3.25 has no nvcc flag and refuses to generate.
      set(CMAKE_CUDA_STANDARD 17)
      set(CMAKE_CUDA_STANDARD_REQUIRED ON)
      set(CMAKE_CUDA_EXTENSIONS OFF)
      # The shared runtime, as CUDA::cudart and a CUDA LibTorch use: one runtime in the process
      # (CMake's default, static, would put cudart_static on the link beside libcudart.so).
      set(CMAKE_CUDA_RUNTIME_LIBRARY Shared)
      find_package(CUDAToolkit)
      if(CUDAToolkit_FOUND)
        set(R1_HAVE_CUDA ON)
      endif()
    else()
      message(WARNING "r1: ${CMAKE_CUDA_COMPILER} builds neither sm_80 nor sm_90; CUDA sources skipped")
    endif()
  endif()
endif()
message(STATUS "r1: CUDA sources ${R1_HAVE_CUDA}")
