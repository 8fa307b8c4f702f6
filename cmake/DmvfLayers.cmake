# The library's layers, bottom first. Each layer is one OBJECT library whose
# include path holds only what it may see: the public headers (and the
# generated dmvfilter/version.h), the generated schema code, its own folder,
# and the exported headers (every header not named *_int.h) of the layers
# below it. So a file that includes a header of a higher layer, or another
# layer's private *_int.h, does not build ("No such file or directory");
# scripts/check-layers says the same with the file and line, without a
# build.
#
# The command-line tool (filter/cli, the executable dmvfilter) is no layer
# of the library but has a view of its own, "cli": filter/cli itself and the
# exported headers of every layer. It links the internal static library, so
# that the dmvf__ functions of those headers resolve.
#
#   core    filter/core     errors, arena, file I/O, text, dates, hex, varint, enums,
#                           request <-> message mapping, protobuf-c allocators
#   keys    keys            the only code that touches raw key bytes
#   wire    filter/wire     schema tree, plan, rewriter, transforms, counting, reference path
#   policy  filter/policy   parse, compile, decide, explain
#   release filter/release  the per-request filter, streams, signing, verification
#   account filter/account  audit log, report, notices, review
#   serve   filter/serve    `dmvfilter serve`: the Connect service on libmicrohttpd
set(DMVF_LAYERS core keys wire policy release account serve)
set(DMVF_LAYER_DIR_core    filter/core)
set(DMVF_LAYER_DIR_keys    keys)
set(DMVF_LAYER_DIR_wire    filter/wire)
set(DMVF_LAYER_DIR_policy  filter/policy)
set(DMVF_LAYER_DIR_release filter/release)
set(DMVF_LAYER_DIR_account filter/account)
set(DMVF_LAYER_DIR_serve   filter/serve)

set(DMVF_CLI_DIR filter/cli)

foreach(layer ${DMVF_LAYERS})
  include(${CMAKE_SOURCE_DIR}/${DMVF_LAYER_DIR_${layer}}/sources.cmake)
endforeach()
include(${CMAKE_SOURCE_DIR}/${DMVF_CLI_DIR}/sources.cmake)

# The layer views: ${DMVF_VIEW_DIR}/<layer>/ mirrors the source paths a layer
# may include (filter/core/error.h, keys/keys.h, ...) as symbolic links.
set(DMVF_VIEW_DIR ${CMAKE_BINARY_DIR}/layers)

# dmvf_make_view(VIEW OWN_DIR LOWER...): ${DMVF_VIEW_DIR}/VIEW/ links OWN_DIR
# whole and the exported headers of the layers LOWER.
function(dmvf_make_view name own)
  set(view ${DMVF_VIEW_DIR}/${name})
  get_filename_component(parent ${view}/${own} DIRECTORY)
  file(MAKE_DIRECTORY ${parent})
  file(CREATE_LINK ${CMAKE_SOURCE_DIR}/${own} ${view}/${own} SYMBOLIC)
  foreach(lower ${ARGN})
    set(ldir ${DMVF_LAYER_DIR_${lower}})
    file(GLOB hdrs CONFIGURE_DEPENDS RELATIVE ${CMAKE_SOURCE_DIR}/${ldir} ${CMAKE_SOURCE_DIR}/${ldir}/*.h)
    file(MAKE_DIRECTORY ${view}/${ldir})
    foreach(h ${hdrs})
      if(NOT h MATCHES "_int\\.h$")
        file(CREATE_LINK ${CMAKE_SOURCE_DIR}/${ldir}/${h} ${view}/${ldir}/${h} SYMBOLIC)
      endif()
    endforeach()
  endforeach()
endfunction()

# Every layer's view, and the command line's ("cli": all the layers below it).
function(dmvf_make_layer_views)
  file(REMOVE_RECURSE ${DMVF_VIEW_DIR})
  set(below "")
  foreach(layer ${DMVF_LAYERS})
    dmvf_make_view(${layer} ${DMVF_LAYER_DIR_${layer}} ${below})
    list(APPEND below ${layer})
  endforeach()
  dmvf_make_view(cli ${DMVF_CLI_DIR} ${DMVF_LAYERS})
endfunction()

# dmvf_add_layers(PREFIX [OPTIONS opt...] [DEFINITIONS def...] [LIBS lib...])
# adds PREFIX_<layer> OBJECT libraries for every layer, each linked to the
# one below it, and sets PREFIX_OBJECTS in the caller to all their objects.
function(dmvf_add_layers prefix)
  cmake_parse_arguments(A "" "" "OPTIONS;DEFINITIONS;LIBS" ${ARGN})
  set(prev "")
  set(objs "")
  foreach(layer ${DMVF_LAYERS})
    set(srcs "")
    foreach(s ${DMVF_LAYER_SRCS_${layer}})
      list(APPEND srcs ${CMAKE_SOURCE_DIR}/${DMVF_LAYER_DIR_${layer}}/${s})
    endforeach()
    set(t ${prefix}_${layer})
    add_library(${t} OBJECT ${srcs})
    target_compile_options(${t} PRIVATE ${DMVF_WARN} ${A_OPTIONS})
    target_compile_definitions(${t} PRIVATE DMVF_BUILDING _POSIX_C_SOURCE=200809L _DEFAULT_SOURCE ${A_DEFINITIONS})
    target_include_directories(${t} PRIVATE ${CMAKE_SOURCE_DIR}/include ${DMVF_BUILD_INCLUDE_DIR}
      ${DMVF_VIEW_DIR}/${layer} ${DMVF_GEN_DIR})
    target_link_libraries(${t} PUBLIC ${A_LIBS} ${prev})
    add_dependencies(${t} dmvf_schema)
    list(APPEND objs $<TARGET_OBJECTS:${t}>)
    set(prev ${t})
  endforeach()
  set(${prefix}_OBJECTS ${objs} PARENT_SCOPE)
endfunction()
