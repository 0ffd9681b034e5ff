# Checks that the wide kernel objects (sbi/autodiff/kernels_avx*.cpp) export nothing the rest of
# the library could also define: every external symbol must be one of their tables or belong to
# their renamed copy of Eigen. Otherwise the linker may keep an AVX-compiled copy of an inline
# function (say a standard-library template) for the whole program, which then crashes on a CPU
# without AVX. Run by ctest (test "kernel_objects_share_no_symbols"):
#   cmake -DNM=<nm> -DOBJECTS="a.o;b.o" -P check_kernel_symbols.cmake
if(NOT NM OR NOT OBJECTS)
  message(FATAL_ERROR "usage: cmake -DNM=<nm> -DOBJECTS=<objects> -P check_kernel_symbols.cmake")
endif()
set(offending "")
set(checked 0)
foreach(object IN LISTS OBJECTS)
  execute_process(COMMAND ${NM} --defined-only --extern-only ${object}
    OUTPUT_VARIABLE listing RESULT_VARIABLE status)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "${NM} failed on ${object}")
  endif()
  string(REPLACE "\n" ";" lines "${listing}")
  foreach(line IN LISTS lines)
    if(line STREQUAL "")
      continue()
    endif()
    math(EXPR checked "${checked} + 1")
    string(REGEX REPLACE "^.* " "" symbol "${line}")
    # DW.ref.__gxx_personality_v0: a pointer to the C++ exception personality routine, the same
    # data in every object (no code).
    if(symbol MATCHES "sbi_eigen_avx" OR symbol MATCHES "^_ZN3sbi2ad7kernels6detail[0-9]+avx[0-9]+_floatE$"
       OR symbol STREQUAL "DW.ref.__gxx_personality_v0")
      continue()
    endif()
    list(APPEND offending "${object}: ${line}")
  endforeach()
endforeach()
if(offending)
  string(REPLACE ";" "\n" offending "${offending}")
  message(FATAL_ERROR "symbols the rest of the library may also define:\n${offending}")
endif()
message(STATUS "${checked} external symbols checked, all private to the wide kernels")
