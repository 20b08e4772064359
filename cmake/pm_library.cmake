# pm_add_library(NAME DIR DEPS...): a static library from every .cpp under DIR (one level of
# subfolders included), so adding a source file never needs a CMake edit.
function(pm_add_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(${name} PUBLIC ${ARG_DEPS})
endfunction()
