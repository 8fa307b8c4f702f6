# The core layer's sources (cmake/DmvfLayers.cmake builds them).
set(DMVF_LAYER_SRCS_core
  arena.c
  base64.c
  date.c
  enums.c
  error.c
  fileio.c
  hex.c
  pballoc.c
  reqmap.c
  request.c
  text.c)
