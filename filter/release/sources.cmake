# The release layer's sources (cmake/DmvfLayers.cmake builds them).
set(DMVF_LAYER_SRCS_release
  filter.c
  filter_stats.c
  framed.c
  stream.c
  verify.c)
