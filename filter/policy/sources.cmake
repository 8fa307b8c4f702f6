# The policy layer's sources (cmake/DmvfLayers.cmake builds them).
set(DMVF_LAYER_SRCS_policy
  compile.c
  decide.c
  explain.c
  parse.c)
