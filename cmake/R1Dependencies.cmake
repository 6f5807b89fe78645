# Finds what r1 builds against. Every dependency is a Debian package (scripts/setup installs them);
# LibTorch may instead be a LibTorch distribution that ships TorchConfig.cmake (e.g. a CUDA build).

find_package(yaml-cpp REQUIRED)
find_package(nlohmann_json REQUIRED)
find_package(SQLite3 REQUIRED)
find_package(CLI11 REQUIRED)
find_package(Threads REQUIRED)

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
include(CheckLanguage)
check_language(CUDA)
set(R1_HAVE_CUDA OFF)
if(CMAKE_CUDA_COMPILER AND NOT R1_DISABLE_CUDA)
  enable_language(CUDA)
  find_package(CUDAToolkit)
  if(CUDAToolkit_FOUND)
    set(R1_HAVE_CUDA ON)
  endif()
endif()
message(STATUS "r1: CUDA sources ${R1_HAVE_CUDA}")
