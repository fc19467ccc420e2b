# Writes tarena-run from tarena-run.in: cmake -P with TA_IN, TA_OUT, TA_LIB,
# TA_LIB_REL, TA_VERSION, TA_OPTIONS set (also include()d by the install
# step, with the install prefix known). The result is executable.
foreach(v TA_IN TA_OUT TA_LIB TA_VERSION TA_OPTIONS)
  if(NOT DEFINED ${v})
    message(FATAL_ERROR "configure-tarena-run.cmake: ${v} is not set")
  endif()
endforeach()
set(TARENA_RUN_LIB "${TA_LIB}")
set(TARENA_RUN_LIB_REL "${TA_LIB_REL}")
set(TARENA_VERSION "${TA_VERSION}")
set(TARENA_RUN_OPTIONS "${TA_OPTIONS}")
configure_file("${TA_IN}" "${TA_OUT}" @ONLY)
execute_process(COMMAND chmod 755 "${TA_OUT}" RESULT_VARIABLE ta_rc)
if(NOT ta_rc EQUAL 0)
  message(FATAL_ERROR "configure-tarena-run.cmake: chmod ${TA_OUT} failed")
endif()
