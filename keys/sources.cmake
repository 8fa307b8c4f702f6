# The keys layer's sources (cmake/DmvfLayers.cmake builds them).
set(DMVF_LAYER_SRCS_keys
  crypto.c
  keyring.c
  review_keys.c
  sign.c)
