# CUDA is optional twice over:
#  - the CUDA runtime (headers and cudart_static, via find_package) turns the
#    GPU module into the real thing; without it gpu/gpu_none.c answers
#    ZR_ENOTSUP and the rest of zring is unchanged;
#  - nvcc (check_language) builds the gpu tests, the GPU benchmark and the
#    PTX check. Architectures are explicit: "native" fails on a machine
#    without a GPU. Sanitizer builds leave nvcc out (it cannot take the
#    sanitizer flags); their CPU-side GPU tests are plain C.
option(ZR_CUDA "Use the CUDA toolkit when one is found" ON)
set(ZR_HAVE_CUDART OFF)
set(ZR_HAVE_NVCC OFF)
if(ZR_CUDA)
  find_package(CUDAToolkit QUIET)
  if(CUDAToolkit_FOUND AND TARGET CUDA::cudart_static)
    set(ZR_HAVE_CUDART ON)
  endif()
  if(ZR_HAVE_CUDART AND NOT ZR_SANITIZE)
    include(CheckLanguage)
    check_language(CUDA)
    if(CMAKE_CUDA_COMPILER)
      if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
        set(CMAKE_CUDA_ARCHITECTURES 80 90)
      endif()
      set(CMAKE_CUDA_RUNTIME_LIBRARY Static)
      set(CMAKE_CUDA_STANDARD 17)
      enable_language(CUDA)
      set(ZR_HAVE_NVCC ON)
    endif()
  endif()
endif()
message(STATUS "zring GPU module: CUDA runtime ${ZR_HAVE_CUDART}, kernels (nvcc) ${ZR_HAVE_NVCC}")
