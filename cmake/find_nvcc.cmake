# nvcc where CMake would not look for it by itself (the CUDA toolkit's usual prefix, CUDA_HOME),
# unless the user named a CUDA compiler. Included before the CUDA language is enabled, by the
# top-level build and by the device check's tier-1 project (tests/device).
if(NOT DEFINED CMAKE_CUDA_COMPILER AND NOT DEFINED ENV{CUDACXX})
  find_program(NVCC_EXECUTABLE nvcc HINTS ENV CUDA_HOME PATH_SUFFIXES bin PATHS /usr/local/cuda/bin)
  if(NVCC_EXECUTABLE)
    set(CMAKE_CUDA_COMPILER ${NVCC_EXECUTABLE})
  endif()
endif()
