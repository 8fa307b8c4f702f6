# The serve layer's sources (cmake/DmvfLayers.cmake builds them).
set(DMVF_LAYER_SRCS_serve
  account.c
  decode.c
  http.c
  json_env.c
  listen.c
  metrics.c
  pool.c
  release.c
  reply.c
  serve.c
  snapshot.c)
